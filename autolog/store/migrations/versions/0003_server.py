"""The tracking server: users for ``--auth``, run heartbeats, applied request ids.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # batch_alter_table: SQLite cannot ALTER a table in place beyond ADD COLUMN; the batch form
    # works on both SQLite and PostgreSQL.
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("last_heartbeat", sa.BigInteger, nullable=True))
    op.create_table(
        "users",
        sa.Column("username", sa.String(256), primary_key=True),
        sa.Column("password_hash", sa.String(512), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("created_time", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "applied_requests",
        sa.Column("request_id", sa.String(64), primary_key=True),
        sa.Column("applied_time", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_applied_requests_applied_time", "applied_requests", ["applied_time"])


def downgrade() -> None:
    raise NotImplementedError("autolog does not downgrade schemas")
