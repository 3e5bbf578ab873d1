"""XGBoost integration against the real library: native train/cv, the sklearn API, early
stopping, importance, models, datasets, callbacks, fault injection and the example."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import autolog
from autolog.errors import AutologWarning
from autolog.integrations import _boosting, _patch
from tests.conftest import require
from tests.integrations._reading import artifacts, history, only_run, read_artifact

xgb = require("xgboost")
pd = require("pandas")

ROOT = Path(__file__).resolve().parents[2]
COLUMNS = ["age", "income", "height", "weight", "score"]


@pytest.fixture
def data():
    """A small, noisy binary problem (early stopping triggers well before 200 rounds)."""
    rng = np.random.default_rng(7)
    X = pd.DataFrame(rng.normal(size=(240, 5)), columns=COLUMNS)
    y = ((X["age"] + 0.5 * X["income"] + rng.normal(scale=1.0, size=240)) > 0).astype(int)
    return X.iloc[:180], y.iloc[:180], X.iloc[180:], y.iloc[180:]


PARAMS = {"objective": "binary:logistic", "eval_metric": ["logloss", "error@0.6"],
          "nthread": 1, "max_depth": 3, "eta": 0.3, "seed": 0}


def native_train(data, rounds=12, **kwargs):
    X, y, Xv, yv = data
    dtrain, dvalid = xgb.DMatrix(X, y), xgb.DMatrix(Xv, yv)
    return xgb.train(PARAMS, dtrain, rounds, evals=[(dtrain, "train"), (dvalid, "eval")],
                     verbose_eval=False, **kwargs)


def test_train_logs_params_and_one_point_per_iteration(data):
    autolog.xgboost.autolog()
    native_train(data, rounds=12)
    run = only_run()
    assert run.data.tags["autolog.integration"] == "xgboost"
    assert run.info.run_name == "xgboost.train"
    params = run.data.params
    assert params["max_depth"] == "3" and params["objective"] == "binary:logistic"
    assert params["num_boost_round"] == "12" and params["early_stopping_rounds"] == "None"
    assert params["verbose_eval"] == "False" and "maximize" in params
    assert not {"dtrain", "evals", "callbacks", "evals_result"} & set(params)
    for key in ("train-logloss", "eval-logloss", "train-error_at_0.6", "eval-error_at_0.6"):
        points = history(run, key)
        assert [m.step for m in points] == list(range(12)), key
    assert "best_iteration" not in run.data.metrics  # no early stopping, no best_* metrics
    assert [(d.name, d.context, d.shape) for d in run.inputs] == [
        ("train", "train", (180, 5)), ("eval", "eval", (60, 5))]


def test_custom_metric_logged_by_name(data):
    def my_error(predt, dmatrix):
        return "my_error", float(np.mean((predt > 0.5) != dmatrix.get_label()))

    autolog.xgboost.autolog()
    native_train(data, rounds=4, custom_metric=my_error)
    run = only_run()
    assert run.data.params["custom_metric"].endswith("my_error")  # no memory address
    assert [m.step for m in history(run, "eval-my_error")] == [0, 1, 2, 3]


def test_train_early_stopping(data):
    autolog.xgboost.autolog()
    booster = native_train(data, rounds=300, early_stopping_rounds=4)
    trained = booster.num_boosted_rounds()
    assert trained < 300  # the data makes early stopping trigger
    run = only_run()
    metrics = run.data.metrics
    assert metrics["best_iteration"] == booster.best_iteration
    assert metrics["stopped_iteration"] == trained - 1
    assert run.data.params["early_stopping_rounds"] == "4"
    evals = history(run, "eval-error_at_0.6")  # early stopping watches the last metric
    assert [m.step for m in evals] == list(range(trained))
    at_best = {m.step: m.value for m in history(run, "eval-logloss")}[booster.best_iteration]
    assert metrics["best_eval-logloss"] == pytest.approx(at_best)
    assert metrics["best_eval-error_at_0.6"] == pytest.approx(float(booster.attr("best_score")))


def test_save_best_keeps_stopped_iteration_from_training(data):
    autolog.xgboost.autolog()
    stopper = xgb.callback.EarlyStopping(rounds=3, save_best=True)
    booster = native_train(data, rounds=300, callbacks=[stopper])
    run = only_run()
    trained = len(history(run, "eval-error_at_0.6"))
    # save_best cut the booster back to the best iteration; the history still shows them all.
    assert booster.num_boosted_rounds() == run.data.metrics["best_iteration"] + 1
    assert run.data.metrics["stopped_iteration"] == trained - 1
    assert trained == run.data.metrics["best_iteration"] + 1 + 3


def test_training_continuation_steps_follow_the_booster(data):
    first = native_train(data, rounds=5)
    autolog.xgboost.autolog()
    native_train(data, rounds=4, xgb_model=first)
    run = only_run()
    assert [m.step for m in history(run, "eval-logloss")] == [5, 6, 7, 8]


def test_user_callbacks_called_and_list_unchanged(data):
    class Counter(xgb.callback.TrainingCallback):
        def __init__(self):
            super().__init__()
            self.epochs = []

        def after_iteration(self, model, epoch, evals_log):
            self.epochs.append(epoch)
            return False

    autolog.xgboost.autolog()
    counter = Counter()
    callbacks = [counter]
    native_train(data, rounds=6, callbacks=callbacks)
    assert callbacks == [counter] and len(callbacks) == 1
    assert counter.epochs == list(range(6))
    assert len(history(only_run(), "eval-logloss")) == 6


def test_user_callback_that_stops_training_still_logs_last_iteration(data):
    class StopAt(xgb.callback.TrainingCallback):
        def after_iteration(self, model, epoch, evals_log):
            return epoch == 3

    autolog.xgboost.autolog()
    native_train(data, rounds=20, callbacks=[StopAt()])
    assert [m.step for m in history(only_run(), "eval-logloss")] == [0, 1, 2, 3]


def test_importance_with_feature_names(data):
    autolog.xgboost.autolog(importance_types=("weight", "gain", "cover"))
    booster = native_train(data, rounds=5)
    run = only_run()
    names = artifacts(run)
    for kind in ("weight", "gain", "cover"):
        assert {f"feature_importance_{kind}.json", f"feature_importance_{kind}.png"} <= names
        payload = read_artifact(run, f"feature_importance_{kind}.json")
        assert list(payload) == COLUMNS  # every feature, unused ones as 0
        scores = booster.get_score(importance_type=kind)
        assert {k: v for k, v in payload.items() if k in scores} == pytest.approx(scores)


def test_gblinear_multiclass_importance_per_class(data):
    X, _, _, _ = data
    y = np.arange(len(X)) % 3
    autolog.xgboost.autolog()
    xgb.train({"booster": "gblinear", "objective": "multi:softprob", "num_class": 3,
               "nthread": 1}, xgb.DMatrix(X, y), 3)
    run = only_run()
    payload = read_artifact(run, "feature_importance_weight.json")
    assert list(payload) == COLUMNS and all(len(v) == 3 for v in payload.values())
    assert "feature_importance_gain.json" not in artifacts(run)  # gblinear has weight only


def test_booster_round_trip_and_metadata(data):
    X, _, Xv, _ = data
    autolog.xgboost.autolog(log_input_examples=True)
    booster = native_train(data, rounds=8)
    run = only_run()
    uri = f"runs:/{run.info.run_id}/model"
    loaded = autolog.load_model(uri)
    assert isinstance(loaded, xgb.Booster)
    assert np.array_equal(loaded.predict(xgb.DMatrix(Xv)), booster.predict(xgb.DMatrix(Xv)))
    info = autolog.models.get_model_info(uri)
    assert info.flavor == "xgboost" and info.metadata["flavor_metadata"]["model_type"] == "booster"
    assert [s["name"] for s in info.signature.inputs] == COLUMNS and info.signature.outputs
    assert Path(run.info.artifact_uri, "model", "model.ubj").is_file()
    example = json.loads(Path(run.info.artifact_uri, "model", "input_example.json").read_text())
    assert example["columns"] == COLUMNS and len(example["data"]) == 5
    assert np.allclose(example["data"], X.iloc[:5].to_numpy())


def test_json_model_format(data):
    autolog.xgboost.autolog(model_format="json")
    booster = native_train(data, rounds=3)
    run = only_run()
    assert Path(run.info.artifact_uri, "model", "model.xgb.json").is_file()
    loaded = autolog.load_model(f"runs:/{run.info.run_id}/model")
    assert loaded.get_dump() == booster.get_dump()


def test_sklearn_classifier_one_run_early_stopping_and_round_trip(data):
    X, y, Xv, yv = data
    autolog.xgboost.autolog()
    model = xgb.XGBClassifier(n_estimators=300, early_stopping_rounds=4, max_depth=3,
                              n_jobs=1, eval_metric="logloss", random_state=0)
    model.fit(X, y, eval_set=[(Xv, yv)], verbose=False)
    run = only_run()  # train() inside fit() did not start a second run
    assert run.info.run_name == "XGBClassifier"
    assert run.data.tags["autolog.integration"] == "xgboost"
    assert run.data.params["n_estimators"] == "300" and run.data.params["max_depth"] == "3"
    assert "num_boost_round" not in run.data.params  # get_params(), not train()'s settings
    trained = model.get_booster().num_boosted_rounds()
    assert trained < 300
    assert [m.step for m in history(run, "validation_0-logloss")] == list(range(trained))
    assert run.data.metrics["best_iteration"] == model.best_iteration
    assert run.data.metrics["stopped_iteration"] == trained - 1
    assert [(d.name, d.context) for d in run.inputs] == [("train", "train"), ("validation_0", "eval")]
    uri = f"runs:/{run.info.run_id}/model"
    loaded = autolog.load_model(uri)
    assert type(loaded) is xgb.XGBClassifier
    assert np.array_equal(loaded.predict_proba(Xv), model.predict_proba(Xv))
    assert loaded.get_params()["max_depth"] == 3
    booster = autolog.load_model(uri, model_type="booster")
    assert isinstance(booster, xgb.Booster)
    assert np.array_equal(booster.predict(xgb.DMatrix(Xv)),
                          model.get_booster().predict(xgb.DMatrix(Xv)))


@pytest.mark.parametrize("cls", ["XGBRegressor", "XGBRFRegressor", "XGBRFClassifier", "XGBRanker"])
def test_sklearn_api_classes_one_run_each(data, cls):
    X, y, Xv, yv = data
    autolog.xgboost.autolog()
    model = getattr(xgb, cls)(n_estimators=4, n_jobs=1, max_depth=2)
    fit = {"eval_set": [(Xv, yv)], "verbose": False}
    if cls == "XGBRanker":
        fit.update(qid=np.repeat(np.arange(18), 10), eval_qid=[np.repeat(np.arange(6), 10)])
    model.fit(X, y, **fit)
    run = only_run()
    assert run.info.run_name == cls
    assert run.data.tags["autolog.integration"] == "xgboost"
    assert any(k.startswith("validation_0-") for k in run.data.metrics)
    key = next(k for k in run.data.metrics if k.startswith("validation_0-"))
    rounds = model.get_booster().num_boosted_rounds()
    assert len(history(run, key)) == (1 if cls.startswith("XGBRF") else rounds)
    loaded = autolog.load_model(f"runs:/{run.info.run_id}/model")
    assert type(loaded) is type(model)
    assert np.array_equal(loaded.predict(Xv), model.predict(Xv))


def test_user_callbacks_on_the_estimator_unchanged(data):
    X, y, Xv, yv = data

    class Counter(xgb.callback.TrainingCallback):
        calls = 0

        def after_iteration(self, model, epoch, evals_log):
            type(self).calls += 1
            return False

    autolog.xgboost.autolog()
    callbacks = [Counter()]
    model = xgb.XGBClassifier(n_estimators=5, n_jobs=1, callbacks=callbacks)
    model.fit(X, y, eval_set=[(Xv, yv)], verbose=False)
    assert Counter.calls == 5 and len(callbacks) == 1 and model.callbacks is callbacks
    assert len(history(only_run(), "validation_0-logloss")) == 5


def test_autolog_all_integrations_gives_one_xgboost_run(data):
    X, y, Xv, yv = data
    autolog.autolog()
    model = xgb.XGBClassifier(n_estimators=6, n_jobs=1)
    model.fit(X, y, eval_set=[(Xv, yv)], verbose=False)
    run = only_run()
    assert run.data.tags["autolog.integration"] == "xgboost"
    assert len(history(run, "validation_0-logloss")) == 6
    assert "feature_importance_weight.json" in artifacts(run)


def test_inside_sklearn_pipeline_the_pipeline_run_logs(data):
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y, Xv, yv = data
    autolog.autolog()
    pipeline = make_pipeline(StandardScaler(), xgb.XGBClassifier(n_estimators=4, n_jobs=1))
    # The scaler hands the classifier arrays: the eval set must be one too.
    pipeline.fit(X, y, xgbclassifier__eval_set=[(Xv.to_numpy(), yv)], xgbclassifier__verbose=False)
    run = only_run()  # the outermost call (sklearn's Pipeline.fit) logs; train() stays silent
    assert run.data.tags["autolog.integration"] == "sklearn"
    assert not any(k.startswith("validation_0-") for k in run.data.metrics)


def test_inside_user_run_and_exclusive(data):
    autolog.xgboost.autolog()
    with autolog.start_run(run_name="mine") as mine:
        native_train(data, rounds=3)
    run = only_run()
    assert run.info.run_id == mine.info.run_id and len(history(run, "eval-logloss")) == 3
    autolog.xgboost.autolog(exclusive=True)
    with autolog.start_run(run_name="other") as other:
        native_train(data, rounds=3)
    autolog.flush()
    assert autolog.get_run(other.info.run_id).data.metrics == {}


def test_cv_one_run_mean_and_std_per_round(data):
    X, y, _, _ = data
    autolog.xgboost.autolog()
    result = xgb.cv({"objective": "binary:logistic", "nthread": 1, "max_depth": 2},
                    xgb.DMatrix(X, y), num_boost_round=7, nfold=3, seed=1)
    run = only_run()
    assert run.info.run_name == "xgboost.cv" and run.data.params["nfold"] == "3"
    assert run.data.params["max_depth"] == "2"
    assert set(result.columns) <= set(run.data.metrics)
    for column in result.columns:
        points = history(run, column)
        assert [m.step for m in points] == list(range(7))
        assert [m.value for m in points] == pytest.approx(result[column].tolist())


def test_patched_functions_and_models_pickle(data):
    import pickle

    X, y, Xv, _ = data
    autolog.xgboost.autolog()
    for fn in (xgb.train, xgb.cv, xgb.sklearn.train):
        assert pickle.loads(pickle.dumps(fn)) is fn
    model = xgb.XGBClassifier(n_estimators=3, n_jobs=1).fit(X, y)
    assert np.array_equal(pickle.loads(pickle.dumps(model)).predict(Xv), model.predict(Xv))


def test_module_imports_no_framework():
    code = ("import sys, autolog, autolog.integrations.xgboost, autolog.xgboost; "
            "assert not {'xgboost', 'sklearn', 'pandas'} & set(sys.modules), sys.modules.keys()")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_disable_restores_originals(data):
    targets = [(xgb, "train"), (xgb, "cv"), (xgb.sklearn, "train"), (xgb.training, "train"),
               (xgb.core.DMatrix, "__init__"), (xgb.XGBClassifier, "fit"), (xgb.sklearn.XGBModel, "fit")]
    originals = [owner.__dict__[attr] for owner, attr in targets]
    autolog.xgboost.autolog()
    assert xgb.sklearn.train is xgb.train  # one wrapper, installed in both places
    assert all(owner.__dict__[attr] is not o for (owner, attr), o in zip(targets, originals)
               if (owner, attr) != (xgb.training, "train"))
    autolog.xgboost.autolog(disable=True)
    assert [owner.__dict__[attr] for owner, attr in targets] == originals
    assert not any(_patch.is_patched(owner, attr) for owner, attr in targets)
    native_train(data, rounds=2)
    autolog.flush()
    assert autolog.search_runs(output_format="list") == []


# -- fault injection: each logging step fails in turn; training is unaffected -----------------
def _boom(*args, **kwargs):
    raise RuntimeError("injected")


STEPS = [(_boosting, "log_params"), (_boosting, "log_datasets"), (_boosting.Tracker, "record"),
         (_boosting, "log_early_stopping"), (_boosting, "log_importance"),
         (_boosting, "log_model"), (_boosting, "fingerprint"), (_boosting, "head_copy"),
         (_boosting, "with_callback")]


@pytest.mark.parametrize("owner,name", STEPS, ids=[n for _, n in STEPS])
@pytest.mark.parametrize("api", ["native", "sklearn"])
def test_fault_injection(data, monkeypatch, owner, name, api):
    X, y, Xv, yv = data

    def fit():
        if api == "native":
            return native_train(data, rounds=30, early_stopping_rounds=3).predict(xgb.DMatrix(Xv))
        model = xgb.XGBClassifier(n_estimators=30, early_stopping_rounds=3, n_jobs=1,
                                  random_state=0)
        return model.fit(X, y, eval_set=[(Xv, yv)], verbose=False).predict_proba(Xv)

    expected = fit()  # autolog off
    autolog.xgboost.autolog()
    monkeypatch.setenv("AUTOLOG_STRICT", "0")
    # Reports are once per (target, run); a DMatrix built outside any run shares one key
    # across tests, so start from a clean slate.
    monkeypatch.setattr(_patch, "_reported", set())
    monkeypatch.setattr(owner, name, _boom)
    with pytest.warns(AutologWarning, match="xgboost"):
        got = fit()
        autolog.flush()
    assert np.array_equal(got, expected)
    run = only_run()
    assert run.info.status == "FINISHED"


def test_example_runs_and_logs(tmp_path):
    store = tmp_path / "example-runs"
    env = {**os.environ, "AUTOLOG_TRACKING_URI": str(store), "MPLBACKEND": "Agg",
           "AUTOLOG_STRICT": "1", "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, str(ROOT / "examples/xgboost_sklearn_early_stopping.py")],
                          env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    autolog.set_tracking_uri(str(store))
    run = only_run()
    assert run.data.tags["autolog.integration"] == "xgboost"
    assert run.info.run_name == "XGBClassifier"
    trained = int(run.data.metrics["stopped_iteration"]) + 1
    assert len(history(run, "validation_0-logloss")) == trained
    assert "best_validation_0-auc" in run.data.metrics
    assert {"model", "feature_importance_gain.json"} <= artifacts(run)
    assert "mean radius" in read_artifact(run, "feature_importance_gain.json")


def test_cv_with_early_stopping_logs_exactly_the_rounds_it_returns(data):
    X, y, _, _ = data
    autolog.xgboost.autolog()
    params = {"objective": "binary:logistic", "nthread": 1, "max_depth": 4, "eta": 0.9}
    result = xgb.cv(params, xgb.DMatrix(X, y), num_boost_round=200, nfold=3, seed=1,
                    early_stopping_rounds=3)
    kept = len(result)
    assert kept < 200
    run = only_run()
    assert run.data.params["early_stopping_rounds"] == "3"
    for column in result.columns:
        points = history(run, column)
        assert [m.step for m in points] == list(range(kept)), column
        assert [m.value for m in points] == pytest.approx(result[column].tolist())
    metrics = run.data.metrics
    assert metrics["best_iteration"] == kept - 1
    assert metrics["stopped_iteration"] >= kept  # the rounds trained past the best are not logged
    assert metrics["best_test-logloss-mean"] == pytest.approx(result["test-logloss-mean"].iloc[-1])
