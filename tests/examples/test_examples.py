"""The tutorial's scenarios in examples/: each script runs in its own process, then the store it
wrote is read back here and checked for what the scenario must have recorded.

These scripts use scikit-learn (and matplotlib), so each test starts with ``require("sklearn")``:
skipped where it is missing, a failure under CI=true, where it is installed.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import autolog
from tests.conftest import require

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"


def run_example(name: str, cwd: Path, tracking: Path | None, expect_rc: int = 0) -> str:
    """Run examples/<name> in a fresh interpreter; return its stdout."""
    env = dict(os.environ)
    env.pop("AUTOLOG_TRACKING_URI", None)
    if tracking is not None:
        env["AUTOLOG_TRACKING_URI"] = str(tracking)
    env.update(MPLBACKEND="Agg", AUTOLOG_STRICT="1",
               PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")])))
    proc = subprocess.run([sys.executable, str(EXAMPLES / name)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=180)
    assert proc.returncode == expect_rc, f"{name} exited {proc.returncode}:\n{proc.stderr}"
    # autolog reports problems it survives as AutologWarning; an example must trigger none.
    assert "AutologWarning" not in proc.stderr, proc.stderr
    return proc.stdout


def experiment_runs(name: str) -> list:
    experiment = autolog.get_experiment_by_name(name)
    assert experiment is not None, f"no experiment {name!r}"
    return autolog.search_runs([experiment.experiment_id], output_format="list")


def iris_split():
    from sklearn.datasets import load_iris
    from sklearn.model_selection import train_test_split

    iris = load_iris()
    return train_test_split(iris.data, iris.target, test_size=0.2, random_state=42)


def baseline_forest():
    """The model basic_tracking.py trains (same data, same seed: the same trees)."""
    from sklearn.ensemble import RandomForestClassifier

    X_train, _, y_train, _ = iris_split()
    return RandomForestClassifier(n_estimators=100, max_depth=5, random_state=42).fit(
        X_train, y_train)


@pytest.fixture
def tracking(tracking_dir):
    """The store the examples write to: the one this test reads (the conftest's folder)."""
    return tracking_dir / "runs"


# -- basic tracking ------------------------------------------------------------------------------
def test_basic_tracking(tracking_dir, tracking):
    require("sklearn")
    from sklearn.metrics import accuracy_score, f1_score

    out = run_example("basic_tracking.py", tracking_dir, tracking)
    run_id = re.search(r"^Run ID: ([0-9a-f]{32})$", out, re.M).group(1)
    assert f"Tracking location: {tracking}\n" in out

    runs = experiment_runs("iris_classification")
    assert [r.info.run_id for r in runs] == [run_id]
    run = runs[0]
    assert run.info.run_name == "random_forest_baseline"
    assert run.info.status == "FINISHED"
    assert dict(run.data.params) == {
        "n_estimators": "100", "max_depth": "5", "random_state": "42", "test_size": "0.2"}
    _, X_test, _, y_test = iris_split()
    y_pred = baseline_forest().predict(X_test)
    assert run.data.metrics["accuracy"] == pytest.approx(accuracy_score(y_test, y_pred))
    assert run.data.metrics["f1_score"] == pytest.approx(
        f1_score(y_test, y_pred, average="weighted"))
    assert run.data.tags["autolog.source.name"].endswith("basic_tracking.py")

    client = autolog.Client()
    files = {f.path for f in client.list_artifacts(run_id, "random_forest_model")}
    assert {"random_forest_model/model.json", "random_forest_model/input_example.json",
            "random_forest_model/requirements.txt"} <= files
    model_uri = f"runs:/{run_id}/random_forest_model"
    info = autolog.models.get_model_info(model_uri)
    assert info.flavor == "sklearn" and info.run_id == run_id
    assert info.signature is not None
    folder = Path(run.info.artifact_uri) / "random_forest_model"
    X_train, _, _, _ = iris_split()
    assert json.loads((folder / "input_example.json").read_text()) == X_train[:5].tolist()
    import sklearn

    assert f"scikit-learn=={sklearn.__version__}" in (folder / "requirements.txt").read_text()


def test_basic_tracking_default_location_is_autolog_runs(tracking_dir):
    """The README's main example: no configuration, data under ./autolog-runs, and the CLI
    finds the run there."""
    require("sklearn")
    from click.testing import CliRunner

    from autolog.cli import cli

    out = run_example("basic_tracking.py", tracking_dir, None)
    run_id = re.search(r"^Run ID: ([0-9a-f]{32})$", out, re.M).group(1)
    location = tracking_dir / "autolog-runs"
    assert f"Tracking location: {location}\n" in out
    assert (location / "autolog.db").is_file()
    shown = CliRunner().invoke(cli, ["--tracking-uri", str(location), "runs", "show", run_id],
                               catch_exceptions=False)
    assert shown.exit_code == 0, shown.output
    assert re.search(r"accuracy\s+\d", shown.stdout) and "random_forest_model/" in shown.stdout


# -- metrics over epochs -------------------------------------------------------------------------
def test_epoch_tracking(tracking_dir, tracking):
    run_example("epoch_tracking.py", tracking_dir, tracking)
    runs = experiment_runs("neural_network_training")
    assert sorted(r.info.run_name for r in runs) == ["nn_lr_0.001", "nn_lr_0.01", "nn_lr_0.1"]
    client = autolog.Client()
    for run in runs:
        assert run.info.status == "FINISHED"
        lr = run.info.run_name.removeprefix("nn_lr_")
        assert dict(run.data.params) == {
            "epochs": "50", "learning_rate": lr, "optimizer": "adam", "batch_size": "32"}
        for key in ("train_loss", "val_loss", "train_accuracy", "val_accuracy"):
            history = client.get_metric_history(run.info.run_id, key)
            assert [m.step for m in history] == list(range(50))
            # The run's value is the latest one: the highest step.
            assert run.data.metrics[key] == history[-1].value
        train_loss = client.get_metric_history(run.info.run_id, "train_loss")
        # The simulated loss falls like 1/(epoch+1) (plus noise of sd 0.05).
        assert train_loss[0].value > 0.7 and train_loss[-1].value < 0.25
        assert run.data.metrics["final_train_loss"] == train_loss[-1].value
        final = client.get_metric_history(run.info.run_id, "final_val_accuracy")
        assert [m.step for m in final] == [0]
        val_accuracy = client.get_metric_history(run.info.run_id, "val_accuracy")
        assert final[0].value == val_accuracy[-1].value


# -- artifacts -----------------------------------------------------------------------------------
def test_artifact_logging(tracking_dir, tracking):
    require("sklearn")
    require("matplotlib")
    out = run_example("artifact_logging.py", tracking_dir, tracking)
    assert "Artifacts logged successfully!" in out
    (run,) = experiment_runs("artifact_example")
    assert run.info.run_name == "with_artifacts" and run.info.status == "FINISHED"
    client = autolog.Client()
    top = {f.path: f for f in client.list_artifacts(run.info.run_id)}
    assert set(top) == {"confusion_matrix.png", "feature_importance.png", "config.json",
                        "data_samples"}
    assert top["data_samples"].is_dir
    inner = {f.path for f in client.list_artifacts(run.info.run_id, "data_samples")}
    assert inner == {"data_samples/X_train_sample.csv", "data_samples/X_test_sample.csv"}

    dst = tracking_dir / "downloads"
    for png in ("confusion_matrix.png", "feature_importance.png"):
        assert top[png].file_size > 1000
        path = client.download_artifacts(run.info.run_id, png, str(dst))
        assert Path(path).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    config = json.loads(Path(client.download_artifacts(
        run.info.run_id, "config.json", str(dst))).read_text())
    assert config["model_type"] == "RandomForestClassifier"
    assert config["training"] == {"cv_folds": 5, "stratified": True}
    sample = Path(client.download_artifacts(
        run.info.run_id, "data_samples/X_train_sample.csv", str(dst))).read_text().splitlines()
    X_train, _, _, _ = iris_split()
    assert [[float(v) for v in line.split(",")] for line in sample] == X_train[:10].tolist()
    # The scratch files lived in a temporary folder: nothing left in the working directory.
    assert sorted(p.name for p in tracking_dir.iterdir()) == ["downloads", "runs"]


# -- tags and search -----------------------------------------------------------------------------
def test_tagging(tracking_dir, tracking):
    require("sklearn")
    out = run_example("tagging.py", tracking_dir, tracking)
    runs = experiment_runs("tagged_experiments")
    by_phase = {r.data.tags["phase"]: r for r in runs}
    assert set(by_phase) == {"baseline", "tuning", "validation"}
    tuning = by_phase["tuning"]
    assert tuning.info.run_name == "logistic_regression_tuning"
    assert {k: tuning.data.tags[k] for k in ("developer", "model_type", "environment", "dataset",
                                             "mlflow.runName")} == {
        "developer": "alice", "model_type": "logistic_regression", "environment": "development",
        "dataset": "synthetic_classification", "mlflow.runName": "logistic_regression_tuning"}
    assert dict(tuning.data.params) == {"C": "0.1", "max_iter": "200"}
    assert 0.5 < tuning.data.metrics["test_accuracy"] <= 1.0
    assert by_phase["validation"].data.tags["developer"] == "bob"

    found = autolog.search_runs(
        experiment_names=["tagged_experiments"],
        filter_string="tags.phase = 'tuning' AND tags.developer = 'alice'")
    assert found["run_id"].tolist() == [tuning.info.run_id]
    assert found["params.C"].tolist() == ["0.1"]
    # The script printed the same single run.
    assert tuning.info.run_id in out
    assert not any(r.info.run_id in out for r in runs if r is not tuning)


# -- comparing runs and loading the best model ---------------------------------------------------
def test_compare_runs(tracking_dir, tracking):
    require("sklearn")
    basic_out = run_example("basic_tracking.py", tracking_dir, tracking)
    best_id = re.search(r"^Run ID: ([0-9a-f]{32})$", basic_out, re.M).group(1)
    out = run_example("compare_runs.py", tracking_dir, tracking)
    assert f"Best run ID: {best_id}" in out
    assert "Model type: RandomForestClassifier" in out
    filtered = out.split("Runs with n_estimators=100 and accuracy > 0.9:")[1]
    assert best_id in filtered

    from sklearn.datasets import load_iris

    X = load_iris().data
    original = baseline_forest()
    # What the script printed comes from the model it loaded.
    printed = re.search(r"Predictions for the first 5 iris rows: (\[.*\])", out).group(1)
    assert json.loads(printed) == original.predict(X[:5]).tolist()
    loaded = autolog.sklearn.load_model(f"runs:/{best_id}/random_forest_model")
    assert type(loaded) is type(original)
    assert loaded.predict(X).tolist() == original.predict(X).tolist()
    assert loaded.predict_proba(X) == pytest.approx(original.predict_proba(X))


def test_compare_runs_without_the_experiment_says_what_to_do(tracking_dir, tracking):
    require("sklearn")
    env = dict(os.environ, AUTOLOG_TRACKING_URI=str(tracking), AUTOLOG_STRICT="1")
    proc = subprocess.run([sys.executable, str(EXAMPLES / "compare_runs.py")], cwd=tracking_dir,
                          env=env, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 1
    assert "run examples/basic_tracking.py first" in proc.stderr
    assert "Traceback" not in proc.stderr


# -- nested runs ---------------------------------------------------------------------------------
def test_nested_runs_three_levels(tracking_dir, tracking):
    require("sklearn")
    out = run_example("nested_runs.py", tracking_dir, tracking)
    runs = experiment_runs("nested_cv_experiment")
    assert len(runs) == 1 + 3 + 3 * 5
    assert all(r.info.status == "FINISHED" for r in runs)
    parents = [r for r in runs if "autolog.parentRunId" not in r.data.tags]
    assert len(parents) == 1
    parent = parents[0]
    assert parent.info.run_name == "hyperparameter_search"
    assert f"Parent run ID: {parent.info.run_id}" in out
    assert parent.data.tags["run_type"] == "hyperparameter_search"

    def children_of(run):
        return [r for r in runs if r.data.tags.get("autolog.parentRunId") == run.info.run_id]

    children = children_of(parent)
    assert sorted(c.info.run_name for c in children) == [
        "n_estimators_10", "n_estimators_20", "n_estimators_5"]
    for child in children:
        assert child.data.tags["mlflow.parentRunId"] == parent.info.run_id
        assert child.data.params["n_estimators"] == child.info.run_name.rsplit("_", 1)[1]
        folds = children_of(child)
        assert sorted(f.info.run_name for f in folds) == [f"fold_{i}" for i in range(5)]
        assert all(not children_of(f) for f in folds)
        accuracies = [f.data.metrics["fold_accuracy"] for f in folds]
        assert child.data.metrics["mean_cv_accuracy"] == pytest.approx(
            sum(accuracies) / len(accuracies))
    best = max(children, key=lambda c: (c.data.metrics["mean_cv_accuracy"],
                                        -int(c.data.params["n_estimators"])))
    assert parent.data.metrics["best_cv_accuracy"] == pytest.approx(
        best.data.metrics["mean_cv_accuracy"])
    assert parent.data.params["best_n_estimators"] == best.data.params["n_estimators"]
    assert parent.data.params["n_estimators_options"] == "[5, 10, 20]"

    # The parent link is searchable, as the example's docstring says.
    found = autolog.search_runs(
        [parent.info.experiment_id],
        filter_string=f"tags.`autolog.parentRunId` = '{parent.info.run_id}'", output_format="list")
    assert {r.info.run_id for r in found} == {c.info.run_id for c in children}
