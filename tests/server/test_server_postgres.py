"""The tutorial's team setup end to end: ``autolog server --backend-store-uri postgresql://…
--default-artifact-root s3://…`` as a real subprocess (a throwaway PostgreSQL cluster, moto's S3
server), serving the remote-tracking example and an autologged scikit-learn search whose models
load back through it, the web UI's JSON over PostgreSQL, many writers through 4 workers, and a
missing bucket."""

from __future__ import annotations

import json
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

import autolog
from autolog.errors import StorageError
from tests.conftest import require
from tests.examples.test_examples import run_example
from tests.server.conftest import ServerProcess
from tests.store import _parallel_writer as writer


@pytest.fixture
def pg_uri(postgres_db):
    """The fresh database as a user types it: plain ``postgresql://`` (psycopg is implied)."""
    return postgres_db.replace("postgresql+psycopg://", "postgresql://", 1)


def _server(tmp_path, store: str, artifact_root: str, *args: str):
    folder = tmp_path / "server"
    folder.mkdir()
    return ServerProcess(folder, *args, store=store, artifact_root=artifact_root).start()


@pytest.fixture
def team_server(tmp_path, pg_uri, s3_bucket):
    server = _server(tmp_path, pg_uri, f"s3://{s3_bucket}/artifacts")
    yield server
    server.stop()


def _get(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=30) as response:
        return json.loads(response.read())


def _s3_keys(bucket: str) -> list[str]:
    import boto3

    listed = boto3.session.Session().client("s3").list_objects_v2(Bucket=bucket)
    return [o["Key"] for o in listed.get("Contents", [])]


def test_tutorial_examples_and_the_ui_on_postgres_and_s3(tracking_dir, team_server, s3_bucket):
    require("sklearn")
    url = team_server.url
    assert f"Logged to {url}" in run_example("remote_tracking.py", tracking_dir, url)
    run_example("sklearn_autolog_gridsearch.py", tracking_dir, url)

    autolog.set_tracking_uri(url)
    (remote,) = autolog.search_runs(
        [autolog.get_experiment_by_name("remote_experiment").experiment_id], output_format="list")
    assert remote.info.status == "FINISHED" and remote.data.metrics == {"test_metric": 0.95}
    assert dict(remote.data.params) == {"remote": "True"}
    runs = autolog.search_runs(["0"], output_format="list")
    assert len(runs) == 1 + 4  # the search and its candidates
    parent = next(r for r in runs if "autolog.parentRunId" not in r.data.tags)
    rid = parent.info.run_id
    assert parent.data.tags["estimator_name"] == "GridSearchCV"
    assert {"cv_results.csv", "best_estimator", "model"} <= \
        {f.path for f in autolog.Client().list_artifacts(rid)}
    # The models were stored in S3 by the server and load back through its proxy.
    keys = _s3_keys(s3_bucket)
    assert any(k.endswith(f"{rid}/artifacts/cv_results.csv") for k in keys), keys
    assert any(f"{rid}/artifacts/best_estimator/" in k for k in keys), keys
    best = autolog.sklearn.load_model(f"runs:/{rid}/best_estimator")
    search = autolog.sklearn.load_model(f"runs:/{rid}/model")
    assert type(best).__name__ == "GradientBoostingClassifier"
    assert type(search).__name__ == "GridSearchCV"
    from sklearn.datasets import load_breast_cancer

    X, _ = load_breast_cancer(return_X_y=True, as_frame=True)
    assert list(best.predict(X[:20])) == list(search.predict(X[:20]))

    # The web UI's JSON, read from PostgreSQL by the same server.
    names = {e["name"]: e for e in _get(f"{url}/ui-api/experiments")["experiments"]}
    assert names["Default"]["run_count"] == 5 and names["remote_experiment"]["run_count"] == 1
    query = urllib.parse.urlencode([("sort", "-metrics:best_cv_score"),
                                    ("cols", "metrics:best_cv_score"), ("cols", "params:cv")])
    page = _get(f"{url}/ui-api/experiments/0/runs?{query}")
    (row,) = page["runs"]  # the candidates are grouped under their parent
    assert row["run_id"] == rid and row["children"] == 4
    assert row["cells"]["metrics:best_cv_score"] == parent.data.metrics["best_cv_score"]
    assert row["cells"]["params:cv"] == "3"
    kids = _get(f"{url}/ui-api/experiments/0/runs?parent={rid}&sort=metrics:mean_test_score")
    assert len(kids["runs"]) == 4
    assert _get(f"{url}/ui-api/experiments/0/runs?count=1&group=0")["total"] == 5
    keys = _get(f"{url}/ui-api/experiments/0/keys")
    assert "best_cv_score" in keys["metrics"]["keys"] and "cv" in keys["params"]["keys"]
    assert _get(f"{url}/ui-api/experiments/0/keys?kind=params&q=BEST_")["params"]["keys"] == \
        sorted(k for k in parent.data.params if k.startswith("best_"))
    shown = _get(f"{url}/ui-api/runs/{rid}")
    assert shown["params"] == dict(sorted(parent.data.params.items()))
    assert len(shown["children"]) == 4
    files = {f["path"] for f in _get(f"{url}/ui-api/runs/{rid}/artifacts")["files"]}
    assert {"cv_results.csv", "best_estimator", "model"} <= files
    series = _get(f"{url}/ui-api/series?runs={rid}&metrics=best_cv_score")["series"]
    assert [p[2] for p in series[0]["points"]] == [parent.data.metrics["best_cv_score"]]
    kid = next(r for r in runs if r.info.run_id != rid)
    compared = _get(f"{url}/ui-api/compare?runs={rid}&runs={kid.info.run_id}")
    assert [r["run_id"] for r in compared["runs"]] == [rid, kid.info.run_id]


def test_parallel_writers_through_four_workers(tmp_path, pg_uri, s3_bucket):
    """4 processes x 4 threads x 5,000 metrics through a server with 4 worker processes on
    PostgreSQL: nothing lost, no error."""
    server = _server(tmp_path, pg_uri, f"s3://{s3_bucket}/artifacts", "--workers", "4")
    try:
        children = (Path("/proc") / str(server.proc.pid) / "task" / str(server.proc.pid) / "children")
        if children.exists():  # Linux: uvicorn's supervisor holds the 4 worker processes
            assert len(children.read_text().split()) >= 4
        writer.run_and_check(server.url)
    finally:
        server.stop()
    assert "Traceback" not in server.stderr and "ERROR" not in server.stderr, server.stderr


def test_missing_bucket_through_the_server(tmp_path, pg_uri, s3_server):
    """A server whose artifact root is a bucket that does not exist: the first artifact write
    fails with an error naming the bucket; the run and its values are unharmed."""
    server = _server(tmp_path, pg_uri, "s3://autolog-no-such-bucket/artifacts")
    try:
        autolog.set_tracking_uri(server.url)
        note = tmp_path / "note.txt"
        note.write_text("hello")
        with autolog.start_run() as run:
            autolog.log_metric("before", 1.0)
            with pytest.raises(StorageError) as err:
                autolog.log_artifact(str(note))
            autolog.log_metric("after", 2.0)
        message = str(err.value)
        assert "autolog-no-such-bucket" in message and "does not exist" in message, message
        assert "\n" not in message and "testing" not in message  # one line, no credential
        stored = autolog.Client().get_run(run.info.run_id)
        assert stored.info.status == "FINISHED"
        assert stored.data.metrics == {"before": 1.0, "after": 2.0}
    finally:
        server.stop()
