"""Schema creation and upgrades (Alembic).

One path for every database: a new one is built by running the revisions in ``versions/`` from
the first to the head, and a database at an older revision runs the ones it lacks. So the
scripts that upgrade users' databases are the scripts every test database is built with.

A new revision is one file in ``versions/`` with ``down_revision`` naming the previous head and
real ``op.`` operations; ``_schema.SCHEMA_REVISION`` and the tables in ``_schema`` follow the
head (a test compares them), and a fixture database at the new revision joins
``tests/store/fixtures/``. Alembic is imported only when something has to run, so opening an
up-to-date store stays fast.
"""

from __future__ import annotations

import os
from typing import Any

import sqlalchemy as sa

from autolog.errors import StorageError
from autolog.store import _schema

HERE = os.path.dirname(os.path.abspath(__file__))


def current_revision(conn: sa.Connection) -> str | None:
    if not sa.inspect(conn).has_table("alembic_version"):
        return None
    return conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()


def ensure_schema(conn: sa.Connection) -> None:
    """Create or upgrade the schema inside the caller's transaction.

    Raises:
        StorageError: the database was written by a newer autolog, or has foreign tables.
    """
    revision = current_revision(conn)
    if revision == _schema.SCHEMA_REVISION:
        return
    if revision is None and sa.inspect(conn).has_table("runs"):
        raise StorageError(
            "This database has a 'runs' table but no autolog schema revision; it was not "
            "created by autolog. Point AUTOLOG_TRACKING_URI at another database."
        )
    upgrade(conn)


def script_directory() -> Any:
    """Alembic's view of ``versions/`` (no ini file: the location is all it needs)."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", HERE)
    return ScriptDirectory.from_config(config)


def upgrade(conn: sa.Connection, target: str | None = None) -> None:
    """Run every revision after the database's own (all of them for a new one) up to ``target``
    (default: the head), stamping each, inside the caller's transaction.

    Raises:
        StorageError: the database is at a revision this autolog does not know.
    """
    from alembic.operations import Operations
    from alembic.runtime.migration import MigrationContext

    script = script_directory()
    known = {rev.revision for rev in script.walk_revisions()}
    revision = current_revision(conn)
    if revision is not None and revision not in known:
        raise StorageError(
            f"The tracking database is at schema revision {revision!r}, which this autolog does "
            "not know; upgrade autolog to read it."
        )
    context = MigrationContext.configure(conn)
    steps = list(script.iterate_revisions(target or script.get_current_head(), revision or "base"))
    with Operations.context(context):
        # iterate_revisions walks from the upper revision down: run them oldest first.
        for rev in reversed(steps):
            rev.module.upgrade()
            context.stamp(script, rev.revision)
