"""The UI's SQL: pages of runs sorted and filtered in the database, column keys, downsampled
metric histories, experiments with their run counts.

Everything here reads the SQL store's tables directly (SQLAlchemy Core) because the store's
contract returns whole runs, and the UI needs a page of 50 rows out of 100,000 sorted by any
column. Every query runs under a time limit (:func:`read`), the one place where database errors
are translated for the UI.
"""

from __future__ import annotations

import contextlib
import time
from types import SimpleNamespace
from typing import Any, Callable, Iterator, Sequence, TypeVar

import sqlalchemy as sa
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from autolog.entities import LifecycleStage
from autolog.errors import InvalidInputError, NotFoundError, StorageError
from autolog.store import _schema as S

T = TypeVar("T")
QUERY_TIMEOUT_S = 5.0
TABLES = SimpleNamespace(runs=S.runs, params=S.params, tags=S.tags,
                         latest_metrics=S.latest_metrics)
_KEY_TABLES = {"params": S.params, "metrics": S.latest_metrics, "tags": S.tags}


def engine_of(store: Any) -> sa.Engine:
    """The SQLAlchemy engine under ``store`` (a SqlStore, or a wrapper with ``.inner``).

    Raises:
        InvalidInputError: the store is not backed by SQL (the UI needs a database).
    """
    seen = store
    while not hasattr(seen, "_engine") and hasattr(seen, "inner"):
        seen = seen.inner
    engine = getattr(seen, "_engine", None)
    if engine is None:
        raise InvalidInputError(f"The UI needs a SQL store, not {type(store).__name__}.")
    return engine


@contextlib.contextmanager
def _deadline(conn: sa.Connection, seconds: float) -> Iterator[None]:
    """Abort any statement still running after ``seconds`` (SQLite: a progress handler that
    interrupts; PostgreSQL: statement_timeout for this transaction)."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(f"SET LOCAL statement_timeout = {int(seconds * 1000)}")
        yield
        return
    raw = conn.connection.driver_connection
    stop = time.monotonic() + seconds
    if raw is None:
        yield
        return
    # Called every N virtual-machine instructions; a non-zero answer interrupts the statement.
    raw.set_progress_handler(lambda: int(time.monotonic() > stop), 20000)
    try:
        yield
    finally:
        raw.set_progress_handler(None, 0)


def read(engine: sa.Engine, fn: Callable[[sa.Connection], T],
         timeout_s: float = QUERY_TIMEOUT_S, write: bool = False) -> T:
    """Run ``fn`` in one transaction under a time limit; the UI's database error boundary.

    Raises:
        StorageError: the database failed, or the query ran past ``timeout_s``.
    """
    try:
        with engine.connect() as conn:
            conn.execution_options(autolog_write=write)
            with conn.begin(), _deadline(conn, timeout_s):
                return fn(conn)
    except OperationalError as exc:
        text = str(exc.orig if exc.orig is not None else exc)
        if "interrupt" in text or "statement timeout" in text:
            raise StorageError(f"The query took longer than {timeout_s:g} s and was stopped; "
                               "narrow the filter.") from exc
        raise StorageError(f"The tracking store failed: {text.splitlines()[0]}") from exc
    except SQLAlchemyError as exc:
        raise StorageError(f"The tracking store failed: {str(exc).splitlines()[0]}") from exc


# -- experiments ----------------------------------------------------------------------------------
def experiments(conn: sa.Connection, view: str = "active") -> list[dict[str, Any]]:
    """Experiments with their active run count and last activity, newest first."""
    e, r = S.experiments.c, S.runs.c
    run_count = (sa.select(sa.func.count()).where(
        r.experiment_id == e.experiment_id, r.lifecycle_stage == LifecycleStage.ACTIVE)
        .scalar_subquery())
    last_start = (sa.select(sa.func.max(r.start_time)).where(r.experiment_id == e.experiment_id)
                  .scalar_subquery())
    query = sa.select(e.experiment_id, e.name, e.lifecycle_stage, e.creation_time,
                      e.last_update_time, run_count.label("run_count"),
                      last_start.label("last_start"))
    if view in ("active", "deleted"):
        query = query.where(e.lifecycle_stage == view)
    rows = conn.execute(query.order_by(e.experiment_id)).all()
    out = [{
        "experiment_id": str(row.experiment_id), "name": row.name,
        "lifecycle_stage": row.lifecycle_stage, "creation_time": row.creation_time,
        "run_count": row.run_count,
        "last_activity": max(row.last_update_time or 0, row.last_start or 0) or None,
    } for row in rows]
    out.sort(key=lambda x: -(x["last_activity"] or 0))
    return out


def rename_experiment(conn: sa.Connection, experiment_id: int, name: str) -> None:
    """Raises: InvalidInputError: empty or taken name. NotFoundError: no such experiment."""
    e = S.experiments.c
    if not name.strip():
        raise InvalidInputError("Experiment names must be non-empty.")
    taken = conn.execute(sa.select(e.experiment_id).where(
        e.name == name, e.experiment_id != experiment_id)).first()
    if taken is not None:
        raise InvalidInputError(f"An experiment named {name!r} already exists.")
    done = conn.execute(S.experiments.update().where(e.experiment_id == experiment_id).values(
        name=name, last_update_time=int(time.time() * 1000)))
    if done.rowcount == 0:
        raise NotFoundError(f"No experiment with id {experiment_id}.")


# -- column picker --------------------------------------------------------------------------------
def column_keys(conn: sa.Connection, experiment_id: int, kind: str, q: str = "",
                limit: int = 200) -> dict[str, Any]:
    """The distinct keys of ``kind`` used by the experiment's runs containing ``q``, sorted.

    Distinct keys come from a loose index scan (a recursive query jumping from key to key on the
    key index), so the cost grows with the number of keys, not of rows.

    Raises:
        InvalidInputError: an unknown kind.
    """
    table = _KEY_TABLES.get(kind)
    if table is None:
        raise InvalidInputError(f"Invalid kind {kind!r}: params, metrics or tags.")
    name = table.name
    all_keys = [row[0] for row in conn.exec_driver_sql(
        f"WITH RECURSIVE k(key) AS (SELECT MIN(key) FROM {name} UNION ALL "  # noqa: S608 - fixed names
        f"SELECT (SELECT MIN(key) FROM {name} WHERE key > k.key) FROM k WHERE k.key IS NOT NULL) "
        "SELECT key FROM k WHERE key IS NOT NULL")]
    needle = q.lower()
    matching = [k for k in all_keys if needle in k.lower()]
    r = S.runs.c
    in_experiment = conn.execute(sa.select(sa.func.count()).where(
        r.experiment_id == experiment_id)).scalar()
    everywhere = conn.execute(sa.select(sa.func.count()).select_from(S.runs)).scalar()
    keys: list[str] = []
    for key in matching:
        if len(keys) >= limit:
            break
        if in_experiment != everywhere and conn.execute(
                sa.select(sa.literal(1)).select_from(table.join(S.runs, S.runs.c.run_id == table.c.run_id))
                .where(table.c.key == key, r.experiment_id == experiment_id).limit(1)).first() is None:
            continue
        keys.append(key)
    return {"kind": kind, "keys": keys, "truncated": len(keys) >= limit}


def run_children(conn: sa.Connection, run_id: str) -> list[dict[str, Any]]:
    r = S.runs.c
    rows = conn.execute(sa.select(r.run_id, r.run_name, r.status).where(
        r.parent_run_id == run_id, r.lifecycle_stage == LifecycleStage.ACTIVE)
        .order_by(r.start_time).limit(1000)).all()
    return [{"run_id": x.run_id, "run_name": x.run_name or "", "status": x.status} for x in rows]


def run_brief(conn: sa.Connection, run_id: str | None) -> dict[str, Any] | None:
    if not run_id:
        return None
    r = S.runs.c
    row = conn.execute(sa.select(r.run_id, r.run_name, r.status, r.experiment_id, r.parent_run_id)
                       .where(r.run_id == run_id)).first()
    if row is None:
        return None
    return {"run_id": row.run_id, "run_name": row.run_name or "", "status": row.status,
            "experiment_id": str(row.experiment_id), "parent_run_id": row.parent_run_id}


def parse_experiment_id(experiment_id: str) -> int:
    """Raises: NotFoundError: not an experiment id."""
    try:
        return int(experiment_id)
    except (TypeError, ValueError):
        raise NotFoundError(f"No experiment with id {experiment_id!r}.") from None


def latest_metrics(conn: sa.Connection, run_id: str) -> list[dict[str, Any]]:
    lm = S.latest_metrics.c
    rows = conn.execute(sa.select(lm.key, lm.value, lm.is_nan, lm.step, lm.timestamp)
                        .where(lm.run_id == run_id).order_by(lm.key)).all()
    return [{"key": r.key, "value": "NaN" if r.is_nan else r.value, "step": r.step,
             "timestamp": r.timestamp} for r in rows]


def start_times(conn: sa.Connection, run_ids: Sequence[str]) -> dict[str, int]:
    r = S.runs.c
    return {row.run_id: row.start_time for row in conn.execute(
        sa.select(r.run_id, r.start_time).where(r.run_id.in_(list(run_ids))))}
