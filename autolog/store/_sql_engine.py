"""The SQLAlchemy engine and the few dialect-specific details of the SQL store.

SQLite concurrency: WAL journal (readers never block the writer), a busy timeout, and write
transactions opened with ``BEGIN IMMEDIATE`` so that two writers queue on the lock instead of
deadlocking on a read-to-write upgrade (which SQLite answers with an immediate "locked").
"""

from __future__ import annotations

import os
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.exc import SQLAlchemyError


def create_engine(db_url: str, busy_timeout_s: float) -> sa.Engine:
    """An engine for ``db_url``; a write transaction is one begun on a connection with the
    execution option ``autolog_write=True``."""
    if not db_url.startswith("sqlite"):
        return sa.create_engine(db_url, pool_pre_ping=True, future=True)
    path = db_url.split("///", 1)[1] if "///" in db_url else ""
    if path and path != ":memory:":
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    timeout = busy_timeout_s
    engine = sa.create_engine(
        db_url, connect_args={"timeout": timeout, "check_same_thread": False}, future=True
    )

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

    @event.listens_for(engine, "begin")
    def _on_begin(conn: sa.Connection) -> None:
        write = conn.get_execution_options().get("autolog_write", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    return engine


def first_line(exc: SQLAlchemyError) -> str:
    """The database's own message, without SQLAlchemy's statement dump and help link."""
    orig = getattr(exc, "orig", None)
    return str(orig if orig is not None else exc).strip().splitlines()[0]


def dialect_insert(conn: sa.Connection) -> Any:
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects import postgresql

        return postgresql.insert
    from sqlalchemy.dialects import sqlite

    return sqlite.insert
