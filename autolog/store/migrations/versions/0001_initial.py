"""The first released schema: experiments, runs, params, tags, metrics, latest metrics, inputs.

Revision ID: 0001
Revises:
"""

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Databases at no revision are created whole by ensure_schema(); nothing to do here.
    pass


def downgrade() -> None:
    raise NotImplementedError("autolog does not downgrade schemas")
