"""Pages of the runs table, filtered and sorted in SQL, whatever the number of runs.

A sort on column C walks two phases: the runs that have a value for C, in C's order, then the
runs without one, newest first. The next-page token carries the phase and the last row's
(value, run_id), so page 1,000 costs what page 1 costs (keyset pagination); an ``offset`` still
serves a jump in the middle of the scrollbar. The total is a query of its own
(:func:`count_runs`), so the first rows never wait for it.

Metrics have a (key, value, run_id) index to walk in order; params and tags only one on their
key (a long value does not fit a PostgreSQL btree entry). So on SQLite a sort by a param or
tag, and a jump, are served from the view's whole order, built once and kept
until the database changes (:mod:`autolog.server.ui.listing`); the same tokens work on both
paths.
"""

from __future__ import annotations

import base64
import binascii
import json
import time
from typing import Any, Sequence

import sqlalchemy as sa

from autolog import search as _search
from autolog.entities import LifecycleStage, RunStatus
from autolog.errors import InvalidInputError
from autolog.server.ui import listing as L
from autolog.server.ui.queries import TABLES
from autolog.store import _schema as S

MAX_PAGE = 500
COUNT_CAP = 10_000  # a filtered count stops here ("10,000+ runs")
SOURCE_TAGS = ("autolog.source.name", "mlflow.source.name")
# Column ids are "<kind>:<key>"; "attributes" columns are the run's own fields.
ATTRIBUTE_COLUMNS = ("run_name", "status", "start_time", "duration", "user_id", "source")
NOT_NULL_ATTRIBUTES = {"status", "start_time", "duration"}
KEY_TABLES = {"params": S.params, "metrics": S.latest_metrics, "tags": S.tags}
_RUN_COLUMNS = ("run_id", "run_name", "status", "start_time", "end_time", "user_id",
                "parent_run_id", "lifecycle_stage")


# -- tokens and columns -------------------------------------------------------------------------
def encode_token(state: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(state, separators=(",", ":")).encode()
                                    ).decode().rstrip("=")


def decode_token(token: str) -> dict[str, Any]:
    """Raises: InvalidInputError: the token was not made by :func:`encode_token`."""
    try:
        state = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        if not isinstance(state, dict) or state.get("ph") not in ("A", "B") \
                or not isinstance(state.get("id"), str) or not isinstance(state.get("o"), int):
            raise ValueError(token)
    except (ValueError, binascii.Error):
        raise InvalidInputError(f"Invalid page token {token!r}.") from None
    return state


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


# -- the query ----------------------------------------------------------------------------------
def run_filter(experiment_id: int, filter_string: str = "", parent: str | None = None,
               grouped: bool = True, deleted: bool = False) -> list[Any]:
    """WHERE clauses on ``runs`` for one experiment's table.

    Raises:
        FilterSyntaxError: the filter does not parse (with its position).
    """
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


def _sorted(kind: str, key: str, now_ms: int) -> tuple[Any, Any, Any, Any]:
    """(FROM clause, value expression, its run id column, "has a value" condition) for sorting
    on kind:key (metrics read their (key, value, run_id) index in order; params and tags sort
    the key's rows)."""
    r = S.runs.c
    if kind == "attributes":
        if key == "duration":
            return S.runs, sa.func.coalesce(r.end_time, now_ms) - r.start_time, r.run_id, None
        if key != "source":
            column = r[key]
            present = None if key in NOT_NULL_ATTRIBUTES else column.is_not(None)
            return S.runs, column, r.run_id, present
        table, key = S.tags, SOURCE_TAGS[0]
    else:
        table = KEY_TABLES[kind]
    alias = table.alias("sort_value")
    source = alias.join(S.runs, sa.and_(alias.c.run_id == r.run_id, alias.c.key == key))
    has = sa.select(alias.c.run_id).where(alias.c.key == key, alias.c.value.is_not(None))
    return source, alias.c.value, alias.c.run_id, r.run_id.in_(has)


def count_runs(conn: sa.Connection, where: Sequence[Any]) -> int:
    """The number of runs matching ``where`` (kept until the database changes, on SQLite)."""
    return L.count(conn, where, lambda: conn.execute(
        sa.select(sa.func.count()).select_from(S.runs).where(*where)).scalar() or 0)[0]


def bounded_count(conn: sa.Connection, where: Sequence[Any], cap: int = COUNT_CAP
                  ) -> dict[str, Any]:
    """``{"total": n, "more": bool}``: the number of runs matching ``where``, counted up to
    ``cap`` (``more``: there are more than ``cap``), exact when the view is already known.

    Counting a filter's matches reads every run it tests; stopping at ``cap`` bounds that work
    where the table shows "10,000+" anyway.
    """
    def counter() -> int:
        upto = sa.select(sa.literal(1)).select_from(S.runs).where(*where).limit(cap + 1)
        return conn.execute(sa.select(sa.func.count()).select_from(upto.subquery())).scalar() or 0

    n, exact = L.count(conn, where, counter, kind=f"count<={cap}")
    return {"total": n if exact else min(n, cap), "more": not exact and n > cap}


def runs_page(conn: sa.Connection, where: Sequence[Any], *, sort: str = "-attributes:start_time",
              columns: Sequence[str] = (), offset: int = 0, limit: int = 100,
              page_token: str | None = None) -> dict[str, Any]:
    """One page of runs matching ``where`` (see :func:`run_filter`), with the chosen columns.

    A sort by a param or tag and a jump to an offset are served from the view's whole order
    (:mod:`~autolog.server.ui.listing`) where the database allows it; pages of a view sorted by
    an attribute or metric, scrolled from the top, read an index in order and stop after
    ``limit`` rows.

    Raises:
        InvalidInputError: a bad column, sort, limit or page token.
    """
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidInputError(f"limit must be between 1 and {MAX_PAGE}.")
    if offset < 0:
        raise InvalidInputError("offset must be >= 0.")
    state = decode_token(page_token) if page_token else None
    # A running run's duration grows: every page of one scroll measures it at the same instant.
    now_ms = int(state.get("n", 0)) if state and state.get("n") else int(time.time() * 1000)
    descending = sort.startswith("-")
    kind, key = parse_column(sort.lstrip("-+"))
    wanted = [parse_column(c) for c in columns]
    if L.usable(conn, kind, key) and (offset or kind in ("params", "tags") or key == "source"):
        return _listing_page(conn, L.listing(conn, where, kind, key, descending), state,
                             offset, limit, wanted, now_ms)
    r = S.runs.c
    source, value, value_id, has_value = _sorted(kind, key, now_ms)
    cols = [r[c] for c in _RUN_COLUMNS]
    phase_a = sa.select(*cols, value.label("sort_value")).select_from(source).where(*where)
    if kind != "attributes" or has_value is not None:
        phase_a = phase_a.where(value.is_not(None))
    # Ties broken by run id in the same direction, so that one index scan gives the order.
    order_a = [value.desc(), value_id.desc()] if descending else [value.asc(), value_id.asc()]
    # Runs without a value come last, newest first; attributes that are never null have none.
    phase_b = None
    if has_value is not None:
        phase_b = (sa.select(*cols, r.start_time.label("sort_value"))
                   .where(*where, sa.not_(has_value)))
    order_b = [r.start_time.desc(), r.run_id.desc()]

    tagged: list[tuple[Any, str]] = []  # (row, the phase it came from)
    position = state["o"] if state else offset
    if state is None or state["ph"] == "A":
        query = phase_a.order_by(*order_a).limit(limit)
        if state is not None:
            query = query.where(_after(value, value_id, state["v"], state["id"], descending))
        elif offset:
            query = query.offset(offset)
        tagged = [(row, "A") for row in conn.execute(query)]
    if len(tagged) < limit and phase_b is not None:
        query = phase_b.order_by(*order_b).limit(limit - len(tagged))
        if state is not None and state["ph"] == "B":
            query = query.where(_after(r.start_time, r.run_id, state["v"], state["id"], True))
        elif state is None and offset and not tagged:
            # Jumped past the runs that have a value: skip the rest of the offset in phase B.
            in_a = conn.execute(sa.select(sa.func.count()).select_from(phase_a.subquery())).scalar()
            query = query.offset(max(0, offset - (in_a or 0)))
        tagged += [(row, "B") for row in conn.execute(query)]
    page = [row for row, _ in tagged]
    next_token = None
    if len(page) == limit:
        last, phase = tagged[-1]
        next_token = encode_token({"ph": phase, "v": last.sort_value, "id": last.run_id,
                                   "o": position + limit, "n": now_ms})
    return {"runs": _rows(conn, page, wanted, now_ms), "offset": position,
            "next_page_token": next_token}


def _listing_page(conn: sa.Connection, view: L.Listing, state: dict[str, Any] | None,
                  offset: int, limit: int, wanted: list[tuple[str, str]], now_ms: int
                  ) -> dict[str, Any]:
    start = view.after(state["ph"], state["v"], state["id"]) if state else offset
    spots = [view.at(i) for i in range(start, min(start + limit, len(view)))]
    r = S.runs.c
    found = {row.run_id: row for row in conn.execute(
        sa.select(*[r[c] for c in _RUN_COLUMNS]).where(r.run_id.in_([s[0] for s in spots])))}
    next_token = None
    if spots and start + limit < len(view):
        run_id, value, phase = spots[-1]
        next_token = encode_token({"ph": phase, "v": value, "id": run_id, "o": start + limit,
                                   "n": now_ms})
    page = [found[s[0]] for s in spots if s[0] in found]
    return {"runs": _rows(conn, page, wanted, now_ms), "offset": start,
            "next_page_token": next_token}


def _after(column: Any, id_column: Any, value: Any, run_id: str, descending: bool) -> Any:
    """Rows strictly after (value, run_id) in the order (column, id_column) both asc or desc.

    Raises:
        InvalidInputError: the token's value is not of the column's type (a token of another
            sort): PostgreSQL would refuse to compare them.
    """
    try:
        python_type = column.type.python_type
    except NotImplementedError:
        python_type = None
    numeric = python_type in (int, float)
    if (python_type is str and not isinstance(value, str)) or (numeric and (
            isinstance(value, bool) or not isinstance(value, (int, float)))) or not isinstance(run_id, str):
        raise InvalidInputError("The page token belongs to another sort; start from the first page.")
    if descending:
        return sa.or_(column < value, sa.and_(column == value, id_column < run_id))
    return sa.or_(column > value, sa.and_(column == value, id_column > run_id))


def runs_by_id(conn: sa.Connection, run_ids: Sequence[str], columns: Sequence[str]
               ) -> dict[str, Any]:
    """Fresh rows for some runs (running runs refreshing themselves)."""
    r = S.runs.c
    rows = conn.execute(sa.select(*[r[c] for c in _RUN_COLUMNS]).where(
        r.run_id.in_(list(run_ids)[:MAX_PAGE]))).all()
    return {"runs": _rows(conn, rows, [parse_column(c) for c in columns], int(time.time() * 1000)),
            "next_page_token": None}


def _rows(conn: sa.Connection, rows: Sequence[Any], wanted: list[tuple[str, str]],
          now_ms: int) -> list[dict[str, Any]]:
    ids = [row.run_id for row in rows]
    cells = _cells(conn, ids, wanted)
    children = _child_counts(conn, ids) if ids else {}
    out = []
    for row in rows:
        values = cells.get(row.run_id, {})
        end = row.end_time if row.end_time is not None else (
            now_ms if row.status == RunStatus.RUNNING else None)
        out.append({
            "run_id": row.run_id, "run_name": row.run_name or "", "status": row.status,
            "start_time": row.start_time, "end_time": row.end_time,
            "duration": end - row.start_time if end is not None else None,
            "user_id": row.user_id or "", "source": values.pop("_source", ""),
            "parent_run_id": row.parent_run_id, "children": children.get(row.run_id, 0),
            "lifecycle_stage": row.lifecycle_stage, "cells": values,
        })
    return out


def _cells(conn: sa.Connection, run_ids: list[str], wanted: list[tuple[str, str]]
           ) -> dict[str, dict[str, Any]]:
    """{run_id: {"kind:key": value}} for the page's runs and the chosen columns (few queries)."""
    out: dict[str, dict[str, Any]] = {rid: {} for rid in run_ids}
    if not run_ids:
        return out
    chosen_tags = {k for kind, k in wanted if kind == "tags"}
    by_kind: dict[str, set[str]] = {"params": set(), "metrics": set(),
                                    "tags": set(SOURCE_TAGS) | chosen_tags}
    for kind, key in wanted:
        if kind != "attributes":
            by_kind[kind].add(key)
    for kind, keys in by_kind.items():
        if not keys:
            continue
        table = KEY_TABLES[kind]
        cols = [table.c.run_id, table.c.key, table.c.value]
        if kind == "metrics":
            cols.append(table.c.is_nan)
        # `key || ''`: look the page's runs up by primary key (run_id, key); a bare key term
        # lets the planner pick the key's index and read every run's value of that key.
        for row in conn.execute(sa.select(*cols).where(
                table.c.run_id.in_(run_ids), table.c.key.concat("").in_(sorted(keys)))):
            if kind == "tags" and row.key in SOURCE_TAGS:
                out[row.run_id].setdefault("_source", row.value)
                if row.key not in chosen_tags:
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
