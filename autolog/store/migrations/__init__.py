"""Schema creation and upgrades (Alembic).

A new database gets the current schema in one ``create_all`` and is stamped with the head
revision; an existing database at an older revision is upgraded by Alembic's scripts in
``versions/``. Alembic is imported only when an upgrade is actually needed, so opening an
up-to-date store stays fast.
"""

from __future__ import annotations

import os

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
    if revision is None:
        if sa.inspect(conn).has_table("runs"):
            raise StorageError(
                "This database has a 'runs' table but no autolog schema revision; it was not "
                "created by autolog. Point AUTOLOG_TRACKING_URI at another database."
            )
        _schema.metadata.create_all(conn)
        conn.execute(sa.text("CREATE TABLE IF NOT EXISTS alembic_version "
                             "(version_num VARCHAR(32) NOT NULL PRIMARY KEY)"))
        conn.execute(sa.text("INSERT INTO alembic_version (version_num) VALUES (:v)"),
                     {"v": _schema.SCHEMA_REVISION})
        return
    upgrade(conn)


def upgrade(conn: sa.Connection) -> None:
    from alembic.config import Config
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", HERE)
    script = ScriptDirectory.from_config(config)
    known = {rev.revision for rev in script.walk_revisions()}
    revision = current_revision(conn)
    if revision not in known:
        raise StorageError(
            f"The tracking database is at schema revision {revision!r}, which this autolog does "
            "not know; upgrade autolog to read it."
        )
    from alembic.operations import Operations

    context = MigrationContext.configure(conn)
    with Operations.context(context):
        for rev in reversed(list(script.iterate_revisions(_schema.SCHEMA_REVISION, revision))):
            rev.module.upgrade()
            context.stamp(script, rev.revision)
