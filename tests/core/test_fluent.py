"""The fluent API: MLflow's names and meaning, read back from the real SQLite store."""

from __future__ import annotations

import json
import math
import os
import sys
import threading

import numpy as np
import pytest

import autolog
from autolog import Client
from autolog.errors import (
    FilterSyntaxError,
    InvalidInputError,
    NotFoundError,
    ParamConflictError,
    RunStateError,
)
from tests.conftest import next_start_time


def read(path: str) -> str:
    with open(path) as fh:
        return fh.read()


def test_public_names_are_pinned():
    assert sorted(autolog.__all__) == sorted([
        "ActiveRun", "AutologError", "AutologWarning", "Client", "FilterSyntaxError",
        "InvalidInputError", "NotFoundError", "ParamConflictError", "PlotError", "RunStateError",
        "RunStatus",
        "StorageError", "ViewType", "__version__", "active_run", "autolog", "create_experiment",
        "delete_experiment", "delete_tag", "disable_system_metrics_logging",
        "enable_system_metrics_logging", "end_run", "flush", "get_artifact_uri",
        "get_experiment", "get_experiment_by_name", "get_run", "get_tracking_uri",
        "last_active_run", "load_model", "log_artifact", "log_artifacts", "log_dict",
        "log_figure", "log_image", "log_input", "log_metric", "log_metrics", "log_model",
        "log_param", "log_params", "log_text", "search_experiments", "search_runs",
        "set_environment_logging", "set_experiment", "set_experiment_tag",
        "set_system_metrics_sampling_interval", "set_tag", "set_tags", "set_tracking_uri",
        "start_run",
    ])
    for name in autolog.__all__:
        assert hasattr(autolog, name), name


def test_set_experiment_creates_once_and_activates():
    exp = autolog.set_experiment("iris_classification")
    assert autolog.set_experiment("iris_classification").experiment_id == exp.experiment_id
    assert autolog.set_experiment(experiment_id=exp.experiment_id).name == "iris_classification"
    with autolog.start_run() as run:
        pass
    assert run.info.experiment_id == exp.experiment_id
    assert autolog.get_experiment_by_name("iris_classification").experiment_id == exp.experiment_id
    assert autolog.get_experiment(exp.experiment_id).name == "iris_classification"
    with pytest.raises(InvalidInputError):
        autolog.set_experiment()
    with pytest.raises(NotFoundError):
        autolog.set_experiment(experiment_id="999")


def test_create_search_delete_experiments():
    eid = autolog.create_experiment("a/b/v2", tags={"team": "ml"})
    assert autolog.get_experiment(eid).tags["team"] == "ml"
    names = {e.name for e in autolog.search_experiments(filter_string="tags.team = 'ml'")}
    assert names == {"a/b/v2"}
    autolog.delete_experiment(eid)
    assert "a/b/v2" not in {e.name for e in autolog.search_experiments()}
    with pytest.raises(RunStateError, match="deleted"):
        autolog.set_experiment("a/b/v2")
    autolog.set_experiment("tagged")
    autolog.set_experiment_tag("owner", "bob")
    assert autolog.get_experiment_by_name("tagged").tags["owner"] == "bob"


def test_run_lifecycle_statuses():
    with autolog.start_run(run_name="ok") as ok:
        assert autolog.active_run().info.run_id == ok.info.run_id
    with pytest.raises(ValueError, match="boom"):
        with autolog.start_run() as failed:
            raise ValueError("boom")
    with pytest.raises(KeyboardInterrupt):
        with autolog.start_run() as killed:
            raise KeyboardInterrupt
    client = Client()
    assert client.get_run(ok.info.run_id).info.status == "FINISHED"
    assert client.get_run(failed.info.run_id).info.status == "FAILED"
    assert client.get_run(killed.info.run_id).info.status == "KILLED"
    assert client.get_run(ok.info.run_id).info.end_time >= client.get_run(ok.info.run_id).info.start_time
    assert autolog.active_run() is None
    assert autolog.last_active_run().info.run_id == killed.info.run_id


def test_end_run_status_and_noop():
    autolog.end_run()  # nothing active: no-op
    run = autolog.start_run()
    with pytest.raises(InvalidInputError):
        autolog.end_run("DONE")
    autolog.end_run("KILLED")
    assert Client().get_run(run.info.run_id).info.status == "KILLED"


def test_nested_misuse_and_three_levels():
    with autolog.start_run() as parent:
        with pytest.raises(RunStateError, match="nested=True"):
            autolog.start_run()
        with autolog.start_run(nested=True) as child:
            with autolog.start_run(nested=True) as grandchild:
                pass
    client = Client()
    assert client.get_run(child.info.run_id).data.tags["autolog.parentRunId"] == parent.info.run_id
    assert client.get_run(grandchild.info.run_id).data.tags["autolog.parentRunId"] == child.info.run_id
    found = autolog.search_runs(filter_string=f"attributes.parent_run_id = '{child.info.run_id}'",
                                output_format="list")
    assert [r.info.run_id for r in found] == [grandchild.info.run_id]


def test_ending_outer_run_ends_inner_ones():
    parent = autolog.start_run()
    child = autolog.start_run(nested=True)
    autolog.end_run(run_id=parent.info.run_id)
    assert autolog.active_run() is None
    assert Client().get_run(child.info.run_id).info.status == "FINISHED"


def test_run_end_hook_sees_the_run_and_a_failing_one_still_lets_it_end(monkeypatch):
    from autolog import _runs

    seen = []

    def failing(run_id):
        seen.append(run_id)
        raise RuntimeError("hook failed")

    monkeypatch.setattr(_runs, "_end_hooks", [])
    _runs.on_run_end(failing)
    _runs.on_run_end(failing)  # registered once
    run = autolog.start_run()
    with pytest.raises(RuntimeError, match="hook failed"):
        autolog.end_run()
    assert seen == [run.info.run_id] and autolog.active_run() is None
    autolog.flush()
    assert Client().get_run(run.info.run_id).info.status == "FINISHED"


def test_logging_without_run_starts_one():
    autolog.log_metric("x", 1)
    run = autolog.active_run()
    assert run is not None and run.info.run_name  # a generated readable name
    autolog.end_run()
    assert Client().get_run(run.info.run_id).data.metrics == {"x": 1.0}


def test_resume_run_by_id():
    with autolog.start_run() as first:
        autolog.log_param("a", 1)
    with autolog.start_run(run_id=first.info.run_id):
        autolog.log_metric("m", 2)
        with pytest.raises(ParamConflictError):
            autolog.log_param("a", 2)  # known from the store, not only this process
    run = Client().get_run(first.info.run_id)
    assert run.info.status == "FINISHED" and run.data.metrics["m"] == 2.0


def test_params_are_strings_and_write_once():
    with autolog.start_run() as run:
        assert autolog.log_param("lr", 0.1) == 0.1
        autolog.log_param("lr", 0.1)  # same value: no-op
        autolog.log_params({"n": 5, "opts": [1, 2], "none": None})
        with pytest.raises(ParamConflictError, match="'lr'.*0.1.*0.2"):
            autolog.log_param("lr", 0.2)
        with pytest.raises(ParamConflictError):
            autolog.log_params({"fresh": 1, "n": 6})
    params = Client().get_run(run.info.run_id).data.params
    assert params == {"lr": "0.1", "n": "5", "opts": "[1, 2]", "none": "None"}


@pytest.mark.parametrize("key", ["", "bad!key", "/abs", "a/../b", "x" * 300, 3])
def test_bad_keys_name_the_key(key):
    with autolog.start_run():
        for fn in (lambda: autolog.log_metric(key, 1.0), lambda: autolog.log_param(key, 1),
                   lambda: autolog.set_tag(key, 1)):
            with pytest.raises(InvalidInputError) as err:
                fn()
            assert repr(key)[:40] in str(err.value)


def test_metric_values_and_history():
    with autolog.start_run() as run:
        autolog.log_metric("np", np.float32(0.5), step=1)
        autolog.log_metric("arr", np.array(2.5))
        autolog.log_metric("int", 3)
        autolog.log_metric("nan", float("nan"))
        autolog.log_metric("inf", -math.inf)
        for step, value in enumerate([0.9, 0.5, 0.3]):
            autolog.log_metric("loss", value, step=step)
        autolog.log_metric("loss", 0.7, step=1)  # an older step never becomes the latest
        autolog.log_metrics({"a": 1, "b": np.int64(2)}, step=4)
        for bad in ("x", None, True, np.array([1.0, 2.0]), object()):
            with pytest.raises(InvalidInputError, match="metric 'bad'"):
                autolog.log_metric("bad", bad)
        with pytest.raises(InvalidInputError):
            autolog.log_metric("m", 1.0, step=1.5)
        with pytest.raises(InvalidInputError):
            autolog.log_metrics({"ok": 1, "bad": "x"})
    client = Client()
    metrics = client.get_run(run.info.run_id).data.metrics
    assert metrics["np"] == 0.5 and metrics["arr"] == 2.5 and metrics["int"] == 3.0
    assert math.isnan(metrics["nan"]) and metrics["inf"] == -math.inf
    assert metrics["loss"] == 0.3 and metrics["b"] == 2.0 and "ok" not in metrics
    history = client.get_metric_history(run.info.run_id, "loss")
    assert [(m.step, m.value) for m in history] == [(0, 0.9), (1, 0.5), (1, 0.7), (2, 0.3)]
    assert client.get_metric_history(run.info.run_id, "np")[0].step == 1
    assert client.get_metric_history(run.info.run_id, "int")[0].step == 0


def test_tags_description_and_system_tags():
    with autolog.start_run(tags={"phase": "tuning"}, description="first try") as run:
        autolog.set_tag("developer", "alice")
        autolog.set_tags({"env": "dev", "n": 3})
        autolog.set_tag("mlflow.runName", "renamed")
        autolog.set_tag("gone", "x")
        autolog.delete_tag("gone")
        with pytest.raises(NotFoundError):
            autolog.delete_tag("never")
    fetched = Client().get_run(run.info.run_id)
    tags = fetched.data.tags
    assert tags["phase"] == "tuning" and tags["developer"] == "alice" and tags["n"] == "3"
    assert tags["autolog.note.content"] == "first try" and "gone" not in tags
    assert fetched.info.run_name == "renamed"
    for key in ("autolog.user", "autolog.source.name", "autolog.python_version", "autolog.version"):
        assert tags[key]


def test_git_tags_inside_a_work_tree(tmp_path):
    import subprocess
    import sys

    repo = tmp_path / "repo"
    repo.mkdir()
    script = repo / "train.py"
    script.write_text(
        "import autolog\n"
        "with autolog.start_run() as r:\n"
        "    print(r.info.run_id)\n")
    git = ["git", "-c", "user.email=a@b", "-c", "user.name=a"]
    subprocess.run([*git, "init", "-q"], cwd=repo, check=True)
    subprocess.run([*git, "add", "train.py"], cwd=repo, check=True)
    subprocess.run([*git, "commit", "-qm", "x"], cwd=repo, check=True)
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True,
                            text=True, check=True).stdout.strip()
    env = {**os.environ, "AUTOLOG_TRACKING_URI": str(tmp_path / "store")}
    out = subprocess.run([sys.executable, str(script)], cwd=repo, env=env, capture_output=True,
                         text=True, check=True)
    tags = Client(str(tmp_path / "store")).get_run(out.stdout.strip()).data.tags
    assert tags["autolog.source.git.commit"] == commit
    assert tags["autolog.source.git.dirty"] == "false"
    assert tags["autolog.source.name"] == str(script)


def test_active_run_stack_is_per_thread():
    seen = {}
    with autolog.start_run() as main_run:
        def other():
            seen["before"] = autolog.active_run()
            with autolog.start_run() as r:  # no nested=True needed: another thread's stack
                seen["run"] = r.info.run_id

        t = threading.Thread(target=other)
        t.start()
        t.join()
        assert autolog.active_run().info.run_id == main_run.info.run_id
    assert seen["before"] is None and seen["run"] != main_run.info.run_id


def test_autolog_never_writes_environ():
    before = dict(os.environ)
    with autolog.start_run():
        autolog.log_metric("a", 1)
    autolog.set_experiment("x")
    assert dict(os.environ) == before


def test_artifacts(tmp_path):
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    (src / "a.txt").write_text("A")
    (src / "sub" / "b.csv").write_text("1,2")
    with autolog.start_run() as run:
        autolog.log_artifact(str(src / "a.txt"))
        autolog.log_artifact(src / "a.txt", artifact_path="copies")
        autolog.log_artifacts(str(src), artifact_path="data_samples")
        autolog.log_text("hello", "notes/readme.md")
        autolog.log_dict({"a": 1, "b": [1, 2]}, "config.json")
        autolog.log_dict({"a": 1}, "config.yaml")
        uri = autolog.get_artifact_uri()
        assert autolog.get_artifact_uri("config.json") == os.path.join(uri, "config.json")
        with pytest.raises(NotFoundError):
            autolog.log_artifact(str(tmp_path / "missing.txt"))
        with pytest.raises(InvalidInputError):
            autolog.log_text("x", "../escape.txt")
    client = Client()
    top = {f.path: f for f in client.list_artifacts(run.info.run_id)}
    assert set(top) == {"a.txt", "copies", "data_samples", "notes", "config.json", "config.yaml"}
    assert top["data_samples"].is_dir and top["a.txt"].file_size == 1
    nested = [f.path for f in client.list_artifacts(run.info.run_id, "data_samples/sub")]
    assert nested == [os.path.join("data_samples", "sub", "b.csv")]
    assert json.loads(read(os.path.join(uri, "config.json"))) == {"a": 1, "b": [1, 2]}
    assert read(os.path.join(uri, "config.yaml")).strip() == "a: 1"
    local = client.download_artifacts(run.info.run_id, "notes", str(tmp_path / "dl"))
    assert read(os.path.join(local, "readme.md")) == "hello"


def test_log_image_and_figure():
    from tests.conftest import require

    require("PIL")
    matplotlib = require("matplotlib")
    from matplotlib.figure import Figure

    backend = matplotlib.get_backend()
    pyplot_loaded = "matplotlib.pyplot" in sys.modules
    with autolog.start_run() as run:
        autolog.log_image(np.zeros((4, 5, 3), dtype=np.uint8), "img/zero.png")
        autolog.log_image(np.full((2, 2), 0.5), "img/gray.png")
        with pytest.raises(InvalidInputError):
            autolog.log_image(np.full((2, 2), 3.0), "img/bad.png")
        with pytest.raises(InvalidInputError):
            autolog.log_image(np.zeros((2, 2, 7)), "img/bad.png")
        fig = Figure()
        fig.add_subplot(1, 1, 1).plot([1, 2], [3, 4])
        autolog.log_figure(fig, "plots/line.png")
        with pytest.raises(InvalidInputError):
            autolog.log_figure("not a figure", "x.png")
    # Unchanged, and drawn without pyplot (which would pick and switch backends).
    assert matplotlib.get_backend() == backend
    assert ("matplotlib.pyplot" in sys.modules) == pyplot_loaded
    from PIL import Image

    root = run.info.artifact_uri
    with Image.open(os.path.join(root, "img", "zero.png")) as img:
        assert img.size == (5, 4)
    with open(os.path.join(root, "plots", "line.png"), "rb") as fh:
        assert fh.read(4) == b"\x89PNG"


def test_search_runs_pandas_columns_and_filters():
    pd = pytest.importorskip("pandas")
    autolog.set_experiment("tagged_experiments")
    for dev, phase, acc in [("alice", "baseline", 0.7), ("alice", "tuning", 0.9), ("bob", "tuning", 0.8)]:
        with autolog.start_run(run_name=f"{dev}_{phase}"):
            autolog.set_tags({"developer": dev, "phase": phase})
            autolog.log_param("C", acc)
            autolog.log_metric("test_accuracy", acc)
        next_start_time()
    df = autolog.search_runs(experiment_names=["tagged_experiments"],
                             filter_string="tags.phase = 'tuning' AND tags.developer = 'alice'")
    assert list(df.columns[:6]) == ["run_id", "experiment_id", "status", "artifact_uri",
                                    "start_time", "end_time"]
    assert len(df) == 1 and df["metrics.test_accuracy"].iloc[0] == 0.9
    assert df["params.C"].iloc[0] == "0.9"
    assert isinstance(df["start_time"].dtype, pd.DatetimeTZDtype) and str(df["start_time"].dt.tz) == "UTC"
    ordered = autolog.search_runs(order_by=["metrics.test_accuracy DESC"])
    assert list(ordered["metrics.test_accuracy"]) == [0.9, 0.8, 0.7]
    either = autolog.search_runs(filter_string="tags.developer = 'bob' OR params.C = '0.7'")
    assert len(either) == 2
    runs = autolog.search_runs(output_format="list", max_results=1)
    assert len(runs) == 1 and runs[0].info.run_name == "bob_tuning"
    with pytest.raises(FilterSyntaxError) as err:
        autolog.search_runs(filter_string="metrics.test_accuracy >> 1")
    assert err.value.position == 23  # the second ">"
    with pytest.raises(InvalidInputError):
        autolog.search_runs(output_format="csv")
    empty = autolog.search_runs(experiment_names=["nope"])
    assert len(empty) == 0


def test_log_input_fingerprints():
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame({"a": [1, 2, 3], "b": [0.5, 0.1, 0.2]})
    with autolog.start_run() as run:
        fp = autolog.log_input(df, context="train", name="frame")
        again = autolog.log_input(df.copy(), context="eval")
        arr = autolog.log_input(np.arange(12.0).reshape(4, 3))
    assert fp.digest == again.digest and fp.columns == ("a", "b") and fp.shape == (3, 2)
    assert fp.dtypes == ("int64", "float64") and arr.shape == (4, 3)
    inputs = Client().get_run(run.info.run_id).inputs
    assert {(d.name, d.context) for d in inputs} >= {("frame", "train")}
    assert len(inputs) == 3


def test_flush_commits_for_other_readers(tmp_path):
    from autolog.store.sql import SqlStore

    with autolog.start_run() as run:
        autolog.log_metric("m", 1.0)
        autolog.flush()
        db = os.path.join(autolog.get_tracking_uri(), "autolog.db")
        other = SqlStore(f"sqlite:///{db}", str(tmp_path / "x"))  # another connection, no writer
        assert other.get_run(run.info.run_id).data.metrics == {"m": 1.0}
        other.close()


def test_tracking_uri_forms(tmp_path, monkeypatch):
    autolog.set_tracking_uri(f"sqlite:///{tmp_path / 'db' / 'x.db'}")
    with autolog.start_run() as run:
        autolog.log_param("p", 1)
    assert os.path.isfile(tmp_path / "db" / "x.db")
    assert run.info.artifact_uri.startswith(str(tmp_path / "db" / "artifacts"))
    autolog.set_tracking_uri("postgresql://u:secret@h/db")  # checked now, connected at first use
    with pytest.raises(InvalidInputError, match="other than psycopg are not supported") as err:
        autolog.set_tracking_uri("postgresql+pg8000://u:secret@h/db")
    assert "secret" not in str(err.value)
    with pytest.raises(InvalidInputError):
        autolog.set_tracking_uri("s3://bucket")
    from autolog import _tracking

    _tracking._uri = None
    monkeypatch.setenv("AUTOLOG_TRACKING_URI", str(tmp_path / "env_store"))
    assert autolog.get_tracking_uri() == str(tmp_path / "env_store")
    monkeypatch.delenv("AUTOLOG_TRACKING_URI")
    assert autolog.get_tracking_uri() == os.path.abspath("autolog-runs")


def test_default_store_is_created_in_cwd(tmp_path):
    from autolog import _tracking

    _tracking._uri = None
    with autolog.start_run() as run:
        autolog.log_metric("a", 1)
    assert os.path.isfile(tmp_path / "autolog-runs" / "autolog.db")
    assert run.info.artifact_uri.startswith(str(tmp_path / "autolog-runs" / "artifacts"))
