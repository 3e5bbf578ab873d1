"""Issue 9, item 3: a failing store loses nothing silently, and raises only at the user's own
flush/end_run. The store is a real SQLite file made read-only under the running process."""

from __future__ import annotations

import time

import pytest

import autolog
from autolog import _tracking
from autolog.errors import StorageError
from autolog.store import _backlog
from tests._store_faults import read_only


def _db():
    return _tracking.get_store().inner.db_url.split("///", 1)[1]


def _wait_until_given_up(store):
    for _ in range(400):  # the writer retries on its own; bounded, not timed
        if not store.backlog():
            return
        time.sleep(0.05)
    raise AssertionError("the backlog was never given up")


def test_user_run_failure_raises_at_end_run_and_nothing_is_lost_when_the_store_returns(tmp_path):
    from pathlib import Path

    run = autolog.start_run()
    autolog.log_metric("m", 1.0, step=0)
    autolog.flush()
    store = _tracking.get_store()
    with read_only(Path(_db())):
        autolog.log_metric("m", 2.0, step=1)
        autolog.log_param("p", "kept")
        with pytest.raises(StorageError):
            autolog.end_run()
        assert store.backlog() > 0
    autolog.flush()  # retried at once by an explicit flush
    assert store.backlog() == 0
    got = autolog.get_run(run.info.run_id)
    assert got.info.status == "FINISHED" and got.data.params == {"p": "kept"}
    assert [m.value for m in autolog.Client().get_metric_history(run.info.run_id, "m")] == [1.0, 2.0]


def test_giving_up_reports_how_many_values_were_lost(tmp_path, monkeypatch):
    from pathlib import Path

    monkeypatch.setenv("AUTOLOG_WRITE_RETRY_S", "0.2")
    run = autolog.start_run()
    autolog.flush()
    store = _tracking.get_store()
    assert store.retry_window == 0.2
    with read_only(Path(_db())):
        for i in range(1000):
            autolog.log_metric("m", float(i), step=i)
        with pytest.raises(StorageError):
            autolog.flush()  # the failure, while it is being retried
        _wait_until_given_up(store)
        with pytest.raises(StorageError, match=f"1000 values of run {run.info.run_id} were not stored"):
            autolog.flush()
    autolog.log_metric("after", 1.0)
    autolog.end_run()  # the store is back: nothing else is raised
    assert autolog.get_run(run.info.run_id).data.metrics == {"after": 1.0}


def test_the_backlog_is_bounded_and_what_it_drops_is_counted(tmp_path, monkeypatch):
    from pathlib import Path

    monkeypatch.setattr(_backlog, "MAX_VALUES", 300)
    run = autolog.start_run()
    autolog.flush()
    store = _tracking.get_store()
    with read_only(Path(_db())):
        for i in range(200):
            autolog.log_metric("a", float(i), step=i)
        with pytest.raises(StorageError):
            autolog.flush()
        for i in range(200):
            autolog.log_metric("b", float(i), step=i)
        with pytest.raises(StorageError, match=f"200 values of run {run.info.run_id} were not stored"):
            autolog.flush()  # the oldest 200 made room for the newest
        assert store._backlog.values == 200
    autolog.end_run()
    assert [m.key for m in autolog.Client().get_metric_history(run.info.run_id, "b")] == ["b"] * 200
    assert autolog.Client().get_metric_history(run.info.run_id, "a") == []

