"""The SQL schema, shared by SQLite and PostgreSQL (SQLAlchemy Core, no ORM)."""

from __future__ import annotations

import sqlalchemy as sa

SCHEMA_REVISION = "0005"

metadata = sa.MetaData()

experiments = sa.Table(
    "experiments", metadata,
    sa.Column("experiment_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(256), nullable=False, unique=True),
    sa.Column("artifact_location", sa.String(1024), nullable=False),
    sa.Column("lifecycle_stage", sa.String(32), nullable=False, server_default="active"),
    sa.Column("creation_time", sa.BigInteger),
    sa.Column("last_update_time", sa.BigInteger),
)

experiment_tags = sa.Table(
    "experiment_tags", metadata,
    sa.Column("experiment_id", sa.Integer, sa.ForeignKey("experiments.experiment_id"), primary_key=True),
    sa.Column("key", sa.String(250), primary_key=True),
    sa.Column("value", sa.String(8000)),
)

runs = sa.Table(
    "runs", metadata,
    sa.Column("run_id", sa.String(32), primary_key=True),
    sa.Column("experiment_id", sa.Integer, sa.ForeignKey("experiments.experiment_id"), nullable=False),
    sa.Column("run_name", sa.String(250)),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("start_time", sa.BigInteger, nullable=False),
    sa.Column("end_time", sa.BigInteger),
    sa.Column("artifact_uri", sa.String(1024)),
    sa.Column("lifecycle_stage", sa.String(32), nullable=False, server_default="active"),
    sa.Column("user_id", sa.String(256)),
    sa.Column("parent_run_id", sa.String(32)),
    # "host:pid" of the process that created the run, so that a run whose process died without
    # ending it can be recognised and marked KILLED instead of staying RUNNING forever.
    sa.Column("owner", sa.String(300)),
    # Milliseconds of the last heartbeat from a remote client (tracking server): a RUNNING run
    # silent for longer than the server's --heartbeat-timeout is marked KILLED. NULL for runs of
    # clients that send no heartbeats (MLflow's), which are never timed out.
    sa.Column("last_heartbeat", sa.BigInteger),
    sa.Index("ix_runs_experiment_start", "experiment_id", "start_time"),
    # The UI's runs table: a top-level page (parent_run_id IS NULL) in start order, and its count.
    sa.Index("ix_runs_experiment_page", "experiment_id", "lifecycle_stage", "parent_run_id",
             "start_time"),
    sa.Index("ix_runs_parent_run_id", "parent_run_id"),
)

params = sa.Table(
    "params", metadata,
    sa.Column("run_id", sa.String(32), sa.ForeignKey("runs.run_id"), primary_key=True),
    sa.Column("key", sa.String(250), primary_key=True),
    sa.Column("value", sa.String(6000), nullable=False),
    # On the key alone: a (key, value) btree entry must fit in 2,704 bytes on PostgreSQL, which
    # a long value does not (revision 0002). A search on a value reads that key's rows.
    sa.Index("ix_params_key", "key"),
)

tags = sa.Table(
    "tags", metadata,
    sa.Column("run_id", sa.String(32), sa.ForeignKey("runs.run_id"), primary_key=True),
    sa.Column("key", sa.String(250), primary_key=True),
    sa.Column("value", sa.String(8000)),
    sa.Index("ix_tags_key", "key"),  # not (key, value): see params
)

# Full history: one row per logged value. NaN is kept as is_nan=True with value NULL, because
# SQLite stores a NaN REAL as NULL and PostgreSQL orders NaN above every number.
metrics = sa.Table(
    "metrics", metadata,
    sa.Column("run_id", sa.String(32), sa.ForeignKey("runs.run_id"), nullable=False),
    sa.Column("key", sa.String(250), nullable=False),
    sa.Column("value", sa.Float(precision=53)),
    sa.Column("is_nan", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("timestamp", sa.BigInteger, nullable=False),
    sa.Column("step", sa.BigInteger, nullable=False),
    # Covering: histories (and the UI's downsampling range scans) are read from the index alone.
    sa.Index("ix_metrics_history", "run_id", "key", "step", "timestamp", "value", "is_nan"),
)

# The value search and tables show: highest step, then newest timestamp.
latest_metrics = sa.Table(
    "latest_metrics", metadata,
    sa.Column("run_id", sa.String(32), sa.ForeignKey("runs.run_id"), primary_key=True),
    sa.Column("key", sa.String(250), primary_key=True),
    sa.Column("value", sa.Float(precision=53)),
    sa.Column("is_nan", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("timestamp", sa.BigInteger, nullable=False),
    sa.Column("step", sa.BigInteger, nullable=False),
    sa.Index("ix_latest_metrics_key_value_run", "key", "value", "run_id"),  # covering; sorted pages
)

inputs = sa.Table(
    "inputs", metadata,
    sa.Column("run_id", sa.String(32), sa.ForeignKey("runs.run_id"), primary_key=True),
    sa.Column("digest", sa.String(64), primary_key=True),
    sa.Column("context", sa.String(32), primary_key=True),
    sa.Column("name", sa.String(500)),
    sa.Column("shape", sa.String(200)),
    sa.Column("columns", sa.Text),
    sa.Column("dtypes", sa.Text),
    sa.Column("source", sa.String(1000)),
    sa.Column("tags", sa.Text),  # a JSON object (revision 0004)
)

# The tracking server's accounts (``autolog server --auth``). Passwords are argon2 hashes.
users = sa.Table(
    "users", metadata,
    sa.Column("username", sa.String(256), primary_key=True),
    sa.Column("password_hash", sa.String(512), nullable=False),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("created_time", sa.BigInteger, nullable=False),
)

# Ids of write requests already applied, so that a client retrying a log-batch whose response it
# lost (a timeout, a dropped connection) does not store its metrics twice.
applied_requests = sa.Table(
    "applied_requests", metadata,
    sa.Column("request_id", sa.String(64), primary_key=True),
    sa.Column("applied_time", sa.BigInteger, nullable=False, index=True),
)
