"""MLflow's own client (``mlflow-skinny``, pinned, in its own virtualenv) against ``autolog
server``: it writes an experiment, a run, params, metrics with steps, tags, a batch and an
artifact, searches them back, and autolog reads the same run; then the reverse.

The virtualenv is created once under ``.venv-mlflow/`` (gitignored) and reused; under CI=true a
failure to create it fails these tests instead of skipping them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import autolog
from tests.server.conftest import ROOT

MLFLOW_PIN = "mlflow-skinny==3.17.2"
VENV = ROOT / ".venv-mlflow"


def _has_mlflow(python: Path) -> bool:
    if not python.exists():
        return False
    probe = subprocess.run([str(python), "-c", "import mlflow, importlib.metadata as m; "
                            "print(m.version('mlflow-skinny'))"], capture_output=True, text=True)
    return probe.returncode == 0 and probe.stdout.strip() == MLFLOW_PIN.split("==")[1]


@pytest.fixture(scope="session")
def mlflow_python() -> Path:
    python = VENV / "bin" / "python"
    if not _has_mlflow(python):
        made = subprocess.run([sys.executable, "-m", "venv", "--clear", str(VENV)],
                              capture_output=True, text=True)
        if made.returncode == 0:
            made = subprocess.run([str(python), "-m", "pip", "install", "-q", MLFLOW_PIN],
                                  capture_output=True, text=True, timeout=900)
        if made.returncode != 0 or not _has_mlflow(python):
            message = f"cannot create the {MLFLOW_PIN} virtualenv: {made.stderr[-2000:]}"
            if os.environ.get("CI", "").lower() == "true":
                pytest.fail(message)
            pytest.skip(message)
    return python


def _mlflow(python: Path, script: str, *args: str, cwd: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AUTOLOG_", "MLFLOW_", "PYTHONPATH"))}
    proc = subprocess.run([str(python), "-c", textwrap.dedent(script), *args], capture_output=True,
                          text=True, env=env, cwd=cwd, timeout=300)
    assert proc.returncode == 0, proc.stderr[-5000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


MLFLOW_WRITES = """
    import json, os, sys
    import mlflow
    from mlflow import MlflowClient
    from mlflow.entities import Metric, Param, RunTag

    mlflow.set_tracking_uri(sys.argv[1])
    client = MlflowClient()
    exp_id = client.create_experiment("from_mlflow", tags={"team": "vision"})
    mlflow.set_experiment("from_mlflow")
    with mlflow.start_run(run_name="mlflow-run") as run:
        mlflow.log_param("alpha", 0.5)
        for step in range(3):
            mlflow.log_metric("loss", 1.0 / (step + 1), step=step)
        mlflow.set_tag("stage", "dev")
        mlflow.log_metrics({"acc": 0.9, "f1": 0.8}, step=2)
        mlflow.log_params({"layers": 3, "act": "relu"})
        client.log_batch(run.info.run_id, metrics=[Metric("batch_m", 7.0, 1000, 5)],
                         params=[Param("batch_p", "x")], tags=[RunTag("batch_t", "y")])
        with open("notes.txt", "w") as fh:
            fh.write("written by mlflow")
        mlflow.log_artifact("notes.txt", "docs")
    found = client.search_runs([exp_id], "params.alpha = '0.5' and metrics.acc > 0.5",
                               order_by=["metrics.acc DESC"])
    got = client.get_run(run.info.run_id)
    history = client.get_metric_history(run.info.run_id, "loss")
    files = [f.path for f in client.list_artifacts(run.info.run_id, "docs")]
    local = client.download_artifacts(run.info.run_id, "docs/notes.txt", ".")
    print(json.dumps({
        "experiment_id": exp_id, "run_id": run.info.run_id,
        "found": [r.info.run_id for r in found], "status": got.info.status,
        "params": got.data.params, "metrics": got.data.metrics, "tags": got.data.tags,
        "history": [[m.step, m.value] for m in history], "files": files,
        "artifact_uri": got.info.artifact_uri, "downloaded": open(local).read(),
    }))
"""


def test_mlflow_client_writes_autolog_reads(mlflow_python, server_process, tracking_dir):
    out = _mlflow(mlflow_python, MLFLOW_WRITES, server_process.url, cwd=tracking_dir)
    run_id = out["run_id"]
    assert out["found"] == [run_id] and out["status"] == "FINISHED"
    assert out["params"] == {"alpha": "0.5", "layers": "3", "act": "relu", "batch_p": "x"}
    assert out["metrics"] == {"loss": pytest.approx(1 / 3), "acc": 0.9, "f1": 0.8, "batch_m": 7.0}
    assert out["tags"]["stage"] == "dev" and out["tags"]["batch_t"] == "y"
    assert out["history"] == [[0, 1.0], [1, 0.5], [2, pytest.approx(1 / 3)]]
    assert out["files"] == ["docs/notes.txt"] and out["downloaded"] == "written by mlflow"
    assert out["artifact_uri"].startswith("mlflow-artifacts:/")

    autolog.set_tracking_uri(server_process.url)
    client = autolog.Client()
    run = client.get_run(run_id)
    assert dict(run.data.params) == out["params"] and run.info.run_name == "mlflow-run"
    assert [m.step for m in client.get_metric_history(run_id, "loss")] == [0, 1, 2]
    assert client.get_experiment(out["experiment_id"]).tags["team"] == "vision"
    path = client.download_artifacts(run_id, "docs/notes.txt", str(tracking_dir / "dl"))
    assert Path(path).read_text() == "written by mlflow"


MLFLOW_READS = """
    import json, sys
    from mlflow import MlflowClient
    import mlflow

    mlflow.set_tracking_uri(sys.argv[1])
    client = MlflowClient()
    run = client.get_run(sys.argv[2])
    exp = client.get_experiment_by_name("from_autolog")
    found = client.search_runs([exp.experiment_id], "metrics.score >= 0.5")
    history = client.get_metric_history(run.info.run_id, "score")
    local = client.download_artifacts(run.info.run_id, "report.txt", ".")
    print(json.dumps({"params": run.data.params, "tags": run.data.tags, "status": run.info.status,
                      "found": [r.info.run_id for r in found],
                      "history": [[m.step, m.value] for m in history],
                      "report": open(local).read()}))
"""


def test_autolog_writes_mlflow_client_reads(mlflow_python, server_process, tracking_dir):
    autolog.set_tracking_uri(server_process.url)
    autolog.set_experiment("from_autolog")
    with autolog.start_run(run_name="ours") as run:
        autolog.log_params({"depth": 4, "kind": "tree"})
        for step in range(4):
            autolog.log_metric("score", 0.25 * step, step=step)
        autolog.set_tag("owner", "ana")
        (tracking_dir / "report.txt").write_text("written by autolog")
        autolog.log_artifact(str(tracking_dir / "report.txt"))
    autolog.flush()
    out = _mlflow(mlflow_python, MLFLOW_READS, server_process.url, run.info.run_id, cwd=tracking_dir)
    assert out["params"] == {"depth": "4", "kind": "tree"} and out["tags"]["owner"] == "ana"
    assert out["status"] == "FINISHED" and out["found"] == [run.info.run_id]
    assert out["history"] == [[0, 0.0], [1, 0.25], [2, 0.5], [3, 0.75]]
    assert out["report"] == "written by autolog"
