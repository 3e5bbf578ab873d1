"""PostgreSQL as the tracking store, end to end: the fluent API on a ``postgresql://`` URI with
artifacts in S3, many writers at once, and bad input (long values, any language, a wrong
password, the database stopped during a run)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import autolog
from autolog import _tracking
from autolog.errors import InvalidInputError, StorageError
from autolog.testing import services


@pytest.fixture
def pg_uri(postgres_db):
    """The fresh database as a user writes it: plain ``postgresql://`` (psycopg is implied)."""
    return postgres_db.replace("postgresql+psycopg://", "postgresql://", 1)


def test_fluent_api_on_postgres_with_artifacts_in_s3(pg_uri, s3_bucket, monkeypatch, tmp_path):
    monkeypatch.setenv(_tracking.ENV_ARTIFACT_ROOT, f"s3://{s3_bucket}/artifacts")
    autolog.set_tracking_uri(pg_uri)
    autolog.set_experiment("team")
    (tmp_path / "report.txt").write_text("ok")
    with autolog.start_run(run_name="baseline") as run:
        autolog.log_params({"n_estimators": 100, "model": "rf"})
        for step, value in enumerate([0.8, 0.81, 0.82]):
            autolog.log_metric("accuracy", value, step=step)
        autolog.set_tag("phase", "Tuning")
        autolog.log_artifact(str(tmp_path / "report.txt"), "reports")
    assert run.info.artifact_uri.startswith(f"s3://{s3_bucket}/artifacts/")
    found = autolog.search_runs(
        filter_string="metrics.accuracy > 0.81 AND params.model = 'rf' AND tags.phase ILIKE 'tun%'",
        order_by=["metrics.accuracy DESC"])
    assert list(found["run_id"]) == [run.info.run_id]
    client = autolog.Client()
    assert [m.value for m in client.get_metric_history(run.info.run_id, "accuracy")] == [0.8, 0.81, 0.82]
    assert [f.path for f in client.list_artifacts(run.info.run_id, "reports")] == ["reports/report.txt"]
    local = client.download_artifacts(run.info.run_id, "reports/report.txt", str(tmp_path / "dl"))
    assert Path(local).read_text() == "ok"


def test_artifacts_default_to_the_local_folder(pg_uri, monkeypatch):
    monkeypatch.delenv(_tracking.ENV_ARTIFACT_ROOT, raising=False)
    _, root = _tracking.resolve(pg_uri)
    assert root == os.path.abspath(os.path.join("autolog-runs", "artifacts"))
    monkeypatch.setenv(_tracking.ENV_ARTIFACT_ROOT, "shared/art")
    assert _tracking.resolve(pg_uri)[1] == os.path.abspath("shared/art")


def test_parallel_writers_lose_nothing(pg_uri):
    """4 processes x 4 threads x 5,000 metrics into one run, directly into PostgreSQL."""
    from tests.store import _parallel_writer as writer

    writer.run_and_check(pg_uri)


def test_long_values_and_any_language(pg_uri):
    autolog.set_tracking_uri(pg_uri)
    with autolog.start_run() as run:
        autolog.log_param("long", "p" * 6000)
        autolog.set_tag("long", "t" * 8000)
        autolog.log_param("モデル", "ランダムフォレスト")
        autolog.set_tag("étape", "réglage Ω")
        autolog.log_metric("точность", 0.93)
        with pytest.raises(InvalidInputError) as err:
            autolog.set_tag("too_long", "x" * 10_000)
    assert "10000 characters" in str(err.value) and "at most 8000" in str(err.value)
    data = autolog.get_run(run.info.run_id).data
    assert len(data.params["long"]) == 6000 and len(data.tags["long"]) == 8000
    assert data.params["モデル"] == "ランダムフォレスト" and data.tags["étape"] == "réglage Ω"
    assert data.metrics["точность"] == 0.93 and "too_long" not in data.tags
    hits = autolog.search_runs(filter_string="params.`モデル` = 'ランダムフォレスト' AND "
                                             "tags.`étape` ILIKE 'RÉGLAGE%' AND metrics.`точность` > 0.9")
    assert list(hits["run_id"]) == [run.info.run_id]


def test_wrong_password_is_one_masked_line(postgres):
    wrong = postgres.uri.replace(f":{services.PASSWORD}@", ":not-the-password@")
    with pytest.raises(StorageError) as err:
        autolog.Client(tracking_uri=wrong).search_experiments()
    message = str(err.value)
    assert "\n" not in message and "not-the-password" not in message
    assert "***@127.0.0.1" in message and "password authentication failed" in message


def test_database_stopped_during_a_run(postgres, pg_uri):
    """Values logged while the database is down are retried and the failure is reported at the
    user's next flush; logging goes on once the database is back. The writer of this branch
    gives the values up after its retries; the reworked writer (a backlog, issue 9) keeps them
    and writes them once the database is back."""
    if not postgres.owned:
        pytest.skip("needs the throwaway cluster (AUTOLOG_TEST_POSTGRES_URI is set)")
    autolog.set_tracking_uri(pg_uri)
    run = autolog.start_run()
    autolog.log_metric("m", 1.0, step=0)
    autolog.flush()
    postgres.pause()
    try:
        autolog.log_metric("m", 2.0, step=1)  # returns at once: buffered, no I/O here
        with pytest.raises(StorageError) as err:
            autolog.flush()
        assert "\n" not in str(err.value) and services.PASSWORD not in str(err.value)
    finally:
        postgres.resume()
    autolog.log_metric("m", 3.0, step=2)
    autolog.end_run()
    stored = autolog.Client().get_run(run.info.run_id)
    assert stored.info.status == "FINISHED"
    steps = [m.step for m in autolog.Client().get_metric_history(run.info.run_id, "m")]
    kept = hasattr(_tracking.get_store(), "backlog")
    assert steps == ([0, 1, 2] if kept else [0, 2])  # kept and retried, or reported lost above


def test_cli_lists_runs_and_masks_a_wrong_password(pg_uri):
    autolog.set_tracking_uri(pg_uri)
    with autolog.start_run(run_name="cli-run"):
        autolog.log_metric("m", 1.0)

    def cli(uri: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "autolog.cli", "--tracking-uri", uri, "runs",
                               "list"], capture_output=True, text=True, timeout=120)

    listed = cli(pg_uri)
    assert listed.returncode == 0 and "cli-run" in listed.stdout, listed.stderr
    refused = cli(pg_uri.replace(f":{services.PASSWORD}@", ":hunter2@"))
    assert refused.returncode == 1 and "hunter2" not in refused.stderr
    assert refused.stderr.count("\n") == 1 and "password authentication failed" in refused.stderr
