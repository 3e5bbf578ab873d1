"""The runs table's whole order, computed once and kept while the database does not change.

Sorting 100,000 runs by a param or tag has no index to read in order (params and tags are
indexed on their key only: a long value does not fit a PostgreSQL btree entry), and SQLite
answers a join of runs with that key's rows by one lookup per run (about half a second). So on
SQLite the order is built here instead: the run ids matching the filter (the *scope*), that
key's values (one scan of the key's index range), a sort in Python, about 100 ms for 100,000
runs. The result, a :class:`Listing`, serves every page, jump and count of that view by slicing.

Everything kept is checked against SQLite's ``PRAGMA data_version``, read on a connection of our
own that never writes: any commit by anyone, this process or another (a training script writes
the file directly), changes it, and the next request recomputes. A value is stored under the
version read *before* it was computed, so a commit racing the computation only costs a
recomputation, never a stale answer. PostgreSQL keeps the plain SQL path (its planner joins by
hash, and its collation would not match Python's order).
"""

from __future__ import annotations

import bisect
import json
import sqlite3
import threading
import weakref
from collections import OrderedDict
from typing import Any, Callable, Sequence, TypeVar

import sqlalchemy as sa

from autolog.errors import InvalidInputError
from autolog.store import _schema as S

T = TypeVar("T")
CACHE_SIZE = 16  # views kept per store (a listing of 100,000 runs is ~10 MB)
KEY_TABLES = {"params": S.params, "metrics": S.latest_metrics, "tags": S.tags}
SORTABLE_ATTRIBUTES = ("run_name", "status", "start_time", "user_id")
# A lookup by primary key costs about LOOKUP_COST rows of a scan of the key's index range: the
# values of a view's runs are looked up one by one when they are that much fewer than the key's.
LOOKUP_COST = 3
FEW = 30_000  # runs of a view whose attribute is looked up one by one rather than filtered again


class Memo:
    """A small LRU of values tagged with the data version they were computed at; one thread
    computes a missing value while the others asking for it wait for its answer."""

    def __init__(self, size: int = CACHE_SIZE) -> None:
        self._data: OrderedDict[Any, tuple[int, Any]] = OrderedDict()
        self._busy: dict[Any, threading.Event] = {}
        self._lock = threading.Lock()
        self._size = size

    def peek(self, key: Any, version: int | None, wait: bool = False) -> Any:
        """The value at ``version``, or None; ``wait``: first let a computation in flight end."""
        if version is None:
            return None
        with self._lock:
            busy = self._busy.get(key)
        if wait and busy is not None:
            busy.wait(30)
        with self._lock:
            hit = self._data.get(key)
            return hit[1] if hit is not None and hit[0] == version else None

    def get(self, key: Any, version: int | None, compute: Callable[[], T]) -> T:
        if version is None:
            return compute()
        while True:
            with self._lock:
                hit = self._data.get(key)
                if hit is not None and hit[0] == version:
                    self._data.move_to_end(key)
                    return hit[1]  # type: ignore[no-any-return]
                busy = self._busy.get(key)
                if busy is None:
                    busy = self._busy[key] = threading.Event()
                    break
            busy.wait(30)  # another thread computes it; then look again
        done = False
        try:
            value = compute()
            done = True
            return value
        finally:
            with self._lock:
                if done:
                    self._data[key] = (version, value)
                    self._data.move_to_end(key)
                    while len(self._data) > self._size:
                        self._data.popitem(last=False)
                del self._busy[key]
            busy.set()


class _State:
    """Per engine: the memo, and the connection that reads SQLite's data version."""

    def __init__(self, engine: sa.Engine) -> None:
        self.memo = Memo()
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        database = engine.url.database if engine.dialect.name == "sqlite" else None
        self._path = database if database and database != ":memory:" and not \
            database.startswith("file:") else None

    def version(self) -> int | None:
        """SQLite's data version on our own connection (None: keep nothing)."""
        if self._path is None:
            return None
        with self._lock:
            try:
                if self._conn is None:
                    self._conn = sqlite3.connect(self._path, check_same_thread=False)
                return int(self._conn.execute("PRAGMA data_version").fetchone()[0])
            except sqlite3.Error:
                return None  # cannot tell: compute every time

    def __del__(self) -> None:
        if self._conn is not None:
            self._conn.close()


_states: weakref.WeakKeyDictionary[sa.Engine, _State] = weakref.WeakKeyDictionary()
_states_lock = threading.Lock()


def state_of(engine: sa.Engine) -> _State:
    with _states_lock:
        state = _states.get(engine)
        if state is None:
            state = _states[engine] = _State(engine)
        return state


def where_key(conn: sa.Connection, where: Sequence[Any]) -> tuple[str, str]:
    """A hashable identity of a WHERE clause: its SQL and its parameters."""
    compiled = sa.and_(*where).compile(dialect=conn.dialect)
    return str(compiled), repr(sorted(compiled.params.items()))


# -- the listing --------------------------------------------------------------------------------
class Listing:
    """A view's order: phase A, the runs with a value in (value, run_id) order, ascending or
    descending; then phase B, the runs without one, newest first. Both kept ascending."""

    def __init__(self, a: list[tuple[Any, str]], b: list[tuple[int, str]], descending: bool) -> None:
        self.a, self.b, self.descending = a, b, descending

    def __len__(self) -> int:
        return len(self.a) + len(self.b)

    def at(self, i: int) -> tuple[str, Any, str]:
        """(run_id, sort value, phase) of the row at display position ``i``."""
        if i < len(self.a):
            value, run_id = self.a[len(self.a) - 1 - i if self.descending else i]
            return run_id, value, "A"
        start, run_id = self.b[len(self) - 1 - i]
        return run_id, start, "B"

    def after(self, phase: str, value: Any, run_id: str) -> int:
        """The display position just after the row (value, run_id) of ``phase``, whether or not
        that row is still there (the token of a run deleted since).

        Raises:
            InvalidInputError: the token's value cannot be compared with this view's values.
        """
        try:
            if phase == "A":
                if self.descending:
                    return len(self.a) - bisect.bisect_left(self.a, (value, run_id))
                return bisect.bisect_right(self.a, (value, run_id))
            return len(self.a) + len(self.b) - bisect.bisect_left(self.b, (value, run_id))
        except TypeError:
            raise InvalidInputError("Invalid page token for this sort.") from None


def usable(conn: sa.Connection, kind: str, key: str) -> bool:
    """Whether a listing can be built for this sort (SQLite; not duration, which moves)."""
    return conn.dialect.name == "sqlite" and (kind != "attributes" or key in SORTABLE_ATTRIBUTES
                                              or key == "source")


def _driver(conn: sa.Connection) -> sqlite3.Connection:
    """The sqlite3 connection under ``conn`` (in its transaction, under its time limit)."""
    raw = conn.connection.driver_connection
    assert isinstance(raw, sqlite3.Connection)  # listings are built on SQLite only
    return raw


def _pairs(conn: sa.Connection, query: Any) -> dict[Any, Any]:
    """{first column: second} of the rows; on the driver's cursor for SQLite, since building
    SQLAlchemy rows costs a third of reading 100,000 of them."""
    if conn.dialect.name != "sqlite":
        return dict(conn.execute(query).all())
    compiled = query.compile(dialect=conn.dialect, compile_kwargs={"render_postcompile": True})
    params = [compiled.params[name] for name in compiled.positiontup or ()]
    return dict(_driver(conn).execute(str(compiled), params).fetchall())


def _scope(conn: sa.Connection, where: Sequence[Any]) -> dict[str, int]:
    r = S.runs.c
    return _pairs(conn, sa.select(r.run_id, r.start_time).where(*where))


def scope(conn: sa.Connection, where: Sequence[Any]) -> dict[str, int]:
    """{run_id: start_time} of the runs matching ``where``."""
    state = state_of(conn.engine)
    return state.memo.get(("scope", where_key(conn, where)), state.version(),
                          lambda: _scope(conn, where))


def _column(conn: sa.Connection, table: sa.Table, key: str) -> dict[str, Any]:
    c = table.c
    return _pairs(conn, sa.select(c.run_id, c.value).where(c.key == key, c.value.is_not(None)))


def _key_rows(conn: sa.Connection, table: sa.Table, key: str) -> int:
    """Rows of ``key`` (read off the key's index alone)."""
    return conn.execute(sa.select(sa.func.count()).select_from(table).where(
        table.c.key == key)).scalar() or 0


def _of_runs(conn: sa.Connection, table: str, column: str, key: str | None,
             runs: dict[str, int]) -> dict[str, Any]:
    """{run_id: value} of some runs, looked up one by one on the primary key: the run ids go
    in as one JSON array (no limit on bound parameters), walked first (CROSS JOIN fixes the
    order; the planner would otherwise read every run's value of the key and probe the list)."""
    sql = (f"SELECT t.run_id, t.{column} FROM json_each(?) AS j "  # fixed names only
           f"CROSS JOIN {table} AS t ON t.run_id = j.value "
           f"WHERE t.{column} IS NOT NULL" + (" AND t.key = ?" if key is not None else ""))
    params: list[Any] = [json.dumps(list(runs))] + ([key] if key is not None else [])
    return dict(_driver(conn).execute(sql, params).fetchall())


def listing(conn: sa.Connection, where: Sequence[Any], kind: str, key: str,
            descending: bool) -> Listing:
    """The whole order of the view (see :func:`usable` for the sorts it serves)."""
    from autolog.server.ui.runs_table import SOURCE_TAGS

    state = state_of(conn.engine)
    version = state.version()
    wkey = where_key(conn, where)

    def build() -> Listing:
        runs = scope(conn, where)
        if kind == "attributes" and key != "source":
            column = getattr(S.runs.c, key)
            if len(runs) <= FEW:
                values = _of_runs(conn, "runs", key, None, runs)
            else:
                values = _pairs(conn, sa.select(S.runs.c.run_id, column).where(
                    *where, column.is_not(None)))
        else:
            table, name = (S.tags, SOURCE_TAGS[0]) if kind == "attributes" else \
                (KEY_TABLES[kind], key)
            cached = ("column", table.name, name)
            values = state.memo.peek(cached, version)
            if values is None and len(runs) * LOOKUP_COST < _key_rows(conn, table, name):
                values = _of_runs(conn, table.name, "value", name, runs)  # a few of many
            elif values is None:
                values = state.memo.get(cached, version, lambda: _column(conn, table, name))
        a = sorted((v, rid) for rid in runs if (v := values.get(rid)) is not None)
        b = sorted((start, rid) for rid, start in runs.items() if values.get(rid) is None)
        return Listing(a, b, descending)

    return state.memo.get(("listing", wkey, kind, key, descending), version, build)


def count(conn: sa.Connection, where: Sequence[Any], counter: Callable[[], int],
          kind: str = "count") -> tuple[int, bool]:
    """(number, True) of the runs matching ``where`` when a page has built the view's scope (or
    is building it: waiting costs less than counting beside it), else (``counter()``, False),
    kept under ``kind``."""
    if conn.dialect.name != "sqlite":
        return counter(), False
    state = state_of(conn.engine)
    version = state.version()
    wkey = where_key(conn, where)
    runs = state.memo.peek(("scope", wkey), version, wait=True)
    if runs is not None:
        return len(runs), True
    return state.memo.get((kind, wkey), version, counter), False
