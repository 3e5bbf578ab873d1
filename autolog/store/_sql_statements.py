"""The SQL store's write statements, built once per dialect and reused.

Every autologged run is written by the same handful of statements (its row, its tags, params,
latest metrics, inputs). Building a SQLAlchemy statement and its cache key costs more than
SQLite's own work for a small run (a few hundred microseconds each: column collections,
``excluded`` aliases, coercions), so each is built on first use for a dialect and kept; the
values travel as execution parameters, never inside the statement. Statements are immutable
once built, so one object serves every thread.

:func:`execute` runs these statements on SQLite with their SQL compiled once and handed to the
driver's cursor: SQLAlchemy's per-execution work (result set-up, parameter processing, events)
was most of a run's write transaction, several times SQLite's own work. Any statement it cannot
run that way (a Python-side column default, a type that converts its values) goes through
SQLAlchemy as before, and so does every other database.
"""

from __future__ import annotations

import threading
from operator import itemgetter
from typing import Any, Callable, Mapping, Sequence

import sqlalchemy as sa

from autolog.store import _schema as S
from autolog.store import _sql_engine

_cache: dict[tuple[str, str], Any] = {}
_lock = threading.Lock()
# (id of a statement, its parameter names) -> (the statement, its SQL, a row -> tuple getter),
# or None when it must go through SQLAlchemy. The statement is kept so that its id stays its.
_plans: dict[tuple[int, tuple[str, ...]], tuple[Any, str, Callable[[Any], Any]] | None] = {}


def _cached(conn: sa.Connection, name: str, build: Callable[[Callable[..., Any]], Any]) -> Any:
    key = (conn.dialect.name, name)
    stmt = _cache.get(key)
    if stmt is None:
        with _lock:
            stmt = _cache.get(key)
            if stmt is None:
                stmt = _cache[key] = build(_sql_engine.dialect_insert(conn))
    return stmt


def upsert(conn: sa.Connection, table: sa.Table, keys: tuple[str, ...]) -> Any:
    """``INSERT ... ON CONFLICT (keys) DO UPDATE`` of every other column of ``table``."""

    def build(insert: Callable[..., Any]) -> Any:
        stmt = insert(table)
        others = [c.name for c in table.columns if c.name not in keys]
        return stmt.on_conflict_do_update(index_elements=list(keys),
                                          set_={name: stmt.excluded[name] for name in others})

    return _cached(conn, f"upsert:{table.name}:{','.join(keys)}", build)


def insert_params_missing(conn: sa.Connection) -> Any:
    """Params insert that leaves a key another writer got in first alone."""
    return _cached(conn, "params:do-nothing", lambda insert: insert(S.params).on_conflict_do_nothing(
        index_elements=["run_id", "key"]))


def upsert_latest_metrics(conn: sa.Connection) -> Any:
    """Latest-metric upsert that keeps the row of the highest (step, timestamp)."""

    def build(insert: Callable[..., Any]) -> Any:
        stmt = insert(S.latest_metrics)
        excluded = stmt.excluded
        lm = S.latest_metrics.c
        return stmt.on_conflict_do_update(
            index_elements=[lm.run_id, lm.key],
            set_={"value": excluded.value, "is_nan": excluded.is_nan,
                  "timestamp": excluded.timestamp, "step": excluded.step},
            where=sa.or_(excluded.step > lm.step,
                         sa.and_(excluded.step == lm.step, excluded.timestamp >= lm.timestamp)),
        )

    return _cached(conn, "latest_metrics:upsert", build)


def insert(conn: sa.Connection, table: sa.Table) -> Any:
    """A plain ``INSERT`` into ``table`` (rows given as execution parameters)."""
    return _cached(conn, f"insert:{table.name}", lambda _insert: table.insert())


def delete_input(conn: sa.Connection) -> Any:
    """Delete one input of a run (parameters ``run_id``, ``digest``, ``context``)."""
    c = S.inputs.c
    return _cached(conn, "inputs:delete", lambda _insert: S.inputs.delete().where(sa.and_(
        c.run_id == sa.bindparam("b_run_id"), c.digest == sa.bindparam("b_digest"),
        c.context == sa.bindparam("b_context"))))


def end_run(conn: sa.Connection) -> Any:
    """Set a run's status and end time (parameters ``b_run_id``, ``status``, ``end_time``)."""
    return _cached(conn, "runs:end", lambda _insert: S.runs.update().where(
        S.runs.c.run_id == sa.bindparam("b_run_id")).values(
            status=sa.bindparam("status"), end_time=sa.bindparam("end_time")))


def experiment_for_run(conn: sa.Connection) -> Any:
    """An experiment's row without its tags (parameter ``b_experiment_id``)."""
    e = S.experiments.c
    return _cached(conn, "experiments:for-run", lambda _insert: sa.select(
        e.experiment_id, e.name, e.artifact_location, e.lifecycle_stage, e.creation_time,
        e.last_update_time).where(e.experiment_id == sa.bindparam("b_experiment_id")))


def execute(conn: sa.Connection, stmt: Any,
            rows: Mapping[str, Any] | Sequence[Mapping[str, Any]]) -> None:
    """Run one of this module's statements (no result wanted) with one row or many.

    Raises:
        sqlalchemy.exc.DBAPIError: the database failed (the driver's error, wrapped as
            SQLAlchemy wraps it, for the store's one error boundary).
    """
    batch: Sequence[Mapping[str, Any]] = [rows] if isinstance(rows, Mapping) else rows
    if conn.dialect.name != "sqlite" or not batch or not batch[0]:
        conn.execute(stmt, rows)
        return
    names = tuple(batch[0])
    key = (id(stmt), names)
    if key in _plans:
        plan = _plans[key]
    else:
        plan = _plans[key] = _plan(conn, stmt, names)
    if plan is None:
        conn.execute(stmt, rows)
        return
    _, sql, values = plan
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        if len(batch) > 1:
            cursor.executemany(sql, [values(r) for r in batch])
        else:
            cursor.execute(sql, values(batch[0]))
    except conn.dialect.loaded_dbapi.Error as exc:
        raise sa.exc.DBAPIError.instance(sql, None, exc, conn.dialect.loaded_dbapi.Error,
                                         dialect=conn.dialect) from exc
    finally:
        cursor.close()


def _plan(conn: sa.Connection, stmt: Any,
          names: tuple[str, ...]) -> tuple[Any, str, Callable[[Any], Any]] | None:
    """The driver SQL of ``stmt`` given parameters ``names``, or None if only SQLAlchemy can
    run it faithfully."""
    compiled = stmt.compile(dialect=conn.dialect, column_keys=list(names))
    order = compiled.positiontup
    if order is None or any(n not in names for n in order):
        return None  # a parameter SQLAlchemy fills itself (a Python-side default)
    sql = str(compiled)
    if not order:
        return (stmt, sql, lambda row: ())
    getter = itemgetter(*order)
    plain = getter if len(order) > 1 else (lambda row: (getter(row),))
    # Type conversions SQLAlchemy would apply (a Boolean to 0/1), applied the same way.
    processors = [compiled._bind_processors.get(n) for n in order]
    if not any(processors):
        return (stmt, sql, plain)

    def converted(row: Any) -> tuple[Any, ...]:
        return tuple(v if p is None or v is None else p(v)
                     for v, p in zip(plain(row), processors))

    return (stmt, sql, converted)
