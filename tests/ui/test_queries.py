"""The UI's SQL without a browser: keyset pages agree with offset pages, sorts put missing values
last, downsampling keeps extremes and updates incrementally, tokens and time limits hold (each on
SQLite and on PostgreSQL), and schema revision 0005 upgrades an old store to the same indexes a new one gets."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest
import sqlalchemy as sa

from autolog.entities import Metric, Param, RunTag
from autolog.errors import FilterSyntaxError, InvalidInputError, StorageError
from autolog.server.ui import queries as Q
from autolog.server.ui import runs_table as RT
from autolog.server.ui import series as SER
from autolog.store.sql import SqlStore

FIXTURES = Path(__file__).resolve().parents[1] / "store" / "fixtures"


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request, tmp_path):
    """An empty SQL store on each backend: the UI's SQL must hold on PostgreSQL as on SQLite."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'ui.db'}"
    else:
        url = request.getfixturevalue("postgres_db")
    s = SqlStore(url, str(tmp_path / "art"))
    yield s
    s.close()


def make_runs(store, n=23):
    exp = store.create_experiment("table")
    ids = []
    for i in range(n):
        run = store.create_run(exp, f"r{i}", start_time=1000 + i)
        rid = run.info.run_id
        params = [Param("lr", str(i % 4))] if i % 3 else []  # every third run has no lr
        metrics = [Metric("acc", float((i * 7) % 10) / 10, 0, 0)] if i % 5 else []
        store.log_batch(rid, metrics=metrics, params=params, tags=[RunTag("team", "ab"[i % 2])])
        ids.append(rid)
    return int(exp), ids


def all_pages(conn, where, sort, limit):
    """Every page by following next tokens."""
    out, token = [], None
    while True:
        page = RT.runs_page(conn, where, sort=sort, limit=limit, page_token=token)
        out += [r["run_id"] for r in page["runs"]]
        token = page["next_page_token"]
        if token is None:
            return out


@pytest.mark.parametrize("sort", ["-attributes:start_time", "attributes:run_name",
                                  "-metrics:acc", "metrics:acc", "params:lr", "-params:lr",
                                  "tags:team", "-attributes:duration", "attributes:source"])
def test_keyset_pages_equal_offset_pages_and_missing_values_come_last(store, sort):
    exp, ids = make_runs(store)
    engine = Q.engine_of(store)
    with engine.connect() as conn:
        where = RT.run_filter(exp)
        whole = [r["run_id"] for r in RT.runs_page(conn, where, sort=sort, limit=100)["runs"]]
        assert sorted(whole) == sorted(ids)
        assert all_pages(conn, where, sort, 4) == whole
        by_offset = []
        for offset in range(0, 23, 5):
            by_offset += [r["run_id"] for r in RT.runs_page(
                conn, where, sort=sort, limit=5, offset=offset)["runs"]]
        assert by_offset == whole
        assert RT.count_runs(conn, where) == 23
    if sort.endswith("acc"):
        with_acc = [i for i, rid in enumerate(ids) if i % 5]
        values = [((i * 7) % 10) / 10 for i in with_acc]
        head = whole[:len(with_acc)]
        got = [((ids.index(r) * 7) % 10) / 10 for r in head]
        assert got == sorted(values, reverse=sort.startswith("-"))
        # the runs without the metric: last, newest first
        assert whole[len(with_acc):] == [ids[i] for i in (20, 15, 10, 5, 0)]



@pytest.mark.parametrize("sort", ["-attributes:start_time", "attributes:run_name", "-metrics:acc",
                                  "params:lr", "-params:lr", "tags:team", "attributes:source"])
def test_kept_views_give_the_order_sql_gives(store, sort):
    """Jumps (and param, tag and source sorts) are served from a listing built in Python: same
    rows, same order as SQL's, and its tokens continue on SQL's path."""
    exp, ids = make_runs(store)
    where = RT.run_filter(exp, "attributes.run_name != 'r4'")
    with Q.engine_of(store).connect() as conn:
        whole = [r["run_id"] for r in RT.runs_page(conn, where, sort=sort, limit=100)["runs"]]
        assert len(whole) == 22 and ids[4] not in whole
        out, token = [], None
        while True:  # a jump (listing), then its token (SQL for attributes and metrics), ...
            page = RT.runs_page(conn, where, sort=sort, limit=4, page_token=token,
                                offset=0 if token else len(out))
            out += [r["run_id"] for r in page["runs"]]
            if not page["runs"]:
                break
            if len(out) % 8 == 4:
                token = page["next_page_token"]
            elif len(out) >= len(whole):
                break
            else:
                token = None
        assert out == whole
        few = RT.run_filter(exp, "attributes.run_name = 'r2' OR attributes.run_name = 'r1'")
        # a view much smaller than the key's rows: its values looked up run by run
        some = RT.runs_page(conn, few, sort=sort, limit=10, offset=1)
        assert len(some["runs"]) == 1 and some["offset"] == 1
        if sort.startswith("-params") or sort.startswith("tags"):
            return
        by_sql = [r["run_id"] for r in RT.runs_page(conn, where, sort=sort, limit=100)["runs"]]
        assert by_sql == whole


def test_kept_views_and_counts_follow_every_write(store, tmp_path):
    """The listing, scope and count kept for a view are dropped when anyone commits: this
    store, or another connection to the file (a training process)."""
    exp, ids = make_runs(store, 10)
    engine = Q.engine_of(store)
    where = RT.run_filter(exp, "params.lr = '1'")

    def view() -> tuple[list[str], int]:
        with engine.connect() as conn:
            page = RT.runs_page(conn, where, sort="attributes:source", limit=100)
            return [r["run_name"] for r in page["runs"]], RT.count_runs(conn, where)

    assert view() == (["r5", "r1"], 2)
    assert view() == (["r5", "r1"], 2)  # kept
    # Another store on the same database: on SQLite, another connection to the file.
    other = SqlStore(engine.url.render_as_string(hide_password=False), str(tmp_path / "art"))
    try:
        run = other.create_run(str(exp), "late", start_time=9999)
        other.log_batch(run.info.run_id, params=[Param("lr", "1")])
        assert view() == (["late", "r5", "r1"], 3)
        other.set_run_lifecycle(ids[5], "deleted")
        assert view() == (["late", "r1"], 2)
    finally:
        other.close()
    store.log_batch(ids[1], tags=[RunTag("team", "z")])  # a write that changes nothing here
    assert view() == (["late", "r1"], 2)
    with engine.connect() as conn:  # a count asked first is kept too, and follows writes
        where_b = RT.run_filter(exp, "tags.team = 'z'")
        assert RT.count_runs(conn, where_b) == 1
    store.log_batch(ids[2], tags=[RunTag("team", "z")])
    with engine.connect() as conn:
        assert RT.count_runs(conn, where_b) == 2
        with pytest.raises(InvalidInputError):  # a token of another sort's values
            RT.runs_page(conn, where, sort="-params:lr", page_token=RT.encode_token(
                {"ph": "A", "v": 3, "id": "x", "o": 1}))


def test_filter_columns_and_grouping(store):
    exp, ids = make_runs(store, 6)
    child = store.create_run(str(exp), "child", start_time=5000, parent_run_id=ids[1])
    engine = Q.engine_of(store)
    with engine.connect() as conn:
        page = RT.runs_page(conn, RT.run_filter(exp), columns=["params:lr", "metrics:acc", "tags:team"])
        rows = {r["run_id"]: r for r in page["runs"]}
        assert child.info.run_id not in rows  # grouped under its parent
        assert rows[ids[1]]["children"] == 1
        assert rows[ids[1]]["cells"] == {"params:lr": "1", "metrics:acc": 0.7, "tags:team": "b"}
        kids = RT.runs_page(conn, RT.run_filter(exp, parent=ids[1]))["runs"]
        assert [r["run_name"] for r in kids] == ["child"]
        found = RT.runs_page(conn, RT.run_filter(exp, "tags.team = 'b' OR (params.lr = '2')"))
        assert sorted(r["run_name"] for r in found["runs"]) == ["r1", "r2", "r3", "r5"]
    with pytest.raises(FilterSyntaxError) as err:
        RT.run_filter(exp, "metrics.acc > 'x'")
    assert err.value.position == 14
    for bad in ("nope:x", "attributes:secret", "params:"):
        with pytest.raises(InvalidInputError):
            RT.parse_column(bad)
    with pytest.raises(InvalidInputError):
        RT.decode_token("not-a-token")


def test_column_keys_of_one_experiment(store):
    exp, _ = make_runs(store, 3)
    other = store.create_experiment("other")
    run = store.create_run(other, "x", start_time=1)
    store.log_batch(run.info.run_id, params=[Param("only_elsewhere", "1")])
    with Q.engine_of(store).connect() as conn:
        keys = Q.column_keys(conn, exp, "params")
        assert keys["keys"] == ["lr"]
        assert Q.column_keys(conn, int(other), "params")["keys"] == ["only_elsewhere"]
        assert Q.column_keys(conn, exp, "tags", q="TEA")["keys"] == ["team"]


def test_downsampling_keeps_extremes_and_updates_incrementally(store):
    exp = store.create_experiment("long")
    rid = store.create_run(exp, "long", start_time=0).info.run_id
    values = [1.0 / (1 + s) for s in range(20_000)]
    values[12_345] = 50.0  # a spike
    values[777] = float("nan")
    store.log_batch(rid, metrics=[Metric("loss", v, s, s) for s, v in enumerate(values)])
    engine = Q.engine_of(store)
    with engine.connect() as conn:
        out = SER.series(conn, rid, "loss", 400, scope="t")
        assert out["sampled"] and out["count"] == 20_000 and len(out["points"]) <= 400
        ys = [p[2] for p in out["points"] if p[2] is not None]
        assert max(ys) == 50.0 and min(ys) == pytest.approx(1 / 20_000)
        steps = [p[0] for p in out["points"]]
        assert steps == sorted(steps)
        # a falling curve is drawn as a line: no bucket goes back up (the spike's aside)
        assert sum(b > a for a, b in zip(ys, ys[1:])) <= 2
    # The run goes on past the summary's end: new buckets read, width doubled.
    store.log_batch(rid, metrics=[Metric("loss", -3.0, 0, s) for s in range(20_000, 45_000)])
    with engine.connect() as conn:
        again = SER.series(conn, rid, "loss", 400, scope="t")
        fresh = SER.series(conn, rid, "loss", 400, scope="other")  # computed from scratch
    assert again["count"] == fresh["count"] == 45_000
    for out in (again, fresh):  # (bucket grids may differ: doubled widths vs a fresh width)
        ys = [p[2] for p in out["points"] if p[2] is not None]
        assert len(out["points"]) <= 400 and min(ys) == -3.0 and max(ys) == 50.0
        assert out["points"][-1][0] == 44_999 and out["points"][0][0] == 0
    with engine.connect() as conn:
        short = SER.series(conn, rid, "nothing", 400)
        assert short["points"] == [] and short["count"] == 0


def test_queries_stop_at_the_time_limit(store):
    engine = Q.engine_of(store)
    slow = ("WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) "
            "SELECT count(*) FROM (SELECT x FROM c LIMIT 100000000) AS t")
    with pytest.raises(StorageError, match="longer than 0.2 s"):
        Q.read(engine, lambda conn: conn.exec_driver_sql(slow).scalar(), timeout_s=0.2)
    assert Q.read(engine, lambda conn: conn.exec_driver_sql("SELECT 1").scalar()) == 1


def test_revision_0005_upgrades_to_the_head_indexes(tmp_path):
    db = tmp_path / "old.db"
    shutil.copy(FIXTURES / "schema_0001.db", db)
    SqlStore(f"sqlite:///{db}", str(tmp_path / "a")).close()
    fresh = tmp_path / "new.db"
    SqlStore(f"sqlite:///{fresh}", str(tmp_path / "b")).close()

    def indexes(path):
        with sqlite3.connect(path) as conn:
            return sorted(conn.execute(
                "SELECT tbl_name, name, sql FROM sqlite_master WHERE type = 'index' "
                "AND name NOT LIKE 'sqlite_autoindex%'").fetchall())

    assert indexes(db) == indexes(fresh)
    assert any(name == "ix_metrics_history" for _, name, _ in indexes(db))
    engine = sa.create_engine(f"sqlite:///{db}")
    with engine.connect() as conn:
        plan = conn.exec_driver_sql(
            "EXPLAIN QUERY PLAN SELECT min(value) FROM metrics WHERE run_id = 'a' AND key = 'b' "
            "AND step >= 0 AND step < 10").all()
    engine.dispose()
    assert "COVERING INDEX ix_metrics_history" in str(plan)


def test_a_small_view_sorted_by_a_param_looks_its_values_up(store):
    exp, _ = make_runs(store, 30)  # 20 runs with lr: 3 runs are looked up, not scanned
    where = RT.run_filter(exp, "attributes.run_name IN ('r1', 'r2', 'r3')")
    with Q.engine_of(store).connect() as conn:
        for sort, names in (("params:lr", ["r1", "r2", "r3"]), ("-params:lr", ["r2", "r1", "r3"]),
                            ("-metrics:acc", ["r1", "r2", "r3"])):
            page = RT.runs_page(conn, where, sort=sort, limit=10, offset=0)
            assert [r["run_name"] for r in page["runs"]] == names, sort
            assert RT.count_runs(conn, where) == 3


def test_filtered_counts_stop_at_the_cap_unless_the_view_is_known(store):
    exp, _ = make_runs(store, 23)
    where = RT.run_filter(exp, "attributes.run_name LIKE 'r%'")
    with Q.engine_of(store).connect() as conn:
        assert RT.bounded_count(conn, where, cap=5) == {"total": 5, "more": True}
        assert RT.bounded_count(conn, where, cap=23) == {"total": 23, "more": False}
        assert RT.bounded_count(conn, where, cap=22) == {"total": 22, "more": True}
        RT.runs_page(conn, where, sort="params:lr", limit=5)  # builds the view (SQLite): exact now
        known = {"total": 23, "more": False} if conn.dialect.name == "sqlite" else {"total": 5, "more": True}
        assert RT.bounded_count(conn, where, cap=5) == known  # PostgreSQL keeps no views
