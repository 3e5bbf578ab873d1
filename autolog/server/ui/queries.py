"""The UI's SQL: pages of runs sorted and filtered in the database, column keys, downsampled
metric histories, experiments with their run counts.

Everything here reads the SQL store's tables directly (SQLAlchemy Core) because the store's
contract returns whole runs, and the UI needs a page of 50 rows out of 100,000 sorted by any
column. Every query runs under a time limit (:func:`read`), the one place where database errors
are translated for the UI.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import time
from types import SimpleNamespace
from typing import Any, Callable, Iterator, Sequence, TypeVar

import sqlalchemy as sa
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from autolog import search as _search
from autolog.entities import LifecycleStage, RunStatus
from autolog.errors import InvalidInputError, NotFoundError, StorageError
from autolog.store import _schema as S

T = TypeVar("T")
QUERY_TIMEOUT_S = 5.0
MAX_PAGE = 500
MAX_POINTS = 5000
SOURCE_TAGS = ("autolog.source.name", "mlflow.source.name")
TABLES = SimpleNamespace(runs=S.runs, params=S.params, tags=S.tags,
                         latest_metrics=S.latest_metrics)
# Column ids are "<kind>:<key>"; "attributes" columns are the run's own fields.
ATTRIBUTE_COLUMNS = ("run_name", "status", "start_time", "duration", "user_id", "source")
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


# -- page tokens ----------------------------------------------------------------------------------
def encode_token(offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"o": offset}).encode()).decode().rstrip("=")


def decode_token(token: str | None) -> int:
    """The offset inside a page token ('' or None: the first page).

    Raises:
        InvalidInputError: the token was not made by :func:`encode_token`.
    """
    if not token:
        return 0
    try:
        data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        offset = int(data["o"])
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise InvalidInputError(f"Invalid page token {token!r}.") from None
    if offset < 0:
        raise InvalidInputError(f"Invalid page token {token!r}.")
    return offset


def parse_column(column: str) -> tuple[str, str]:
    """``"params:lr"`` -> ("params", "lr"); attributes are "attributes:<name>".

    Raises:
        InvalidInputError: an unknown kind or attribute.
    """
    kind, sep, key = column.partition(":")
    if not sep or not key or kind not in ("attributes", "params", "metrics", "tags"):
        raise InvalidInputError(
            f"Invalid column {column!r}: expected attributes:<name>, params:<key>, "
            "metrics:<key> or tags:<key>.")
    if kind == "attributes" and key not in ATTRIBUTE_COLUMNS:
        raise InvalidInputError(
            f"Invalid column {column!r}: attributes are {', '.join(ATTRIBUTE_COLUMNS)}.")
    return kind, key


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


# -- runs table -----------------------------------------------------------------------------------
def _value_column(query: Any, kind: str, key: str, alias_name: str, now_ms: int) -> tuple[Any, Any]:
    """(query with the joins it needs, the SQL expression of column kind:key)."""
    r = S.runs.c
    if kind == "attributes":
        if key == "duration":
            return query, sa.func.coalesce(r.end_time, now_ms) - r.start_time
        if key == "source":
            alias = S.tags.alias(alias_name)
            query = query.outerjoin(alias, sa.and_(alias.c.run_id == r.run_id,
                                                   alias.c.key == SOURCE_TAGS[0]))
            return query, alias.c.value
        return query, r[key]
    alias = _KEY_TABLES[kind].alias(alias_name)
    query = query.outerjoin(alias, sa.and_(alias.c.run_id == r.run_id, alias.c.key == key))
    return query, alias.c.value


def _run_filter(experiment_id: int, filter_string: str, parent: str | None,
                grouped: bool, deleted: bool) -> list[Any]:
    r = S.runs.c
    stage = LifecycleStage.DELETED if deleted else LifecycleStage.ACTIVE
    where = [r.experiment_id == experiment_id, r.lifecycle_stage == stage]
    node = _search.parse_filter(filter_string)
    if node is not None:
        where.append(_search.compile_filter(node, TABLES))
    if parent:
        where.append(r.parent_run_id == parent)
    elif grouped and node is None:
        # Nested runs appear under their parent (fetched with parent=...), not at the top level.
        where.append(r.parent_run_id.is_(None))
    return where


def runs_page(conn: sa.Connection, experiment_id: int, *, filter_string: str = "",
              sort: str = "-attributes:start_time", columns: Sequence[str] = (),
              offset: int = 0, limit: int = 100, parent: str | None = None,
              grouped: bool = True, deleted: bool = False,
              ids: Sequence[str] | None = None) -> dict[str, Any]:
    """One page of an experiment's runs, filtered and sorted in SQL, with the chosen columns.

    Raises:
        FilterSyntaxError: the filter does not parse (with its position).
        InvalidInputError: a bad column, sort or limit.
    """
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidInputError(f"limit must be between 1 and {MAX_PAGE}.")
    now_ms = int(time.time() * 1000)
    r = S.runs.c
    descending = sort.startswith("-")
    sort_kind, sort_key = parse_column(sort.lstrip("-+"))
    wanted = [parse_column(c) for c in columns]
    if ids is not None:
        where = [r.run_id.in_(list(ids)[:MAX_PAGE])]
    else:
        where = _run_filter(experiment_id, filter_string, parent, grouped, deleted)
    query = sa.select(r.run_id, r.run_name, r.status, r.start_time, r.end_time, r.user_id,
                      r.parent_run_id, r.lifecycle_stage).select_from(S.runs)
    query, sort_expr = _value_column(query, sort_kind, sort_key, "sort_value", now_ms)
    order = [sort_expr.is_(None), sort_expr.desc() if descending else sort_expr.asc(),
             r.start_time.desc(), r.run_id]
    rows = conn.execute(query.where(*where).order_by(*order).offset(offset).limit(limit)).all()
    total = None
    if ids is None and offset == 0:
        total = conn.execute(sa.select(sa.func.count()).select_from(S.runs).where(*where)).scalar()
    page_ids = [row.run_id for row in rows]
    cells = _cells(conn, page_ids, wanted)
    children = _child_counts(conn, page_ids) if page_ids else {}
    out_rows = []
    for row in rows:
        values = cells.get(row.run_id, {})
        end = row.end_time if row.end_time is not None else (
            now_ms if row.status == RunStatus.RUNNING else None)
        out_rows.append({
            "run_id": row.run_id, "run_name": row.run_name or "", "status": row.status,
            "start_time": row.start_time, "end_time": row.end_time,
            "duration": end - row.start_time if end is not None else None,
            "user_id": row.user_id or "", "source": values.pop("_source", ""),
            "parent_run_id": row.parent_run_id, "children": children.get(row.run_id, 0),
            "lifecycle_stage": row.lifecycle_stage, "cells": values,
        })
    more = ids is None and len(rows) == limit
    return {"runs": out_rows, "total": total, "offset": offset,
            "next_page_token": encode_token(offset + limit) if more else None}


def _cells(conn: sa.Connection, run_ids: list[str], wanted: list[tuple[str, str]]
           ) -> dict[str, dict[str, Any]]:
    """{run_id: {"kind:key": value}} for the page's runs and the chosen columns (few queries)."""
    out: dict[str, dict[str, Any]] = {rid: {} for rid in run_ids}
    if not run_ids:
        return out
    by_kind: dict[str, list[str]] = {"params": [], "metrics": [], "tags": list(SOURCE_TAGS)}
    for kind, key in wanted:
        if kind != "attributes":
            by_kind[kind].append(key)
    for kind, keys in by_kind.items():
        if not keys:
            continue
        table = _KEY_TABLES[kind]
        cols = [table.c.run_id, table.c.key, table.c.value]
        if kind == "metrics":
            cols.append(table.c.is_nan)
        for row in conn.execute(sa.select(*cols).where(
                table.c.run_id.in_(run_ids), table.c.key.in_(keys))):
            if kind == "tags" and row.key in SOURCE_TAGS:
                out[row.run_id].setdefault("_source", row.value)
                if row.key not in [k for k_kind, k in wanted if k_kind == "tags"]:
                    continue
            value = "NaN" if kind == "metrics" and row.is_nan else row.value
            out[row.run_id][f"{kind}:{row.key}"] = value
    return out


def _child_counts(conn: sa.Connection, run_ids: list[str]) -> dict[str, int]:
    r = S.runs.c
    rows = conn.execute(sa.select(r.parent_run_id, sa.func.count()).where(
        r.parent_run_id.in_(run_ids), r.lifecycle_stage == LifecycleStage.ACTIVE)
        .group_by(r.parent_run_id))
    return {row[0]: row[1] for row in rows}


# -- column picker --------------------------------------------------------------------------------
def column_keys(conn: sa.Connection, experiment_id: int, kind: str, q: str = "",
                limit: int = 200) -> dict[str, Any]:
    """The distinct keys of ``kind`` used by the experiment's runs containing ``q``, sorted.

    Distinct keys come from a loose index scan (a recursive query jumping from key to key on the
    (key, value) index), so the cost grows with the number of keys, not of rows.

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


# -- metric histories -----------------------------------------------------------------------------
def series(conn: sa.Connection, run_id: str, key: str, max_points: int = 1000) -> dict[str, Any]:
    """A metric's history with at most ~``max_points`` points: every point when it has few, else
    per step bucket the point of its minimum and of its maximum, so spikes survive downsampling.

    Points are ``[step, timestamp, value]`` (value None for NaN).
    """
    max_points = max(2, min(max_points, MAX_POINTS))
    m = S.metrics.c
    match = sa.and_(m.run_id == run_id, m.key == key)
    count, lo, hi = conn.execute(sa.select(sa.func.count(), sa.func.min(m.step), sa.func.max(m.step))
                                 .where(match)).one()
    if count <= max_points:
        rows = conn.execute(sa.select(m.step, m.timestamp, m.value, m.is_nan).where(match)
                            .order_by(m.step, m.timestamp)).all()
        points = [[s, t, None if nan else v] for s, t, v, nan in rows]
        return {"run_id": run_id, "key": key, "count": count, "points": points, "sampled": False}
    buckets = max_points // 2
    if hi == lo:  # every value at one step: bucket by time instead
        axis = m.timestamp
        lo, hi = conn.execute(sa.select(sa.func.min(m.timestamp), sa.func.max(m.timestamp))
                              .where(match)).one()
    else:
        axis = m.step
    span = hi - lo + 1
    bucket = ((axis - lo) * buckets // span).label("bucket")
    rows = conn.execute(sa.select(
        sa.func.min(m.step), sa.func.max(m.step), sa.func.min(m.timestamp), sa.func.max(m.timestamp),
        sa.func.min(m.value), sa.func.max(m.value), sa.func.count(m.value))
        .where(match).group_by(bucket).order_by(bucket)).all()
    points: list[list[Any]] = []
    for s_lo, s_hi, t_lo, t_hi, v_lo, v_hi, n in rows:
        if not n:  # only NaNs in this bucket
            points.append([s_lo, t_lo, None])
            continue
        # The bucket is narrower than a pixel: its min and max drawn at its two ends.
        points.append([s_lo, t_lo, v_lo])
        if s_hi != s_lo or t_hi != t_lo:
            points.append([s_hi, t_hi, v_hi])
    return {"run_id": run_id, "key": key, "count": count, "points": points, "sampled": True}


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
