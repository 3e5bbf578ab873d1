"""Long param and tag values: the params and tags tables are indexed on the key alone.

Revision 0001 indexed (key, value); PostgreSQL refuses a btree entry over 2,704 bytes, so a
3,840-character tag failed to insert there ("index row size exceeds btree maximum"). MLflow's
limits are 6,000 characters for a param and 8,000 for a tag. An index on a value prefix or hash
would need the searches to repeat that expression; an index on the key keeps every search
plain and still narrows it to the rows of one key.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    inspector = sa.inspect(op.get_bind())
    for table in ("params", "tags"):
        names = {ix["name"] for ix in inspector.get_indexes(table)}
        if f"ix_{table}_key_value" in names:
            op.drop_index(f"ix_{table}_key_value", table_name=table)
        op.create_index(f"ix_{table}_key", table, ["key"])


def downgrade() -> None:
    raise NotImplementedError("autolog does not downgrade schemas")
