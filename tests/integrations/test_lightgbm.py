"""LightGBM integration against the real library: native train/cv, the sklearn API, early
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

lgb = require("lightgbm")
pd = require("pandas")

ROOT = Path(__file__).resolve().parents[2]
COLUMNS = ["age", "income", "height", "weight", "score"]
PARAMS = {"objective": "binary", "metric": ["binary_logloss", "auc"], "num_threads": 1,
          "verbose": -1, "num_leaves": 7, "learning_rate": 0.3, "seed": 0, "deterministic": True}


@pytest.fixture
def data():
    """A small, noisy binary problem (early stopping triggers well before 300 rounds)."""
    rng = np.random.default_rng(7)
    X = pd.DataFrame(rng.normal(size=(300, 5)), columns=COLUMNS)
    y = ((X["age"] + 0.5 * X["income"] + rng.normal(scale=1.0, size=300)) > 0).astype(int)
    return X.iloc[:220], y.iloc[:220], X.iloc[220:], y.iloc[220:]


def native_train(data, rounds=10, callbacks=None, params=None, **kwargs):
    X, y, Xv, yv = data
    train_set = lgb.Dataset(X, y)
    valid_set = lgb.Dataset(Xv, yv, reference=train_set)
    return lgb.train(params or PARAMS, train_set, rounds, valid_sets=[train_set, valid_set],
                     valid_names=["training", "valid_0"], callbacks=callbacks, **kwargs)


def test_train_logs_params_and_one_point_per_iteration(data):
    autolog.lightgbm.autolog()
    native_train(data, rounds=9)
    run = only_run()
    assert run.data.tags["autolog.integration"] == "lightgbm"
    assert run.info.run_name == "lightgbm.train"
    params = run.data.params
    assert params["num_leaves"] == "7" and params["objective"] == "binary"
    assert params["num_boost_round"] == "9" and params["keep_training_booster"] == "False"
    assert not {"train_set", "valid_sets", "valid_names", "callbacks"} & set(params)
    for key in ("training-binary_logloss", "training-auc", "valid_0-binary_logloss", "valid_0-auc"):
        assert [m.step for m in history(run, key)] == list(range(9)), key
    assert "best_iteration" not in run.data.metrics
    assert [(d.name, d.context, d.shape) for d in run.inputs] == [
        ("train", "train", (220, 5)), ("valid_0", "eval", (80, 5))]


def test_default_valid_names_and_ndcg_key(data):
    X, y, Xv, yv = data
    autolog.lightgbm.autolog()
    train_set = lgb.Dataset(X, y, group=[20] * 11)
    valid_set = lgb.Dataset(Xv, yv, group=[20] * 4, reference=train_set)
    lgb.train({"objective": "lambdarank", "metric": "ndcg", "eval_at": [3], "verbose": -1,
               "num_threads": 1}, train_set, 4, valid_sets=[valid_set])
    run = only_run()
    assert len(history(run, "valid_0-ndcg_at_3")) == 4  # "@" becomes "_at_"


def trained_rounds(evals):
    """Rounds actually trained: after early stopping, train() keeps only the best trees, so
    Booster.current_iteration() is the best iteration, not the last one."""
    return len(next(iter(next(iter(evals.values())).values())))


def test_train_early_stopping_zero_based(data):
    autolog.lightgbm.autolog()
    evals = {}
    booster = native_train(data, rounds=300, callbacks=[lgb.early_stopping(4, verbose=False),
                                                        lgb.record_evaluation(evals)])
    trained = trained_rounds(evals)
    assert trained < 300
    run = only_run()
    metrics = run.data.metrics
    assert metrics["best_iteration"] == booster.best_iteration - 1  # LightGBM's is 1-based
    assert metrics["stopped_iteration"] == trained - 1
    assert [m.step for m in history(run, "valid_0-auc")] == list(range(trained))
    best = booster.best_iteration - 1
    for key in ("valid_0-binary_logloss", "valid_0-auc", "training-auc"):
        at_best = {m.step: m.value for m in history(run, key)}[best]
        assert metrics[f"best_{key}"] == pytest.approx(at_best)
    assert metrics["best_valid_0-auc"] == pytest.approx(booster.best_score["valid_0"]["auc"])


def test_early_stopping_from_params(data):
    autolog.lightgbm.autolog()
    evals = {}
    booster = native_train(data, rounds=300, params={**PARAMS, "early_stopping_round": 4},
                           callbacks=[lgb.record_evaluation(evals)])
    run = only_run()
    assert run.data.params["early_stopping_round"] == "4"
    assert run.data.metrics["stopped_iteration"] == trained_rounds(evals) - 1
    assert run.data.metrics["best_iteration"] == booster.best_iteration - 1
    assert len(history(run, "valid_0-auc")) == trained_rounds(evals)


def test_user_callbacks_called_and_list_unchanged(data):
    seen = []

    def mine(env):
        seen.append(env.iteration)

    autolog.lightgbm.autolog()
    stopper = lgb.early_stopping(3, verbose=False)
    callbacks = [mine, stopper]
    native_train(data, rounds=300, callbacks=callbacks)
    assert callbacks == [mine, stopper]
    assert 0 < len(seen) < 300 and seen == list(range(len(seen)))
    assert len(history(only_run(), "valid_0-auc")) == len(seen)


def test_importance_with_feature_names(data):
    autolog.lightgbm.autolog()
    booster = native_train(data, rounds=5)
    run = only_run()
    for kind in ("split", "gain"):
        assert {f"feature_importance_{kind}.json", f"feature_importance_{kind}.png"} <= artifacts(run)
        payload = read_artifact(run, f"feature_importance_{kind}.json")
        assert list(payload) == COLUMNS
        assert list(payload.values()) == pytest.approx(
            booster.feature_importance(importance_type=kind).tolist())


def test_booster_round_trip_and_metadata(data):
    X, _, Xv, _ = data
    autolog.lightgbm.autolog(log_input_examples=True)
    booster = native_train(data, rounds=300, callbacks=[lgb.early_stopping(4, verbose=False)])
    run = only_run()
    uri = f"runs:/{run.info.run_id}/model"
    loaded = autolog.load_model(uri)
    assert isinstance(loaded, lgb.Booster)
    assert np.array_equal(loaded.predict(Xv), booster.predict(Xv))
    info = autolog.models.get_model_info(uri)
    assert info.flavor == "lightgbm" and info.metadata["flavor_metadata"]["model_type"] == "booster"
    assert [s["name"] for s in info.signature.inputs] == COLUMNS and info.signature.outputs
    assert Path(run.info.artifact_uri, "model", "model.txt").read_text().startswith("tree")
    example = json.loads(Path(run.info.artifact_uri, "model", "input_example.json").read_text())
    assert example["columns"] == COLUMNS and np.allclose(example["data"], X.iloc[:5].to_numpy())


def test_sklearn_classifier_one_run_early_stopping_and_round_trip(data):
    X, y, Xv, yv = data
    autolog.lightgbm.autolog()
    model = lgb.LGBMClassifier(n_estimators=300, num_leaves=7, learning_rate=0.3, n_jobs=1,
                               verbose=-1, random_state=0)
    model.fit(X, y, eval_X=(Xv,), eval_y=(yv,), callbacks=[lgb.early_stopping(4, verbose=False)])
    run = only_run()  # train() inside fit() did not start a second run
    assert run.info.run_name == "LGBMClassifier"
    assert run.data.tags["autolog.integration"] == "lightgbm"
    assert run.data.params["n_estimators"] == "300" and run.data.params["num_leaves"] == "7"
    assert "num_boost_round" not in run.data.params  # get_params(), not train()'s settings
    trained = trained_rounds(model.evals_result_)
    assert trained < 300
    assert [m.step for m in history(run, "valid_0-binary_logloss")] == list(range(trained))
    assert run.data.metrics["best_iteration"] == model.best_iteration_ - 1
    assert run.data.metrics["stopped_iteration"] == trained - 1
    assert [(d.name, d.context) for d in run.inputs] == [("train", "train"), ("valid_0", "eval")]
    uri = f"runs:/{run.info.run_id}/model"
    loaded = autolog.load_model(uri)
    assert type(loaded) is lgb.LGBMClassifier
    assert np.array_equal(loaded.predict_proba(Xv), model.predict_proba(Xv))
    assert list(loaded.classes_) == list(model.classes_)
    booster = autolog.load_model(uri, model_type="booster")
    assert isinstance(booster, lgb.Booster)
    assert np.array_equal(booster.predict(Xv), model.booster_.predict(Xv))


@pytest.mark.parametrize("cls", ["LGBMRegressor", "LGBMRanker"])
def test_sklearn_api_classes_one_run_each(data, cls):
    X, y, Xv, yv = data
    autolog.lightgbm.autolog()
    model = getattr(lgb, cls)(n_estimators=4, n_jobs=1, verbose=-1, num_leaves=5)
    fit = {"eval_X": (Xv,), "eval_y": (yv,)}
    if cls == "LGBMRanker":
        fit.update(group=[20] * 11, eval_group=[[20] * 4])
    model.fit(X, y, **fit)
    run = only_run()
    assert run.info.run_name == cls and run.data.tags["autolog.integration"] == "lightgbm"
    key = next(k for k in run.data.metrics if k.startswith("valid_0-"))
    assert len(history(run, key)) == 4
    loaded = autolog.load_model(f"runs:/{run.info.run_id}/model")
    assert type(loaded) is type(model)
    assert np.array_equal(loaded.predict(Xv), model.predict(Xv))


def test_autolog_all_integrations_gives_one_lightgbm_run(data):
    X, y, Xv, yv = data
    autolog.autolog()
    model = lgb.LGBMClassifier(n_estimators=5, n_jobs=1, verbose=-1)
    model.fit(X, y, eval_X=(Xv,), eval_y=(yv,))
    run = only_run()
    assert run.data.tags["autolog.integration"] == "lightgbm"
    assert len(history(run, "valid_0-binary_logloss")) == 5
    assert "feature_importance_split.json" in artifacts(run)


def test_cv_one_run_mean_and_stdv_per_round(data):
    X, y, _, _ = data
    autolog.lightgbm.autolog()
    result = lgb.cv({"objective": "regression", "verbose": -1, "num_threads": 1, "num_leaves": 5},
                    lgb.Dataset(X, y.astype(float)), num_boost_round=6, nfold=3, seed=1)
    run = only_run()
    assert run.info.run_name == "lightgbm.cv" and run.data.params["nfold"] == "3"
    assert set(result) == {"valid l2-mean", "valid l2-stdv"} <= set(run.data.metrics)
    for key, values in result.items():
        points = history(run, key)
        assert [m.step for m in points] == list(range(6))
        assert [m.value for m in points] == pytest.approx(values)


def test_patched_functions_and_models_pickle(data):
    import pickle

    X, y, Xv, _ = data
    autolog.lightgbm.autolog()
    for fn in (lgb.train, lgb.cv, lgb.sklearn.train):
        assert pickle.loads(pickle.dumps(fn)) is fn
    model = lgb.LGBMRegressor(n_estimators=3, n_jobs=1, verbose=-1).fit(X, y)
    assert np.array_equal(pickle.loads(pickle.dumps(model)).predict(Xv), model.predict(Xv))


def test_module_imports_no_framework():
    code = ("import sys, autolog, autolog.integrations.lightgbm, autolog.lightgbm; "
            "assert not {'lightgbm', 'sklearn', 'pandas'} & set(sys.modules), sys.modules.keys()")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_disable_restores_originals(data):
    original = lgb.sklearn.train
    autolog.lightgbm.autolog()
    assert lgb.sklearn.train is lgb.train  # one wrapper, installed in both places
    autolog.lightgbm.autolog(disable=True)
    assert lgb.sklearn.train is original and lgb.train is lgb.engine.train
    native_train(data, rounds=2)
    autolog.flush()
    assert autolog.search_runs(output_format="list") == []


# -- fault injection: each logging step fails in turn; training is unaffected -----------------
def _boom(*args, **kwargs):
    raise RuntimeError("injected")


STEPS = [(_boosting, "log_params"), (_boosting, "log_datasets"), (_boosting.Tracker, "record"),
         (_boosting, "log_early_stopping"), (_boosting, "log_importance"),
         (_boosting, "log_model"), (_boosting, "head_copy"), (_boosting, "with_callback")]


@pytest.mark.parametrize("owner,name", STEPS, ids=[n for _, n in STEPS])
@pytest.mark.parametrize("api", ["native", "sklearn"])
def test_fault_injection(data, monkeypatch, owner, name, api):
    X, y, Xv, yv = data

    def fit():
        stop = [lgb.early_stopping(3, verbose=False)]
        if api == "native":
            return native_train(data, rounds=40, callbacks=stop).predict(Xv)
        model = lgb.LGBMClassifier(n_estimators=40, n_jobs=1, verbose=-1, random_state=0)
        return model.fit(X, y, eval_X=(Xv,), eval_y=(yv,), callbacks=stop).predict_proba(Xv)

    expected = fit()  # autolog off
    autolog.lightgbm.autolog()
    monkeypatch.setenv("AUTOLOG_STRICT", "0")
    # Reports are once per (target, run) for the whole process: start from a clean slate.
    monkeypatch.setattr(_patch, "_reported", set())
    monkeypatch.setattr(owner, name, _boom)
    with pytest.warns(AutologWarning, match="lightgbm"):
        got = fit()
        autolog.flush()
    assert np.array_equal(got, expected)
    assert only_run().info.status == "FINISHED"


def test_example_runs_and_logs(tmp_path):
    store = tmp_path / "example-runs"
    env = {**os.environ, "AUTOLOG_TRACKING_URI": str(store), "MPLBACKEND": "Agg",
           "AUTOLOG_STRICT": "1", "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, str(ROOT / "examples/lightgbm_train_validation.py")],
                          env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    autolog.set_tracking_uri(str(store))
    run = only_run()
    assert run.data.tags["autolog.integration"] == "lightgbm"
    trained = int(run.data.metrics["stopped_iteration"]) + 1
    assert len(history(run, "valid-l2")) == trained
    assert len(history(run, "train-l2")) == trained
    assert "best_valid-l1" in run.data.metrics
    assert {"model", "feature_importance_gain.json"} <= artifacts(run)
    assert "bmi" in read_artifact(run, "feature_importance_gain.json")


# -- issue 9: lightgbm.early_stopping(...)'s settings are params ----------------------------------

@pytest.mark.parametrize("api", ["native", "sklearn"])
def test_early_stopping_callback_settings_are_params(data, api):
    X, y, Xv, yv = data
    stop = [lgb.early_stopping(4, first_metric_only=True, verbose=False, min_delta=0.001)]
    autolog.lightgbm.autolog()
    if api == "native":
        native_train(data, rounds=300, callbacks=stop)
    else:
        lgb.LGBMClassifier(n_estimators=300, num_leaves=7, n_jobs=1, verbose=-1, random_state=0).fit(
            X, y, eval_X=(Xv,), eval_y=(yv,), callbacks=stop)
    params = only_run().data.params
    assert params["stopping_rounds"] == "4" and params["min_delta"] == "0.001"
    assert params["first_metric_only"] == "True"


def test_cv_with_early_stopping_logs_exactly_the_rounds_it_returns(data):
    X, y, _, _ = data
    autolog.lightgbm.autolog()
    result = lgb.cv({**PARAMS, "metric": "binary_logloss"}, lgb.Dataset(X, y), num_boost_round=300,
                    nfold=3, seed=1, callbacks=[lgb.early_stopping(3, verbose=False)])
    kept = len(result["valid binary_logloss-mean"])
    assert kept < 300
    run = only_run()
    assert run.data.params["stopping_rounds"] == "3"
    for key, values in result.items():
        points = history(run, key)
        assert [m.step for m in points] == list(range(kept)), key
        assert [m.value for m in points] == pytest.approx(values)
    assert run.data.metrics["best_iteration"] == kept - 1
    assert run.data.metrics["stopped_iteration"] >= kept
