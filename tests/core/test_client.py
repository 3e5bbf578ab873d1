"""Client: explicit-id access, MLflow's MlflowClient names."""

from __future__ import annotations

import time

import pytest

import autolog
from autolog import Client
from autolog.entities import Metric, Param, RunTag, ViewType
from autolog.errors import InvalidInputError, NotFoundError, ParamConflictError
from autolog.tracking import MlflowClient


def test_mlflow_alias():
    assert MlflowClient is Client


def test_experiments_crud(client):
    eid = client.create_experiment("exp", tags={"a": 1})
    assert client.get_experiment(eid).tags == {"a": "1"}
    assert client.get_experiment_by_name("exp").experiment_id == eid
    client.set_experiment_tag(eid, "b", "2")
    assert client.get_experiment(eid).tags["b"] == "2"
    client.delete_experiment(eid)
    assert client.get_experiment(eid).lifecycle_stage == "deleted"
    assert eid not in [e.experiment_id for e in client.search_experiments()]
    assert eid in [e.experiment_id for e in client.search_experiments(view_type=ViewType.ALL)]
    client.restore_experiment(eid)
    assert client.get_experiment(eid).lifecycle_stage == "active"
    with pytest.raises(NotFoundError):
        client.get_experiment("4242")
    with pytest.raises(NotFoundError):
        client.get_experiment("not-a-number")
    with pytest.raises(InvalidInputError):
        client.create_experiment("exp")


def test_runs_and_logging(client):
    eid = client.create_experiment("runs")
    run = client.create_run(eid, tags={"k": "v"}, run_name="explicit")
    rid = run.info.run_id
    assert run.info.status == "RUNNING" and run.info.run_name == "explicit"
    assert autolog.active_run() is None  # Client runs are not made active
    assert client.log_param(rid, "p", 1) == 1
    with pytest.raises(ParamConflictError):
        client.log_param(rid, "p", 2)
    client.log_metric(rid, "m", 0.5, step=3)
    client.log_metric(rid, "m", 0.25, step=4, timestamp=int(time.time() * 1000))
    client.log_batch(rid, metrics=[Metric("b", 1.0, int(time.time() * 1000), 0)],
                     params=[Param("q", "x")], tags=[RunTag("t", "y")])
    with pytest.raises(InvalidInputError):
        client.log_batch(rid, metrics=[Metric("ok", 1.0, 0, 0), Metric("bad", "x", 0, 0)])
    client.set_tag(rid, "t2", "z")
    client.delete_tag(rid, "t2")
    client.set_terminated(rid, "FAILED")
    fetched = client.get_run(rid)
    assert fetched.info.status == "FAILED" and fetched.info.end_time is not None
    assert fetched.data.params == {"p": "1", "q": "x"}
    assert fetched.data.metrics == {"m": 0.25, "b": 1.0}
    assert fetched.data.tags["t"] == "y" and "t2" not in fetched.data.tags
    assert [m.step for m in client.get_metric_history(rid, "m")] == [3, 4]
    assert [r.info.run_id for r in client.search_runs([eid], "params.q = 'x'")] == [rid]
    assert client.search_runs(eid, "metrics.m > 1") == []
    client.delete_run(rid)
    assert client.search_runs([eid]) == []
    assert client.get_run(rid).info.lifecycle_stage == "deleted"
    client.restore_run(rid)
    assert len(client.search_runs([eid])) == 1
    with pytest.raises(NotFoundError):
        client.get_run("0" * 32)


def test_parent_run(client):
    with autolog.start_run() as parent:
        with autolog.start_run(nested=True) as child:
            pass
    assert client.get_parent_run(child.info.run_id).info.run_id == parent.info.run_id
    assert client.get_parent_run(parent.info.run_id) is None


def test_artifacts(client, tmp_path):
    f = tmp_path / "f.txt"
    f.write_text("data")
    run = client.create_run("0")
    client.log_artifact(run.info.run_id, str(f), "dir")
    assert [x.path for x in client.list_artifacts(run.info.run_id)] == ["dir"]
    assert client.list_artifacts(run.info.run_id, "dir")[0].file_size == 4
    path = client.download_artifacts(run.info.run_id, "dir/f.txt", str(tmp_path / "out"))
    with open(path) as fh:
        assert fh.read() == "data"
    with pytest.raises(NotFoundError):
        client.download_artifacts(run.info.run_id, "nope")


def test_client_on_another_location(tmp_path):
    other = Client(str(tmp_path / "elsewhere"))
    eid = other.create_experiment("only-there")
    assert Client().get_experiment_by_name("only-there") is None
    assert other.get_experiment(eid).name == "only-there"
    with pytest.raises(InvalidInputError):
        Client("ftp://nope")
