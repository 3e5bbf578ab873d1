"""One transaction per drain: ``write_group`` stores a run's creation, batches, inputs and end
all or nothing; the batching writer falls back to call-by-call writes when a group fails, so
one bad run loses nothing of the others."""

from __future__ import annotations

import pytest

from autolog.entities import Dataset, Metric, Param, RunTag
from autolog.errors import NotFoundError, StorageError
from autolog.store.base import DEFAULT_EXPERIMENT_ID
from autolog.store.batching import BatchingStore
from autolog.store.sql import SqlStore


@pytest.fixture
def sql(tmp_path):
    store = SqlStore(f"sqlite:///{tmp_path / 'group.db'}", str(tmp_path / "artifacts"))
    yield store
    store.close()


def create(run_id: str) -> dict:
    return dict(experiment_id=DEFAULT_EXPERIMENT_ID, run_name=f"run-{run_id[:4]}", start_time=1000,
                tags=[RunTag("mlflow.runName", f"run-{run_id[:4]}")], user_id="me", run_id=run_id)


def dataset() -> Dataset:
    return Dataset(name="d", digest="abc", context="train", shape=(3, 2), columns=None, dtypes=None,
                   source=None)


def test_a_whole_run_in_one_group(sql):
    run_id = "a" * 32
    sql.write_group([create(run_id)],
                    [(run_id, [Metric("acc", 0.9, 1, 0)], [Param("C", "1.0")], [RunTag("t", "v")])],
                    [(run_id, [dataset()])], [(run_id, "FINISHED", 2000)])
    run = sql.get_run(run_id)
    assert run.info.status == "FINISHED" and run.info.end_time == 2000
    assert run.data.params == {"C": "1.0"} and run.data.metrics == {"acc": 0.9}
    assert run.data.tags["t"] == "v" and run.data.tags["mlflow.runName"] == "run-aaaa"
    assert [d.digest for d in run.inputs] == ["abc"]


def test_a_failing_group_stores_nothing(sql):
    good, ghost = "b" * 32, "c" * 32
    with pytest.raises(NotFoundError):
        sql.write_group([create(good)], [(good, [Metric("acc", 1.0, 1, 0)], [], [])], [],
                        [(ghost, "FINISHED", 5)])
    with pytest.raises(NotFoundError):
        sql.get_run(good)


def test_batching_writer_keeps_the_good_runs_when_a_group_fails(sql):
    store = BatchingStore(sql)
    good = store.start_run_async(DEFAULT_EXPERIMENT_ID, "good", 1000).info.run_id
    store.log_batch(good, metrics=[Metric("acc", 0.5, 1, 0)], params=[Param("p", "1")])
    store.end_run_async(good, "FINISHED", 3000)
    store._other.append(("end", "d" * 32, ("FINISHED", 3000)))  # a run that does not exist
    # The end of a run that does not exist is lost, and said so at the user's flush.
    with pytest.raises(StorageError, match="No run with id") as caught:
        store.flush()
    assert isinstance(caught.value.__cause__, NotFoundError)
    run = store.get_run(good)
    assert run.info.status == "FINISHED" and run.data.metrics == {"acc": 0.5}
    assert run.data.params == {"p": "1"}


def test_latest_metric_of_many_batches_in_one_transaction(sql):
    # The server's group commit hands several requests' batches to one log_many: the latest
    # value of each (run, key) is the highest step, then the newest timestamp, across them all,
    # whatever order the batches and their metrics come in.
    a, b = "e" * 32, "f" * 32
    for run_id in (a, b):
        sql.write_group([create(run_id)], [], [], [])
    sql.log_many([
        (a, [Metric("acc", 0.3, 5, 3), Metric("acc", 0.1, 9, 1)], [], []),
        (b, [Metric("acc", 0.7, 1, 0)], [], []),
        (a, [Metric("acc", 0.4, 6, 3), Metric("loss", float("nan"), 1, 0)], [], []),
        (a, [Metric("acc", 0.2, 99, 2)], [], []),
    ], request_ids=["r1", None, "r2", "r1"])  # the repeated "r1" is skipped
    run_a = sql.get_run(a)
    assert run_a.data.metrics["acc"] == 0.4 and run_a.data.metrics["loss"] != run_a.data.metrics["loss"]
    assert sql.get_run(b).data.metrics == {"acc": 0.7}
    assert [(m.step, m.value) for m in sql.get_metric_history(a, "acc")] == [(1, 0.1), (3, 0.3), (3, 0.4)]
    sql.log_many([(a, [Metric("acc", 0.9, 1, 2)], [], [])])  # older than the stored latest
    assert sql.get_run(a).data.metrics["acc"] == 0.4


def test_a_driver_error_inside_a_group_is_a_storage_error_and_stores_nothing(sql):
    # The group's statements run on SQLite's cursor directly: the driver's own errors must
    # still reach the store's boundary (rolled back, StorageError), as SQLAlchemy's would.
    run_id = "e" * 32
    sql.write_group([create(run_id)], [], [], [])
    other = "f" * 32
    with pytest.raises(StorageError, match="UNIQUE"):
        sql.write_group([create(other), create(run_id)],
                        [(other, [Metric("acc", 0.1, 1, 0)], [Param("p", "1")], [])], [], [])
    with pytest.raises(NotFoundError):
        sql.get_run(other)
    assert sql.get_run(run_id).data.params == {}


def test_nan_and_boolean_columns_survive_the_driver_path(sql):
    run_id = "9" * 32
    sql.write_group([create(run_id)],
                    [(run_id, [Metric("loss", float("nan"), 5, 0), Metric("acc", 0.5, 6, 1)], [], [])],
                    [], [])
    import math

    run = sql.get_run(run_id)
    assert math.isnan(run.data.metrics["loss"]) and run.data.metrics["acc"] == 0.5
    assert [m.step for m in sql.get_metric_history(run_id, "acc")] == [1]
