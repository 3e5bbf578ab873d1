"""The patch helper's safety contract (issue 3, item 3), each point exercised through real
scikit-learn: calls pass through unchanged, autolog's own failures never reach the caller,
models and functions pickle as before, only the outermost call logs, run scoping, threads and
joblib worker processes."""

from __future__ import annotations

import inspect
import logging
import os
import pickle
import subprocess
import sys
import textwrap

import pytest

from tests.conftest import require

sklearn = require("sklearn")
np = require("numpy")

import autolog  # noqa: E402
from autolog.integrations import _patch  # noqa: E402
from autolog.integrations.sklearn import fit as _sklearn_fit  # noqa: E402
from autolog.integrations.sklearn import post_training as _sklearn_post  # noqa: E402
from autolog.integrations.sklearn import search as _sklearn_search  # noqa: E402

import sklearn.metrics as metrics  # noqa: E402
import sklearn.model_selection as ms  # noqa: E402
from sklearn.base import BaseEstimator, ClassifierMixin, clone  # noqa: E402
from sklearn.datasets import load_iris  # noqa: E402
from sklearn.ensemble import BaggingClassifier  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.model_selection import GridSearchCV  # noqa: E402
from sklearn.pipeline import Pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.tree import DecisionTreeClassifier  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


pytestmark = pytest.mark.usefixtures("one_blas_thread")


@pytest.fixture
def iris():
    return load_iris(return_X_y=True)


def runs():
    autolog.flush()
    return autolog.search_runs(output_format="list")


class Recording(ClassifierMixin, BaseEstimator):
    """Records how fit was called; raises what it is told to."""

    calls: list = []

    def __init__(self, raise_=None):
        self.raise_ = raise_

    def fit(self, X, y, sample_weight=None):
        Recording.calls.append((X, y, sample_weight))
        if self.raise_ is not None:
            raise self.raise_
        self.classes_ = np.unique(y)
        return self

    def predict(self, X):
        return np.full(len(X), self.classes_[0])


class ThirdPartyWrapper(BaseEstimator):
    """Stands for another library's estimator that wraps a scikit-learn model."""

    def __init__(self, inner=None):
        self.inner = inner

    def fit(self, X, y):
        self.inner_ = clone(self.inner).fit(X, y)
        return self

    def predict(self, X):
        return self.inner_.predict(X)


# -- the original is called once, with the caller's arguments; result and exception unchanged --

def test_original_called_once_with_callers_arguments_and_result_returned(iris):
    X, y = iris
    weights = np.ones(len(y))
    Recording.calls = []
    autolog.sklearn.autolog()
    est = Recording()
    result = est.fit(X, y, sample_weight=weights)
    assert result is est
    assert len(Recording.calls) == 1
    got_X, got_y, got_w = Recording.calls[0]
    assert got_X is X and got_y is y and got_w is weights


def test_exception_of_the_fit_reaches_the_caller_unchanged_and_run_fails(iris):
    error = ValueError("bad data")
    Recording.calls = []
    autolog.sklearn.autolog()
    with pytest.raises(ValueError) as caught:
        Recording(raise_=error).fit(*iris)
    assert caught.value is error
    assert len(Recording.calls) == 1
    (run,) = runs()
    assert run.info.status == "FAILED"


def test_keyboard_interrupt_marks_the_run_killed(iris):
    autolog.sklearn.autolog()
    with pytest.raises(KeyboardInterrupt):
        Recording(raise_=KeyboardInterrupt()).fit(*iris)
    (run,) = runs()
    assert run.info.status == "KILLED"


# -- autolog's own failures --------------------------------------------------------------------

STEPS = [*_sklearn_fit.PRE_STEPS, *_sklearn_fit.POST_STEPS, *_sklearn_fit.BACKGROUND_STEPS]


def _boom(*args, **kwargs):
    raise RuntimeError("injected failure")


@pytest.mark.parametrize("step", STEPS)
def test_each_failing_step_is_a_warning_and_the_fit_is_unchanged(step, iris, monkeypatch):
    X, y = iris
    expected = GridSearchCV(LogisticRegression(max_iter=300), {"C": [0.1, 1.0]}, cv=3).fit(X, y)
    monkeypatch.setenv("AUTOLOG_STRICT", "0")
    monkeypatch.setattr(_sklearn_fit, step, _boom)
    autolog.sklearn.autolog()
    with pytest.warns(autolog.AutologWarning, match=rf"sklearn integration failed in .*{step}"):
        search = GridSearchCV(LogisticRegression(max_iter=300), {"C": [0.1, 1.0]}, cv=3).fit(X, y)
        autolog.flush()
    np.testing.assert_array_equal(search.predict(X), expected.predict(X))
    np.testing.assert_array_equal(search.predict_proba(X), expected.predict_proba(X))
    assert [r.info.status for r in runs() if "autolog.parentRunId" not in r.data.tags] == ["FINISHED"]


@pytest.mark.parametrize("target", _sklearn_search.CV_STEPS)
def test_failing_cross_validation_step_is_a_warning(target, iris, monkeypatch):
    expected = ms.cross_val_score(DecisionTreeClassifier(random_state=0), *iris, cv=3)
    monkeypatch.setenv("AUTOLOG_STRICT", "0")
    monkeypatch.setattr(_sklearn_search, target, _boom)
    autolog.sklearn.autolog()
    with pytest.warns(autolog.AutologWarning, match=target):
        got = ms.cross_val_score(DecisionTreeClassifier(random_state=0), *iris, cv=3)
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("hook", ["after_predict", "after_score", "after_metric"])
def test_failing_post_training_hook_is_a_warning(hook, iris, monkeypatch):
    X, y = iris
    monkeypatch.setenv("AUTOLOG_STRICT", "0")
    autolog.sklearn.autolog()
    model = LogisticRegression(max_iter=300).fit(X, y)
    pred = model.predict(X)
    # The patches hold a reference to the hook: make the hook's own first helper fail instead.
    target = {"after_predict": "_dataset_name", "after_score": "_metric_key",
              "after_metric": "_metric_key"}[hook]
    monkeypatch.setattr(_sklearn_post, target, _boom)
    with pytest.warns(autolog.AutologWarning):
        if hook == "after_predict":
            again = model.predict(X)
            np.testing.assert_array_equal(again, pred)
        elif hook == "after_score":
            assert model.score(X, y) == pytest.approx(np.mean(pred == y))
        else:
            assert metrics.accuracy_score(y, pred) == pytest.approx(np.mean(pred == y))


def test_failure_in_the_background_is_a_warning_and_goes_to_the_log(iris, monkeypatch, caplog):
    from autolog.integrations.sklearn import plots as _sklearn_plots

    monkeypatch.setenv("AUTOLOG_STRICT", "0")

    def broken(labels, counts):
        raise RuntimeError("cannot build the spec")

    monkeypatch.setattr(_sklearn_plots, "confusion_matrix", broken)
    autolog.sklearn.autolog()
    with caplog.at_level(logging.WARNING, logger="autolog"):
        with pytest.warns(autolog.AutologWarning, match="training_confusion_matrix.png"):
            LogisticRegression(max_iter=300).fit(*iris)
            autolog.flush()
    assert any("sklearn integration failed in training_confusion_matrix.png" in r.message
               for r in caplog.records)


def test_strict_mode_reraises_autologs_own_error(iris, monkeypatch):
    monkeypatch.setattr(_sklearn_fit, "log_params", _boom)
    autolog.sklearn.autolog()
    with pytest.raises(RuntimeError, match="injected failure"):
        LogisticRegression(max_iter=300).fit(*iris)


def test_child_run_failure_is_a_single_warning(iris, monkeypatch):
    monkeypatch.setenv("AUTOLOG_STRICT", "0")
    monkeypatch.setattr(_sklearn_search, "best_rows", _boom)
    autolog.sklearn.autolog()
    with pytest.warns(autolog.AutologWarning) as record:
        GridSearchCV(DecisionTreeClassifier(random_state=0), {"max_depth": [1, 2]}, cv=3).fit(*iris)
        autolog.flush()
    assert len([w for w in record if issubclass(w.category, autolog.AutologWarning)]) == 1


# -- pickling, signatures, docstrings ---------------------------------------------------------------

def _load_in_fresh_process(path, loader):
    code = textwrap.dedent(f"""
        import sys, numpy as np
        from sklearn.datasets import load_iris
        if {loader!r} == "joblib":
            import joblib
            model = joblib.load({str(path)!r})
        else:
            import pickle
            model = pickle.load(open({str(path)!r}, "rb"))
        X, _ = load_iris(return_X_y=True)
        print(",".join(map(str, model.predict(X[:10]))), "autolog" in sys.modules)
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, env={**os.environ, "PYTHONPATH": ""})
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.split()


@pytest.mark.parametrize("serializer", ["pickle", "cloudpickle", "joblib"])
def test_autologged_model_round_trips_and_loads_without_autolog(serializer, iris, tmp_path):
    X, y = iris
    autolog.sklearn.autolog()
    model = Pipeline([("s", StandardScaler()), ("clf", LogisticRegression(max_iter=300))]).fit(X, y)
    path = tmp_path / "model.bin"
    if serializer == "joblib":
        import joblib

        joblib.dump(model, path)
        again = joblib.load(path)
    else:
        module = require(serializer)
        path.write_bytes(module.dumps(model))
        again = pickle.loads(path.read_bytes())
    np.testing.assert_array_equal(again.predict(X), model.predict(X))
    predictions, imported = _load_in_fresh_process(path, "joblib" if serializer == "joblib" else "pickle")
    assert predictions == ",".join(map(str, model.predict(X[:10])))
    assert imported == "False"


def test_users_class_from_main_pickled_by_value_loads_without_autolog(tmp_path):
    # cloudpickle writes classes defined in __main__ by value, patched methods included.
    script = tmp_path / "train.py"
    script.write_text(textwrap.dedent(f"""
        import cloudpickle, numpy as np, autolog
        from sklearn.base import BaseEstimator, RegressorMixin
        autolog.set_tracking_uri({str(tmp_path / 'runs')!r})
        autolog.autolog()

        class MeanRegressor(RegressorMixin, BaseEstimator):
            def __init__(self, shift=0.0):
                self.shift = shift
            def fit(self, X, y):
                self.mean_ = float(np.mean(y)) + self.shift
                return self
            def predict(self, X):
                return np.full(len(X), self.mean_)

        model = MeanRegressor(shift=1.0).fit(np.ones((4, 2)), np.arange(4.0))
        open({str(tmp_path / 'model.pkl')!r}, "wb").write(cloudpickle.dumps(model))
        autolog.flush()
        print(len(autolog.search_runs(output_format="list")))
    """))
    env = {**os.environ, "PYTHONPATH": ROOT, "MPLBACKEND": "Agg"}
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=env,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["1"]
    load = subprocess.run(
        [sys.executable, "-c", "import pickle, sys; m = pickle.load(open(sys.argv[1], 'rb'));"
         " print(m.predict([[0, 0]])[0], 'autolog' in sys.modules)", str(tmp_path / "model.pkl")],
        capture_output=True, text=True, timeout=120, env={**os.environ, "PYTHONPATH": ""})
    assert load.returncode == 0, load.stderr
    assert load.stdout.split() == ["2.5", "False"]


def _originals():
    """(patched callable, original) pairs recorded by the patch helper."""
    entries = _patch._patches.get("sklearn", [])
    return {(owner, attr): original for owner, attr, original in entries}


def test_patched_callables_keep_signature_and_docstring():
    autolog.sklearn.autolog()
    originals = _originals()
    checked = 0
    for (owner, attr), original in originals.items():
        if attr == "__init_subclass__":
            continue
        patched = getattr(owner, attr)
        # compared as text: a default of nan (error_score=nan) is never equal to itself
        assert str(inspect.signature(patched)) == str(inspect.signature(original)), (owner, attr)
        assert patched.__doc__ == original.__doc__, (owner, attr)
        assert patched.__name__ == original.__name__
        checked += 1
    assert checked > 300
    # and as users reach them
    import sklearn.linear_model._logistic as logistic

    raw = {a: o for (w, a), o in originals.items() if w is logistic.LogisticRegression}
    assert inspect.signature(LogisticRegression.fit) == inspect.signature(raw["fit"])
    assert inspect.signature(Pipeline.predict) == inspect.signature(
        Pipeline.__dict__["predict"].fn.__wrapped__)
    assert metrics.r2_score.__doc__ == metrics.r2_score.__wrapped__.__doc__


# -- only the outermost call logs -----------------------------------------------------------------

def test_only_the_outermost_call_logs(iris):
    X, y = iris
    autolog.sklearn.autolog(log_models=False)
    Pipeline([("s", StandardScaler()), ("clf", LogisticRegression(max_iter=300))]).fit(X, y)
    BaggingClassifier(LogisticRegression(max_iter=300), n_estimators=3, random_state=0).fit(X, y)
    ThirdPartyWrapper(DecisionTreeClassifier(random_state=0)).fit(X, y)
    GridSearchCV(DecisionTreeClassifier(random_state=0), {"max_depth": [1, 2]}, cv=3).fit(X, y)
    names = sorted(r.info.run_name for r in runs() if "autolog.parentRunId" not in r.data.tags)
    assert names == ["BaggingClassifier", "GridSearchCV", "Pipeline", "ThirdPartyWrapper"]


# -- run scoping --------------------------------------------------------------------------------

def test_a_fit_inside_a_user_run_logs_into_it(iris):
    autolog.sklearn.autolog()
    with autolog.start_run(run_name="mine") as run:
        LogisticRegression(max_iter=300, C=2.0).fit(*iris)
        assert autolog.active_run().info.run_id == run.info.run_id
    (logged,) = runs()
    assert logged.info.run_id == run.info.run_id
    assert logged.data.params["C"] == "2.0"
    assert "training_accuracy_score" in logged.data.metrics


def test_exclusive_logs_nothing_into_a_user_run(iris):
    autolog.sklearn.autolog(exclusive=True)
    with autolog.start_run() as run:
        model = LogisticRegression(max_iter=300).fit(*iris)
        metrics.accuracy_score(iris[1], model.predict(iris[0]))
        ms.cross_val_score(DecisionTreeClassifier(), *iris, cv=3)
    (logged,) = runs()
    assert logged.info.run_id == run.info.run_id
    assert logged.data.params == {} and logged.data.metrics == {}
    assert autolog.Client().list_artifacts(run.info.run_id) == []
    LogisticRegression(max_iter=300).fit(*iris)  # outside the user's run: its own run
    assert len(runs()) == 2


def test_post_training_metric_after_the_fit_run_ended(iris):
    X, y = iris
    autolog.sklearn.autolog()
    model = LogisticRegression(max_iter=300).fit(X, y)
    (fit_run,) = runs()
    assert fit_run.info.status == "FINISHED"
    X_eval = X[::3]
    assert model.score(X_eval, y[::3]) > 0.5
    assert "LogisticRegression_score_X_eval" in autolog.get_run(fit_run.info.run_id).data.metrics


# -- processes ----------------------------------------------------------------------------------

def test_joblib_worker_processes_log_nothing_twice(iris):
    autolog.sklearn.autolog(log_models=False, max_tuning_runs=2)
    search = GridSearchCV(DecisionTreeClassifier(random_state=0), {"max_depth": [1, 2, 3]}, cv=3,
                          n_jobs=-1).fit(*iris)
    scores = ms.cross_val_score(LogisticRegression(max_iter=300), *iris, cv=3, n_jobs=-1)
    logged = runs()
    parents = [r for r in logged if "autolog.parentRunId" not in r.data.tags]
    assert sorted(r.info.run_name for r in parents) == ["GridSearchCV", "LogisticRegression"]
    assert len(logged) == 2 + 2
    cv_run = next(r for r in parents if r.info.run_name == "LogisticRegression")
    assert cv_run.data.metrics["mean_test_score"] == pytest.approx(scores.mean())
    grid_run = next(r for r in parents if r.info.run_name == "GridSearchCV")
    assert grid_run.data.metrics["best_cv_score"] == pytest.approx(search.best_score_)
