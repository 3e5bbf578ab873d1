"""Dataset inputs keep their tags: ``log_input(dataset, tags={...})``.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A JSON object of the input's tags; NULL for the inputs logged before (they had none).
    # ADD COLUMN of a nullable column: plain ALTER TABLE on SQLite and PostgreSQL alike.
    op.add_column("inputs", sa.Column("tags", sa.Text, nullable=True))


def downgrade() -> None:
    raise NotImplementedError("autolog does not downgrade schemas")
