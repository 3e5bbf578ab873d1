"""The MLflow bridge against a real MLflow (its own virtualenv): import from a SQLite database,
an mlruns folder and a tracking server, idempotently; export that MLflow's client reads back equal; damaged
and foreign stores refused without touching the destination."""

from __future__ import annotations

import hashlib
import math
import os
import sqlite3
from pathlib import Path

import pytest

import autolog
from autolog.bridge import import_mlflow
from autolog.bridge._records import to_autolog_tags, to_mlflow_tags
from autolog.cli import main
from autolog.client import Client
from autolog.entities import ViewType
from tests.bridge.conftest import free_port, run_mlflow, start_server, stop_server


def _cli(*args: str) -> int:
    with pytest.raises(SystemExit) as info:
        main(list(args))
    return int(info.value.code or 0)


@pytest.fixture(params=["sqlite", "mlruns", "http"])
def mlflow_store(request, mlflow_python, tmp_path):
    """(source argument, what MLflow's client read back from it after writing)."""
    work = tmp_path / "mlflow-work"
    work.mkdir()
    if request.param == "mlruns":
        source = str(work / "mlruns")
        uri = f"file://{source}"
    else:
        uri = source = f"sqlite:///{work / 'mlflow.db'}"
    written = run_mlflow(mlflow_python, "mlflow_writer.py", uri, str(work), cwd=str(work))
    if request.param != "http":
        yield source, written
        return
    proc, url = start_server(mlflow_python, uri, str(work))
    try:
        yield url, written
    finally:
        stop_server(proc)


def _history(client: Client, run_id: str, key: str) -> list:
    return [["nan" if math.isnan(m.value) else m.value, m.timestamp, m.step]
            for m in client.get_metric_history(run_id, key)]


def _assert_run_equal(client: Client, run_id: str, expected: dict, experiment: str) -> None:
    run = client.get_run(run_id)
    info, data = run.info, run.data
    assert client.get_experiment(info.experiment_id).name == experiment == expected["experiment"]
    assert (info.run_name, info.status, info.start_time, info.end_time, info.lifecycle_stage,
            info.user_id) == (expected["name"], expected["status"], expected["start_time"],
                              expected["end_time"], expected["lifecycle_stage"],
                              expected["user_id"])
    params = {k: ("***" if k == "api_key" else v) for k, v in expected["params"].items()}
    assert dict(data.params) == params
    assert dict(data.tags) == to_autolog_tags(expected["tags"])
    assert {k: _history(client, run_id, k) for k in data.metrics} == {
        k: sorted(v, key=lambda p: (p[2], p[1])) for k, v in expected["history"].items()}
    assert [[d.name, d.digest, d.context] for d in run.inputs] == expected["datasets"]


def test_import_brings_every_value_over_and_twice_adds_nothing(mlflow_store, tmp_path):
    source, written = mlflow_store
    store_uri = str(tmp_path / "store")
    assert _cli("--tracking-uri", store_uri, "import-mlflow", source) == 0
    client = Client(store_uri)
    assert len(written["runs"]) == 6
    for run_id, expected in written["runs"].items():
        _assert_run_equal(client, run_id, expected, expected["experiment"])
    iris = client.get_experiment_by_name("iris")
    assert iris.tags["team"] == "vision" and iris.tags["autolog.note.content"] == "x"
    parent = next(r for r, e in written["runs"].items() if e["name"] == "parent")
    children = [r for r, e in written["runs"].items() if e["name"].startswith("child")]
    for child in children:
        assert client.get_run(child).data.tags["autolog.parentRunId"] == parent
        assert client.get_parent_run(child).info.run_id == parent
    local = Path(client.download_artifacts(parent, "notes.txt", str(tmp_path / "dl")))
    assert local.read_text() == "hello from mlflow\n"
    weights = Path(client.download_artifacts(parent, "model/weights.bin", str(tmp_path / "dl")))
    assert weights.read_bytes() == bytes(range(256)) * 4
    assert written["runs"][parent]["artifacts"] == ["model/weights.bin", "notes.txt"]

    def snapshot() -> dict:
        ids = [e.experiment_id for e in client.search_experiments(ViewType.ALL)]
        runs = client.search_runs(ids, "", ViewType.ALL)
        return {r.info.run_id: (dict(r.data.params), dict(r.data.tags),
                                {k: len(client.get_metric_history(r.info.run_id, k))
                                 for k in r.data.metrics}, len(r.inputs)) for r in runs}

    before = snapshot()
    summary = import_mlflow(source, tracking_uri=store_uri)
    assert (summary.runs_copied, summary.runs_skipped, summary.experiments_created) == (0, 6, 0)
    assert snapshot() == before
    assert len(os.listdir(Path(client.download_artifacts(parent, "", str(tmp_path / "dl2"))))) == 2


def test_export_reads_back_equal_with_mlflows_client(mlflow_python, tmp_path):
    source_work = tmp_path / "src"
    source_work.mkdir()
    written = run_mlflow(mlflow_python, "mlflow_writer.py", f"sqlite:///{source_work / 'm.db'}",
                         str(source_work), cwd=str(source_work))
    store_uri = str(tmp_path / "store")
    autolog.set_tracking_uri(store_uri)
    import_mlflow(f"sqlite:///{source_work / 'm.db'}", tracking_uri=store_uri)
    # And a run autolog logged itself, with its own system tags, a dataset and an artifact.
    autolog.set_experiment("native")
    with autolog.start_run(run_name="native-run") as native:
        autolog.log_params({"alpha": 0.5})
        for step in range(5):
            autolog.log_metric("loss", 1 / (step + 1), step=step)
        autolog.log_text("plain text", "notes/readme.txt")
        autolog.log_input([[1.0, 2.0], [3.0, 4.0]], name="tiny")
    mlruns = tmp_path / "exported" / "mlruns"
    assert _cli("--tracking-uri", store_uri, "export-mlflow", str(mlruns)) == 0
    read = run_mlflow(mlflow_python, "mlflow_reader.py", f"file://{mlruns}")
    client = Client(store_uri)
    assert set(read["runs"]) == set(written["runs"]) | {native.info.run_id}
    for run_id, got in read["runs"].items():
        run = client.get_run(run_id)
        info, data = run.info, run.data
        assert (got["name"], got["status"], got["start_time"], got["end_time"],
                got["lifecycle_stage"], got["user_id"]) == (
            info.run_name, info.status, info.start_time, info.end_time, info.lifecycle_stage,
            info.user_id)
        assert got["experiment"] == client.get_experiment(info.experiment_id).name
        assert got["params"] == dict(data.params)
        assert got["tags"] == to_mlflow_tags(dict(data.tags))
        assert got["history"] == {k: _history(client, run_id, k) for k in data.metrics}
        assert got["datasets"] == [[d.name, d.digest, d.context] for d in run.inputs]
        if run_id in written["runs"]:  # MLflow -> autolog -> MLflow gives MLflow's own values
            original = written["runs"][run_id]
            assert got["history"] == {k: sorted(v, key=lambda p: (p[2], p[1]))
                                      for k, v in original["history"].items()}
            assert {k: v for k, v in got["tags"].items()} == original["tags"]
    assert read["runs"][native.info.run_id]["artifacts"] == ["notes/readme.txt"]
    assert read["experiments"]["iris"]["tags"] == written["experiments"]["iris"]["tags"]
    # Again: nothing twice.
    before = sorted(p.relative_to(mlruns).as_posix() for p in mlruns.rglob("*"))
    assert _cli("--tracking-uri", store_uri, "export-mlflow", str(mlruns)) == 0
    assert sorted(p.relative_to(mlruns).as_posix() for p in mlruns.rglob("*")) == before


def _digest(folder: Path) -> str:
    h = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        # SQLite's -shm file holds read marks, which any reader (this process too) updates.
        if path.is_file() and not path.name.endswith("-shm"):
            h.update(path.as_posix().encode() + path.read_bytes())
    return h.hexdigest()


def test_damaged_or_foreign_stores_are_refused_and_the_destination_is_untouched(
        mlflow_python, tmp_path, capsys):
    store_uri = tmp_path / "store"
    autolog.set_tracking_uri(str(store_uri))
    with autolog.start_run():
        autolog.log_metric("m", 1.0)
    autolog.flush()
    before = _digest(store_uri)

    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"this is not a database at all" * 200)
    other_app = tmp_path / "other.db"
    with sqlite3.connect(other_app) as conn:
        conn.execute("CREATE TABLE users (id INTEGER, name TEXT)")
    work = tmp_path / "mlflow-work"
    work.mkdir()
    run_mlflow(mlflow_python, "mlflow_writer.py", f"sqlite:///{work / 'mlflow.db'}", str(work),
               cwd=str(work))
    damaged = tmp_path / "damaged.db"
    data = bytearray((work / "mlflow.db").read_bytes())
    page = 4096
    data[3 * page: 12 * page] = b"\xff" * (9 * page)  # B-tree pages overwritten
    damaged.write_bytes(bytes(data))
    not_mlruns = tmp_path / "photos"
    (not_mlruns / "2024").mkdir(parents=True)
    (not_mlruns / "2024" / "a.jpg").write_bytes(b"jpg")
    cases = {
        f"sqlite:///{garbage}": "not a database",
        str(garbage): "not a database",
        f"sqlite:///{other_app}": "is not an MLflow tracking database (no table 'experiments')",
        f"sqlite:///{store_uri / 'autolog.db'}": "is not an MLflow tracking database",
        f"sqlite:///{damaged}": "database disk image is malformed",
        f"sqlite:///{tmp_path / 'missing.db'}": "No MLflow database at",
        str(not_mlruns): "is not an MLflow mlruns folder",
        "ftp://example/x": "Unsupported MLflow store",
        f"http://127.0.0.1:{free_port()}": "Cannot reach the MLflow server",
    }
    for source, message in cases.items():
        code = _cli("--tracking-uri", str(store_uri), "import-mlflow", source)
        err = capsys.readouterr().err
        assert code == 2, (source, err)
        assert message in err and err.count("\n") == 1, (source, err)
        assert _digest(store_uri) == before, source
    assert not (tmp_path / "missing.db").exists()
