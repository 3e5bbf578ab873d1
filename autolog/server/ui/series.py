"""Metric histories downsampled for charts: a bounded number of points per series, whatever
the history's length, keeping each bucket's minimum and maximum so that spikes survive.

A long history is summarised once into ``FINE`` step buckets (min/max of value, count, and the
step and time of the bucket's first and last rows), each an index range scan on
(run_id, key, step, ...) that never leaves the index, and the summary is cached per series
(keyed by the series' latest step and time, so that it follows new values). While a run is still logging, the next request re-reads only
the buckets from the last one on (doubling the bucket width, by merging neighbours, when new
steps go past the end), so a chart of a running 1,000,000-step metric refreshes cheaply.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

import sqlalchemy as sa

from autolog.store import _schema as S

FINE = 512           # buckets in a cached summary: at most 2 * FINE points per series
MAX_EXACT = 5000     # a history with at most this many points (and asked for) is sent whole
CACHE_SIZE = 512     # summaries kept (a few KB each)
_cache: OrderedDict[tuple[Any, ...], "_Summary"] = OrderedDict()
_lock = threading.Lock()

# bucket: [step_lo, step_hi, time_lo, time_hi, value_min, value_max, values, rows]
Bucket = list


class _Summary:
    __slots__ = ("lo", "width", "buckets", "last_step", "mark")

    def __init__(self, lo: int, width: int, buckets: list[Bucket | None], last_step: int,
                 mark: tuple[Any, ...]) -> None:
        self.lo, self.width, self.buckets = lo, width, buckets
        self.last_step, self.mark = last_step, mark

    def doubled(self) -> "_Summary":
        merged = [_merge(self.buckets[i], self.buckets[i + 1]) for i in range(0, FINE, 2)]
        return _Summary(self.lo, self.width * 2, merged + [None] * (FINE - len(merged)),
                        self.last_step, self.mark)


def _merge(a: Bucket | None, b: Bucket | None) -> Bucket | None:
    if a is None or b is None:
        return a if b is None else b
    def pick(fn: Any, x: Any, y: Any) -> Any:
        return y if x is None else x if y is None else fn(x, y)
    return [min(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), max(a[3], b[3]),
            pick(min, a[4], b[4]), pick(max, a[5], b[5]), a[6] + b[6], a[7] + b[7]]


def series(conn: sa.Connection, run_id: str, key: str, max_points: int = 1000,
           scope: Any = None) -> dict[str, Any]:
    """A metric's history as at most ~``max_points`` points ``[step, timestamp, value]``
    (value None for NaN); ``scope`` tells apart the caches of different stores."""
    max_points = max(4, min(max_points, MAX_EXACT))
    m, lm = S.metrics.c, S.latest_metrics.c
    match = sa.and_(m.run_id == run_id, m.key == key)
    out: dict[str, Any] = {"run_id": run_id, "key": key}
    latest = conn.execute(sa.select(lm.step, lm.timestamp).where(
        lm.run_id == run_id, lm.key == key)).first()
    if latest is None:
        return {**out, "count": 0, "points": [], "sampled": False}
    # Counting a long history is itself a scan: count only up to the limit.
    few = conn.execute(sa.select(sa.func.count()).select_from(
        sa.select(sa.literal(1)).where(match).limit(max_points + 1).subquery())).scalar() or 0
    if few <= max_points:
        rows = conn.execute(sa.select(m.step, m.timestamp, m.value, m.is_nan).where(match)
                            .order_by(m.step, m.timestamp)).all()
        return {**out, "count": len(rows), "sampled": False,
                "points": [[s, t, None if nan else v] for s, t, v, nan in rows]}
    # Two single-aggregate queries: each is one index seek (min and max together would scan).
    lo = int(conn.execute(sa.select(sa.func.min(m.step)).where(match)).scalar() or 0)
    hi = int(conn.execute(sa.select(sa.func.max(m.step)).where(match)).scalar() or 0)
    if hi == lo:
        buckets = _by_time(conn, match, max_points // 2)
    else:
        summary = _summary(conn, match, (scope, run_id, key), lo, hi,
                           (latest.step, latest.timestamp))
        buckets = _coarsen(summary.buckets, max_points // 2)
    return {**out, "count": sum(b[7] for b in buckets), "sampled": True,
            "points": _points(buckets)}


def _summary(conn: sa.Connection, match: Any, cache_key: tuple[Any, ...], lo: int, hi: int,
             mark: tuple[Any, ...]) -> _Summary:
    with _lock:
        cached = _cache.get(cache_key)
        if cached is not None:
            _cache.move_to_end(cache_key)
    if cached is not None and cached.lo == lo and cached.mark == mark and cached.last_step == hi:
        return cached
    if cached is None or cached.lo != lo or hi < cached.last_step:
        summary = _Summary(lo, -(-(hi - lo + 1) // FINE), [None] * FINE, lo, mark)
        first = 0
    else:  # a copy: another thread may be reading the cached one
        summary = _Summary(cached.lo, cached.width, list(cached.buckets), cached.last_step, mark)
        while hi >= summary.lo + summary.width * FINE:
            summary = summary.doubled()
        first = (summary.last_step - summary.lo) // summary.width  # may have been partial
    m = S.metrics.c
    in_bucket = sa.and_(match, m.step >= sa.bindparam("b_lo"), m.step < sa.bindparam("b_hi"))
    # Per bucket, one scan reading the value alone (each more aggregate costs as much again),
    # then two index seeks for the first and last rows' step and time.
    values = _Statement(conn, sa.select(sa.func.min(m.value), sa.func.max(m.value),
                                        sa.func.count()).where(in_bucket))
    first_row = _Statement(conn, sa.select(m.step, m.timestamp).where(in_bucket)
                           .order_by(m.step, m.timestamp).limit(1))
    last_row = _Statement(conn, sa.select(m.step, m.timestamp).where(in_bucket)
                          .order_by(m.step.desc(), m.timestamp.desc()).limit(1))
    for index in range(first, FINE):
        start = summary.lo + index * summary.width
        if start > hi:
            break
        bounds = {"b_lo": start, "b_hi": start + summary.width}
        v_min, v_max, rows = values.one(bounds)
        if not rows:
            summary.buckets[index] = None
            continue
        s_lo, t_lo = first_row.one(bounds)
        s_hi, t_hi = last_row.one(bounds)
        # "values" only tells an all-NaN bucket (min is NULL) from one with numbers.
        summary.buckets[index] = [s_lo, s_hi, t_lo, t_hi, v_min, v_max,
                                  rows if v_min is not None else 0, rows]
    summary.last_step = hi
    with _lock:
        _cache[cache_key] = summary
        _cache.move_to_end(cache_key)
        while len(_cache) > CACHE_SIZE:
            _cache.popitem(last=False)
    return summary


class _Statement:
    """A statement compiled once and run many times with new bounds; on SQLite straight on the
    driver's cursor (the SQLAlchemy layer adds ~0.2 ms a call, a tenth of a second a summary)."""

    def __init__(self, conn: sa.Connection, query: Any) -> None:
        self.conn, self.query = conn, query
        compiled = query.compile(dialect=conn.dialect)
        self.sql, self.params = str(compiled), dict(compiled.params)
        self.order = list(compiled.positiontup or ())
        raw = conn.connection.driver_connection if conn.dialect.name == "sqlite" else None
        self.cursor = raw.cursor() if raw is not None and self.order else None

    def one(self, bounds: dict[str, Any]) -> Any:
        params = {**self.params, **bounds}
        if self.cursor is not None:
            return self.cursor.execute(self.sql, [params[n] for n in self.order]).fetchone()
        return self.conn.execute(self.query, params).one()


def _coarsen(buckets: list[Bucket | None], target: int) -> list[Bucket]:
    """Merge FINE buckets down to at most ``target`` (non-empty ones only)."""
    out: list[Bucket | None] = [None] * min(target, FINE)
    for index, bucket in enumerate(buckets):
        if bucket is not None:
            j = index * len(out) // FINE
            out[j] = _merge(out[j], bucket)
    return [b for b in out if b is not None]


def _by_time(conn: sa.Connection, match: Any, target: int) -> list[Bucket]:
    """Every value at one step: buckets of time instead (a GROUP BY; rare, not cached)."""
    m = S.metrics.c
    t_lo, t_hi = conn.execute(sa.select(sa.func.min(m.timestamp), sa.func.max(m.timestamp))
                              .where(match)).one()
    bucket = ((m.timestamp - t_lo) * target // (t_hi - t_lo + 1)).label("bucket")
    rows = conn.execute(sa.select(
        sa.func.min(m.step), sa.func.max(m.step), sa.func.min(m.timestamp),
        sa.func.max(m.timestamp), sa.func.min(m.value), sa.func.max(m.value),
        sa.func.count(m.value), sa.func.count()).where(match).group_by(bucket).order_by(bucket))
    return [list(row) for row in rows]


def _points(buckets: list[Bucket]) -> list[list[Any]]:
    """Two points per bucket, its min and max, in the order the series runs through them: a
    falling series gives max then min, so a smooth curve stays a line, not a saw."""
    points: list[list[Any]] = []
    mids = [None if b[6] == 0 else (b[4] + b[5]) / 2 for b in buckets]
    for i, b in enumerate(buckets):
        s_lo, s_hi, t_lo, t_hi, v_min, v_max, values, _rows = b
        if not values:  # only NaNs here
            points.append([s_lo, t_lo, None])
            continue
        if s_lo == s_hi and t_lo == t_hi:
            points.append([s_lo, t_lo, v_min])
            continue
        after = next((x for x in mids[i + 1:] if x is not None), None)
        before = next((x for x in reversed(mids[:i]) if x is not None), None)
        mid = mids[i]
        falling = (after < mid) if after is not None else (before is not None and before > mid)
        first, second = (v_max, v_min) if falling else (v_min, v_max)
        points.append([s_lo, t_lo, first])
        points.append([s_hi, t_hi, second])
    return points
