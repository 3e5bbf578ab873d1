"""Shared fixtures: every test gets its own tracking folder, strict autolog, and a clean switch."""

from __future__ import annotations

import importlib
import os
import time

import pytest

os.environ["AUTOLOG_STRICT"] = "1"  # our own bugs raise in tests instead of warning
os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("KERAS_BACKEND", "torch")
# Every run writes environment/requirements.txt (and git.diff in a dirty tree): off here so that
# tests listing a run's artifacts list only what they logged; tests/core/test_environment.py
# turns it on with autolog.set_environment_logging().
os.environ.setdefault("AUTOLOG_ENVIRONMENT_EXCLUDE", "requirements,git_diff")

import autolog  # noqa: E402
from autolog import _runs, _tracking  # noqa: E402
from autolog.integrations import _config  # noqa: E402

# PostgreSQL and moto's S3 server, one of each per session, for tests/store and tests/server alike.
pytest_plugins = ["tests._services"]


def require(module: str):
    """Import a framework; skip when missing, except under CI=true, where a skip could hide a
    broken install, so it fails."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{module} is required under CI=true but is not installed: {exc}")
        pytest.skip(f"{module} is not installed", allow_module_level=True)


def next_start_time() -> None:
    """Call between runs whose newest-first order a test checks: runs started in the same
    millisecond tie on start_time and are ordered by run id (as in MLflow), which is random."""
    time.sleep(0.002)


@pytest.fixture(autouse=True)
def tracking_dir(tmp_path, monkeypatch):
    """A fresh store per test; runs left active are ended; autologging is switched off after."""
    monkeypatch.chdir(tmp_path)
    autolog.set_tracking_uri(str(tmp_path / "runs"))
    _runs.set_active_experiment(None)
    yield tmp_path
    for run_id in list(_runs._active):
        _runs.end_run(run_id=run_id, quiet=True)
    _runs._stack().clear()
    if _config._settings:
        autolog.autolog(disable=True, silent=True)
        _config._settings.clear()
        _config._explicit.clear()
    for store in list(_tracking._stores.values()):
        store.flush(raise_errors=False)
        store.inner.close()
    _tracking._stores.clear()
    _tracking._uri = None


@pytest.fixture
def client():
    return autolog.Client()
