"""The tutorial's remote example and the autologged scikit-learn and PyTorch examples, each run
unchanged against ``autolog server`` started as a real subprocess, then read back through it."""

from __future__ import annotations

import autolog
from tests.conftest import require
from tests.examples.test_examples import run_example


def _runs(name: str) -> list:
    experiment = autolog.get_experiment_by_name(name)
    assert experiment is not None, name
    return autolog.search_runs([experiment.experiment_id], output_format="list")


def test_remote_tracking_example(tracking_dir, server_process):
    out = run_example("remote_tracking.py", tracking_dir, server_process.url)
    assert f"Logged to {server_process.url}" in out
    autolog.set_tracking_uri(server_process.url)
    (run,) = _runs("remote_experiment")
    assert run.info.status == "FINISHED"
    assert dict(run.data.params) == {"remote": "True"}
    assert run.data.metrics == {"test_metric": 0.95}
    assert run.info.artifact_uri.startswith(f"{server_process.url}/api/2.0/mlflow-artifacts/")
    # Nothing was written beside the script: the server holds the store.
    assert not (tracking_dir / "autolog-runs").exists()


def test_autologged_sklearn_example(tracking_dir, server_process):
    require("sklearn")
    run_example("sklearn_autolog_gridsearch.py", tracking_dir, server_process.url)
    autolog.set_tracking_uri(server_process.url)
    runs = autolog.search_runs(output_format="list")
    assert len(runs) == 1 + 4
    parent = next(r for r in runs if "autolog.parentRunId" not in r.data.tags)
    assert parent.data.tags["estimator_name"] == "GridSearchCV"
    assert "best_n_estimators" in parent.data.params and "best_cv_score" in parent.data.metrics
    client = autolog.Client()
    names = {f.path for f in client.list_artifacts(parent.info.run_id)}
    assert {"cv_results.csv", "best_estimator", "model"} <= names
    # The model came through the artifact proxy and loads back through it.
    model = autolog.sklearn.load_model(f"runs:/{parent.info.run_id}/best_estimator")
    assert type(model).__name__ == "GradientBoostingClassifier"
    stored = server_process.folder / "server-artifacts" / "0" / parent.info.run_id / "artifacts"
    assert (stored / "cv_results.csv").is_file()


def test_autologged_pytorch_example(tracking_dir, server_process):
    require("torch")
    run_example("pytorch_summarywriter_loop.py", tracking_dir, server_process.url)
    autolog.set_tracking_uri(server_process.url)
    (run,) = autolog.search_runs(output_format="list")
    assert run.info.status == "FINISHED" and run.data.tags["autolog.integration"] == "torch"
    client = autolog.Client()
    assert [m.step for m in client.get_metric_history(run.info.run_id, "train_loss")] == \
        [10, 20, 30, 40, 50, 60, 64]
    assert len(client.get_metric_history(run.info.run_id, "batch/loss")) == 64
    assert run.data.params["hidden"] == "16"
