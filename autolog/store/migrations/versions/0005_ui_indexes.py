"""Indexes for the web UI: nested runs by parent, the runs table's default page, and metric
histories read from the index alone (charts downsample a 1,000,000-point history by range scans
that never touch the table).

The history index replaces ``ix_metrics_run_key_step`` (same leading columns, so every query
that used it uses the new one): one index on the metrics table either way, so writes pay for
wider entries, not for a second index. Likewise the (key, value) index of latest metrics gains
the run id. Params and tags keep their index on the key alone (revision 0002): a long value does
not fit a PostgreSQL btree entry, so a page sorted by a param or tag reads that key's rows.

Revision ID: 0005
Revises: 0004
"""

from alembic import op

revision = "0005"
down_revision = "0004"
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
    # the runs table sorts by a metric (value, then run id), so a sorted page is read straight
    # off the index. Metric values are floats: the entry stays small on every backend.
    op.create_index("ix_latest_metrics_key_value_run", "latest_metrics", ["key", "value", "run_id"])
    op.drop_index("ix_latest_metrics_key_value", table_name="latest_metrics")


def downgrade() -> None:
    raise NotImplementedError("autolog does not downgrade schemas")
