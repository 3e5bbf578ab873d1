"""The SQLAlchemy engine and the few dialect-specific details of the SQL store.

SQLite concurrency: WAL journal (readers never block the writer), a busy timeout, and write
transactions opened with ``BEGIN IMMEDIATE`` so that two writers queue on the lock instead of
deadlocking on a read-to-write upgrade (which SQLite answers with an immediate "locked").

PostgreSQL: psycopg 3 whatever the URL names (``postgresql://`` alone would pick psycopg2), a
pool per process sized for a server worker's threads, and row locks taken in one order (the
store sorts its upserts by key) so that concurrent writers queue instead of deadlocking; a
deadlock or serialization failure that happens anyway is retried like a locked SQLite file.
"""

from __future__ import annotations

import os
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from autolog._tracking import redact

# A server worker runs requests on a thread pool; 5 + 10 connections per process keeps
# 4 workers x 15 below PostgreSQL's default max_connections (100) with room for direct clients.
POOL_SIZE_ENV = "AUTOLOG_SQL_POOL_SIZE"
MAX_OVERFLOW_ENV = "AUTOLOG_SQL_MAX_OVERFLOW"
_RETRY_SQLSTATES = {"40001", "40P01"}  # serialization failure, deadlock detected


def normalise_url(db_url: str) -> str:
    """``postgresql://`` and ``postgres://`` as psycopg 3 URLs; other URLs unchanged."""
    for prefix in ("postgresql://", "postgres://", "postgresql+psycopg2://"):
        if db_url.startswith(prefix):
            return "postgresql+psycopg://" + db_url[len(prefix):]
    return db_url


def create_engine(db_url: str, busy_timeout_s: float) -> sa.Engine:
    """An engine for ``db_url``; a write transaction is one begun on a connection with the
    execution option ``autolog_write=True``.

    Raises:
        ImportError: the database driver is not installed (names the extra to install).
    """
    db_url = normalise_url(db_url)
    if db_url.startswith("postgresql"):
        return _postgres_engine(db_url, busy_timeout_s)
    if not db_url.startswith("sqlite"):
        return sa.create_engine(db_url, pool_pre_ping=True)
    path = db_url.split("///", 1)[1] if "///" in db_url else ""
    if path and path != ":memory:":
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    timeout = busy_timeout_s
    engine = sa.create_engine(db_url, connect_args={"timeout": timeout, "check_same_thread": False})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # We issue BEGIN ourselves (pysqlite's implicit transactions defer the write lock).
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute(f"PRAGMA busy_timeout={int(timeout * 1000)}")
        cur.execute("PRAGMA case_sensitive_like=ON")  # LIKE is case-sensitive, as in MLflow
        cur.close()
        # ILIKE compiles to lower(x) LIKE lower(y); SQLite's own lower() folds ASCII only, so
        # "É" would not match "é" as it does on PostgreSQL.
        dbapi_conn.create_function("lower", 1, _unicode_lower, deterministic=True)

    @event.listens_for(engine, "begin")
    def _on_begin(conn: sa.Connection) -> None:
        write = conn.get_execution_options().get("autolog_write", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    return engine


def map_into_memory(engine: sa.Engine, mib: int) -> None:
    """Let each SQLite connection of ``engine`` read the database file memory-mapped, up to
    ``mib`` MiB, for a long-lived server: a runs search ordered by a metric walks every run of
    the experiment, and through SQLite's 2 MiB page cache each search copies those pages from
    the OS again (about 40% of its time over 100,000 runs). The mapped pages are the OS's file
    cache, shared by all connections, not memory of each. Other databases are left as they are.
    """
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        cur = dbapi_conn.cursor()
        cur.execute(f"PRAGMA mmap_size={int(mib) * 1024 * 1024}")
        cur.close()

    engine.dispose()  # connections pooled before now get the setting when opened again


def _unicode_lower(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


def _postgres_engine(db_url: str, busy_timeout_s: float) -> sa.Engine:
    try:
        import psycopg  # noqa: F401
    except ImportError:
        from autolog.errors import missing_dependency

        raise missing_dependency("psycopg", "postgres") from None
    return sa.create_engine(
        db_url,
        pool_size=int(os.environ.get(POOL_SIZE_ENV, "5")),
        max_overflow=int(os.environ.get(MAX_OVERFLOW_ENV, "10")),
        pool_timeout=busy_timeout_s,
        pool_pre_ping=True,  # a server restarted under a long-lived process: reconnect
        pool_recycle=3600,
        connect_args={"connect_timeout": max(1, int(min(busy_timeout_s, 10))),
                      "application_name": "autolog"},
    )


def is_retryable(exc: SQLAlchemyError) -> bool:
    """True for a conflict between writers that succeeds when tried again: a locked SQLite file,
    a PostgreSQL deadlock or serialization failure, a connection dropped between statements."""
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    orig = getattr(exc, "orig", None)
    if getattr(orig, "sqlstate", None) in _RETRY_SQLSTATES:
        return True
    text = str(orig if orig is not None else exc).lower()
    return "locked" in text or "busy" in text


def first_line(exc: SQLAlchemyError) -> str:
    """The database's own message, without SQLAlchemy's statement dump and help link."""
    orig = getattr(exc, "orig", None)
    lines = str(orig if orig is not None else exc).strip().splitlines()
    return redact(lines[0]) if lines else type(exc).__name__


def dialect_insert(conn: sa.Connection) -> Any:
    """The ``insert`` construct with ``on_conflict_do_*`` for this connection's dialect."""
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects import postgresql

        return postgresql.insert
    from sqlalchemy.dialects import sqlite

    return sqlite.insert


_HISTORY_COLUMNS = "run_id, key, value, is_nan, timestamp, step"


def insert_history(conn: sa.Connection, rows: list[tuple[Any, ...]]) -> None:
    """Append rows ``(run_id, key, value, is_nan, timestamp, step)`` to the metrics table, the
    bulk of all writes, by each driver's fastest path inside ``conn``'s transaction.

    Raises:
        sqlalchemy.exc.DBAPIError: the database failed (a driver error, wrapped so that the
            store's one boundary translates it).
    """
    if conn.dialect.name == "sqlite":
        # The driver's executemany with plain tuples: several times faster than Core's per-row
        # dict processing.
        conn.exec_driver_sql(f"INSERT INTO metrics ({_HISTORY_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)",
                             rows)
        return
    if conn.dialect.name != "postgresql":
        from autolog.store import _schema

        names = _HISTORY_COLUMNS.split(", ")
        conn.execute(_schema.metrics.insert(), [dict(zip(names, row)) for row in rows])
        return
    import psycopg

    statement = f"COPY metrics ({_HISTORY_COLUMNS}) FROM STDIN"
    driver = conn.connection.driver_connection  # the psycopg connection of conn's transaction
    assert driver is not None
    try:
        # COPY: one stream for the whole drain, several times faster than INSERTs.
        with driver.cursor() as cursor, cursor.copy(statement) as copy:
            for row in rows:
                copy.write_row(row)
    except psycopg.Error as exc:
        raise DBAPIError.instance(statement, None, exc, psycopg.Error) from exc
