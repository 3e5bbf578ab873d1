"""Issue 9: the safety contract at its edges, through real scikit-learn in real processes.

A failure of autolog's own code is injected by its test hook (``AUTOLOG_TEST_INJECT_FAILURE``,
read by the patch helper at import) at each point of a patched call; the user's fit must give
the same result, call the original once, and raise nothing, even under ``python -W error``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

from tests.conftest import require

sklearn = require("sklearn")
np = require("numpy")

import autolog  # noqa: E402
from autolog.integrations import _config  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

SCRIPT = textwrap.dedent("""
    import json, sys
    import numpy as np
    import autolog
    from sklearn.base import BaseEstimator, RegressorMixin
    from sklearn.linear_model import LinearRegression

    calls = []

    class Counting(RegressorMixin, BaseEstimator):
        def fit(self, X, y):
            calls.append(len(X))
            self.model_ = LinearRegression().fit(X, y)
            return self

        def predict(self, X):
            return self.model_.predict(X)

    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 3))
    y = X @ np.array([1.0, 2.0, 3.0]) + 0.5
    plain = LinearRegression().fit(X, y).coef_.tolist()
    autolog.autolog(silent=SILENT)
    est = Counting()
    returned = est.fit(X, y)
    logged = LinearRegression().fit(X, y)
    autolog.flush()
    runs = autolog.search_runs(output_format="list")
    print(json.dumps({
        "calls": calls, "returned_self": returned is est,
        "coef": est.model_.coef_.tolist(), "plain": plain, "logged_coef": logged.coef_.tolist(),
        "metrics": sorted(k for r in runs for k in r.data.metrics),
    }))
""")


def _run(tmp_path, inject: str, silent: bool = False, warn_flags=("-W", "error")):
    env = {k: v for k, v in os.environ.items() if k != "AUTOLOG_STRICT"}
    env.update(AUTOLOG_TEST_INJECT_FAILURE=inject, PYTHONPATH=ROOT,
               AUTOLOG_TRACKING_URI=str(tmp_path / "runs"), OMP_NUM_THREADS="1")
    script = SCRIPT.replace("SILENT", repr(silent))
    return subprocess.run([sys.executable, *warn_flags, "-c", script], capture_output=True,
                          text=True, env=env, cwd=tmp_path, timeout=300)


@pytest.mark.parametrize("inject", ["start", "before,after,end", "before", "after"])
def test_injected_failure_under_warnings_as_errors_never_reaches_the_fit(tmp_path, inject):
    done = _run(tmp_path, inject)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["calls"] == [60], "the original fit must run exactly once"
    assert out["returned_self"] is True
    assert out["coef"] == out["plain"] == out["logged_coef"]
    # The failure happened and was reported, as text, since it could not be a warning here.
    assert "AutologWarning: autolog: the sklearn integration failed" in done.stderr
    assert "injected by AUTOLOG_TEST_INJECT_FAILURE" in done.stderr
    assert "Traceback" not in done.stderr


def test_silent_writes_nothing_on_stdout_or_stderr(tmp_path):
    done = _run(tmp_path, "after", silent=True, warn_flags=("-W", "default"))
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    lines = done.stdout.strip().splitlines()
    assert len(lines) == 1, lines  # only the script's own line
    out = json.loads(lines[0])
    # The injected failure did happen: the after step (training metrics) never logged.
    assert out["calls"] == [60] and "training_score" not in out["metrics"]


def test_not_silent_warns_once_per_target_and_run(tmp_path):
    done = _run(tmp_path, "after", warn_flags=("-W", "default"))
    assert done.returncode == 0, done.stderr
    assert done.stderr.count("AutologWarning") == 2, done.stderr  # Counting.fit, LinearRegression.fit
    assert "training_score" not in json.loads(done.stdout.strip().splitlines()[-1])["metrics"]


def test_library_logger_has_a_null_handler_and_configures_nothing():
    import logging

    from autolog import _log

    root_handlers = list(logging.getLogger().handlers)
    assert any(isinstance(h, logging.NullHandler) for h in _log.logger.handlers)
    assert _log.logger.level == logging.NOTSET and _log.logger.propagate
    assert logging.getLogger().handlers == root_handlers


def test_recalling_autolog_with_include_turns_off_the_others():
    from sklearn.linear_model import LinearRegression

    autolog.autolog()
    assert _config.is_enabled("sklearn") and _config.is_enabled("xgboost")
    autolog.autolog(include=["xgboost"])
    assert not _config.is_enabled("sklearn") and _config.is_enabled("xgboost")
    LinearRegression().fit([[0.0], [1.0]], [0.0, 1.0])
    autolog.flush()
    assert autolog.search_runs(output_format="list") == []
    autolog.autolog(exclude=["xgboost"])
    assert _config.is_enabled("sklearn") and not _config.is_enabled("xgboost")
    LinearRegression().fit([[0.0], [1.0]], [0.0, 1.0])
    autolog.flush()
    assert len(autolog.search_runs(output_format="list")) == 1


# -- item 3: a store failing under an autologged fit ---------------------------------------------

_MIDWAY: dict = {}


def _midway(X):
    # Module-level (the fitted pipeline is pickled by autolog): commit what was logged so far
    # (the run exists), then make the database read-only for the rest of the fit.
    from tests._store_faults import read_only

    if "stack" in _MIDWAY:  # during the fit only, not when the pipeline predicts
        autolog.flush()
        _MIDWAY["stack"].enter_context(read_only(_MIDWAY["db"]))
    return X


def _fit_that_turns_the_store_read_only(stack, db):
    """A real pipeline whose first step turns the store read-only: everything the fit logs
    after that point fails to store."""
    from sklearn.linear_model import LinearRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import FunctionTransformer

    _MIDWAY.update(stack=stack, db=db)
    X = np.arange(40, dtype=float).reshape(20, 2)
    y = X @ np.array([1.0, -1.0]) + 3.0
    model = Pipeline([("midway", FunctionTransformer(_midway)), ("lr", LinearRegression())])
    try:
        return model.fit(X, y)
    finally:
        _MIDWAY.clear()


def test_store_read_only_mid_fit_warns_once_naming_the_run_and_the_user_run_is_unaffected(monkeypatch):
    import contextlib
    import time
    from pathlib import Path

    from sklearn.linear_model import LinearRegression

    from autolog import _runs, _tracking
    from autolog.store import _backlog

    monkeypatch.setenv("AUTOLOG_WRITE_RETRY_S", "0.2")
    autolog.autolog()
    store = _tracking.get_store()
    db = Path(store.inner.db_url.split("///", 1)[1])
    with contextlib.ExitStack() as stack:
        fitted = _fit_that_turns_the_store_read_only(stack, db)  # no exception
        lost_run = _runs._last_run_id
        autolog.flush()  # the user's flush: the autologged run's failure is not raised here
        for _ in range(400):  # the writer gives up on its own after the retry window
            if not store.backlog():
                break
            time.sleep(0.05)
        assert store.backlog() == 0
    assert _backlog.undelivered and lost_run in _backlog.undelivered[0][1]
    with autolog.start_run() as user_run:  # the user's next run: unaffected, nothing raised
        autolog.log_metric("mine", 1.0)
    assert autolog.get_run(user_run.info.run_id).data.metrics == {"mine": 1.0}
    with pytest.warns(autolog.AutologWarning) as caught:
        LinearRegression().fit([[0.0], [1.0]], [0.0, 1.0])  # the next autologged call
    messages = [str(w.message) for w in caught if issubclass(w.category, autolog.AutologWarning)]
    assert len(messages) == 1 and lost_run in messages[0] and "were not stored" in messages[0]
    assert "params, metrics and tags" in messages[0]
    assert not _backlog.undelivered
    assert fitted.predict([[1.0, 2.0]]).shape == (1,)


EXIT_SCRIPT = textwrap.dedent("""
    import autolog
    from autolog import _runs, _tracking
    from autolog.store.sql import SqlStore
    from sklearn.linear_model import LinearRegression

    experiment = autolog.set_experiment("doomed")
    autolog.autolog()
    LinearRegression().fit([[0.0], [1.0], [2.0]], [0.0, 1.0, 2.0])  # stored
    autolog.flush()
    # Another process deletes the experiment after this one saw it active.
    store = _tracking.get_store()
    other = SqlStore(store.inner.db_url, store.inner.artifact_root)
    other.set_experiment_lifecycle(experiment.experiment_id, "deleted")
    other.close()
    LinearRegression().fit([[0.0], [1.0], [2.0]], [0.0, 1.0, 2.0])
    print(_runs._last_run_id, flush=True)
""")


def test_losses_of_autologged_runs_are_reported_at_exit(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "AUTOLOG_STRICT"}
    env.update(PYTHONPATH=ROOT, AUTOLOG_TRACKING_URI=str(tmp_path / "runs"), OMP_NUM_THREADS="1")
    done = subprocess.run([sys.executable, "-c", EXIT_SCRIPT], capture_output=True, text=True,
                          env=env, cwd=tmp_path, timeout=300)
    assert done.returncode == 0, done.stderr
    run_id = done.stdout.split()[-1]
    assert done.stderr.count("AutologWarning") == 1, done.stderr
    assert f"values of run {run_id} were not stored" in done.stderr
    assert "deleted" in done.stderr and "Traceback" not in done.stderr
