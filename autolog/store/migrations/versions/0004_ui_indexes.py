"""Indexes for the web UI: nested runs by parent, the runs table's default page, and metric
histories read from the index alone (charts downsample a 1,000,000-point history by range scans
that never touch the table).

The history index replaces ``ix_metrics_run_key_step`` (same leading columns, so every query
that used it uses the new one): one index on the metrics table either way, so writes pay for
wider entries, not for a second index. Likewise the (key, value) indexes of params, tags and
latest metrics gain the run id.

Revision ID: 0004
Revises: 0001
"""

from alembic import op

revision = "0004"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_runs_parent_run_id", "runs", ["parent_run_id"])
    op.create_index("ix_runs_experiment_page", "runs",
                    ["experiment_id", "lifecycle_stage", "parent_run_id", "start_time"])
    op.create_index("ix_metrics_history", "metrics",
                    ["run_id", "key", "step", "timestamp", "value", "is_nan"])
    op.drop_index("ix_metrics_run_key_step", table_name="metrics")
    # (key, value) -> (key, value, run_id): the same lookups, now covering, and in the order
    # the runs table sorts by a param, metric or tag (value, then run id), so a sorted page is
    # read straight off the index.
    for table in ("params", "tags", "latest_metrics"):
        op.create_index(f"ix_{table}_key_value_run", table, ["key", "value", "run_id"])
        op.drop_index(f"ix_{table}_key_value", table_name=table)


def downgrade() -> None:
    raise NotImplementedError("autolog does not downgrade schemas")
