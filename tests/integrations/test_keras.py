"""Keras 3 integration, on the torch backend (tests/conftest.py sets KERAS_BACKEND=torch)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import autolog
from autolog.errors import AutologWarning
from autolog.models import Flavor
from tests.conftest import require

pytestmark = pytest.mark.filterwarnings(
    # Keras 3.15's Variable.__array__ lacks numpy 2's `copy` keyword, so numpy warns whenever
    # Keras itself converts a variable (optimizer.get_config(), saving a model). Not ours.
    "ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning",
)

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def keras():
    module = require("keras")
    assert module.backend.backend() == "torch", "tests must run on the torch backend"
    return module


@pytest.fixture
def integration():
    from autolog.integrations import keras as integration

    return integration


def _data(n: int = 96, features: int = 4) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, features)).astype("float32")
    return x, (x[:, 0] + 0.5 * x[:, 1] > 0).astype("float32")


def _model(keras, seed: int = 0):
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, activation="relu"),
                              keras.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=0.01),
                  loss="binary_crossentropy", metrics=["accuracy"])
    return model


def _only_run():
    autolog.flush()
    runs = autolog.search_runs(output_format="list")
    assert len(runs) == 1, [r.data.tags for r in runs]
    return runs[0]


def _history(client, run, key):
    return [(m.step, m.value) for m in client.get_metric_history(run.info.run_id, key)]


class Recorder:
    """A user's callback recording every event it receives (built on keras.callbacks.Callback)."""

    def __new__(cls, keras):
        class _Recorder(keras.callbacks.Callback):
            def __init__(self):
                super().__init__()
                self.events = []

            def on_train_begin(self, logs=None):
                self.events.append(("train_begin",))

            def on_epoch_end(self, epoch, logs=None):
                self.events.append(("epoch_end", epoch, dict(logs)))

            def on_train_batch_end(self, batch, logs=None):
                self.events.append(("batch_end", batch, dict(logs)))

            def on_test_end(self, logs=None):
                self.events.append(("test_end", dict(logs or {})))

            def on_train_end(self, logs=None):
                self.events.append(("train_end", dict(logs or {})))

        return _Recorder()


def test_epoch_metrics_params_and_artifacts(keras, client):
    autolog.keras.autolog()
    x, y = _data()
    history = _model(keras).fit(x, y, epochs=3, batch_size=16, validation_split=0.25, verbose=0)
    run = _only_run()
    assert run.info.status == "FINISHED"
    assert run.data.tags["autolog.integration"] == "keras"
    assert set(history.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    for key, values in history.history.items():
        assert _history(client, run, key) == list(enumerate(values)), key
    params = run.data.params
    assert params["epochs"] == "3" and params["batch_size"] == "16"
    assert params["validation_split"] == "0.25" and params["shuffle"] == "True"
    assert params["loss"] == "binary_crossentropy" and params["metrics"] == "['accuracy']"
    assert params["optimizer_name"] == "adam"
    assert float(params["optimizer_learning_rate"]) == pytest.approx(0.01)
    assert params["optimizer_beta_1"] == "0.9"
    assert not {"x", "y", "callbacks", "validation_data", "verbose"} & set(params)
    artifacts = {f.path for f in client.list_artifacts(run.info.run_id)}
    assert {"model_summary.txt", "model"} <= artifacts
    summary = Path(run.info.artifact_uri, "model_summary.txt").read_text(encoding="utf-8")
    assert "Dense" in summary and "Total params" in summary
    (dataset,) = run.inputs
    assert dataset.context == "train" and tuple(dataset.shape) == (96, 4)


def test_positional_epochs_and_batch_size(keras, client):
    autolog.keras.autolog()
    x, y = _data()
    # batch_size=24, epochs=2, verbose=0, callbacks=None, validation_split=0.0, validation_data
    _model(keras).fit(x, y, 24, 2, 0, None, 0.0, (x[:20], y[:20]))
    run = _only_run()
    assert run.data.params["batch_size"] == "24" and run.data.params["epochs"] == "2"
    assert [s for s, _ in _history(client, run, "loss")] == [0, 1]
    assert [s for s, _ in _history(client, run, "val_loss")] == [0, 1]
    assert sorted((d.context, tuple(d.shape)) for d in run.inputs) == [("eval", (20, 4)),
                                                                       ("train", (96, 4))]


def test_default_batch_size_is_what_keras_uses(keras):
    autolog.keras.autolog()
    x, y = _data()
    _model(keras).fit(x, y, epochs=1, verbose=0)
    assert _only_run().data.params["batch_size"] == "32"


def test_step_logging_every_n_batches(keras, client):
    autolog.keras.autolog(log_every_n_steps=3)
    x, y = _data(64)
    recorder = Recorder(keras)
    _model(keras).fit(x, y, epochs=3, batch_size=16, callbacks=[recorder], verbose=0)
    run = _only_run()
    # 4 batches per epoch, 12 in all: logged after batches 3, 6, 9 and 12 of the fit.
    seen = [event[2]["loss"] for event in recorder.events if event[0] == "batch_end"]
    assert len(seen) == 12
    assert _history(client, run, "loss_step") == [(n, seen[n - 1]) for n in (3, 6, 9, 12)]
    # The epoch series keeps exactly one point per epoch.
    assert [s for s, _ in _history(client, run, "loss")] == [0, 1, 2]


def test_log_every_n_steps_is_validated():
    with pytest.raises(autolog.InvalidInputError):
        autolog.keras.autolog(log_every_n_steps=0)


def test_evaluate_after_fit_logs_into_the_fit_run(keras, client):
    autolog.keras.autolog()
    x, y = _data()
    model = _model(keras)
    model.fit(x, y, epochs=2, batch_size=16, verbose=0)
    first = model.evaluate(x, y, return_dict=True, verbose=0)
    second = model.evaluate(x[:40], y[:40], 8, 0, return_dict=True)  # positional batch_size
    run = _only_run()
    assert _history(client, run, "eval_loss") == [(0, first["loss"]), (1, second["loss"])]
    assert _history(client, run, "eval_accuracy") == [(0, first["accuracy"]),
                                                      (1, second["accuracy"])]
    # A model that autolog did not fit is evaluated without any logging.
    _model(keras).evaluate(x, y, verbose=0)
    assert len(autolog.search_runs(output_format="list")) == 1


def test_early_stopping_params_and_epochs(keras, client):
    autolog.keras.autolog()
    x, y = _data()
    # min_delta=100: epoch 0 sets the best, epoch 1 cannot improve on it, so training stops at
    # epoch 1 and the weights of epoch 0 are restored.
    early = keras.callbacks.EarlyStopping(monitor="val_loss", min_delta=100, patience=1,
                                          restore_best_weights=True)
    history = _model(keras).fit(x, y, epochs=10, batch_size=16, validation_split=0.25,
                                callbacks=[early], verbose=0)
    assert early.stopped_epoch == 1 and history.epoch == [0, 1]
    run = _only_run()
    params = run.data.params
    assert params["monitor"] == "val_loss" and params["min_delta"] == "100"
    assert params["patience"] == "1" and params["baseline"] == "None"
    assert params["restore_best_weights"] == "True"
    assert run.data.metrics["stopped_epoch"] == 1
    assert run.data.metrics["restored_epoch"] == 0
    # The restored epoch's values are logged again after the last epoch, as MLflow does.
    val_loss = history.history["val_loss"]
    assert _history(client, run, "val_loss") == [(0, val_loss[0]), (1, val_loss[1]),
                                                 (2, val_loss[0])]


def test_model_round_trip_gives_identical_outputs(keras, client):
    autolog.keras.autolog(log_input_examples=True)
    x, y = _data()
    model = _model(keras)
    model.fit(x, y, epochs=2, batch_size=16, verbose=0)
    run = _only_run()
    uri = f"runs:/{run.info.run_id}/model"
    loaded = autolog.load_model(uri)
    assert isinstance(loaded, keras.Model) and loaded is not model
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    info = autolog.models.get_model_info(uri)
    assert info.flavor == "keras" and info.metadata["flavor_metadata"]["keras_backend"] == "torch"
    assert info.signature.inputs[0]["shape"] == [-1, 4]
    assert info.signature.outputs[0]["shape"] == [-1, 1]
    names = {f.path for f in client.list_artifacts(run.info.run_id, "model")}
    assert {"model/model.keras", "model/input_example.json"} <= names

    with autolog.start_run():  # the manual API of the flavor
        logged = autolog.keras.log_model(model, "manual")
    again = autolog.keras.load_model(logged.model_uri)
    np.testing.assert_array_equal(again.predict(x, verbose=0), model.predict(x, verbose=0))


def test_log_models_false_saves_no_model(keras, client):
    autolog.keras.autolog(log_models=False)
    x, y = _data()
    _model(keras).fit(x, y, epochs=1, verbose=0)
    run = _only_run()
    assert "model" not in {f.path for f in client.list_artifacts(run.info.run_id)}


def test_user_callbacks_receive_everything_and_their_list_is_unchanged(keras):
    x, y = _data()
    plain = Recorder(keras)
    baseline = _model(keras).fit(x, y, epochs=2, batch_size=16, validation_split=0.25,
                                 callbacks=[plain], verbose=0)

    autolog.keras.autolog(log_every_n_steps=1)
    recorder = Recorder(keras)
    callbacks = [recorder]
    history = _model(keras).fit(x, y, epochs=2, batch_size=16, validation_split=0.25,
                                callbacks=callbacks, verbose=0)
    assert callbacks == [recorder] and callbacks[0] is recorder
    assert recorder.events == plain.events
    assert history.history == baseline.history
    assert _only_run().data.tags["autolog.integration"] == "keras"

    as_tuple = (Recorder(keras),)
    _model(keras).fit(x, y, epochs=1, batch_size=16, callbacks=as_tuple, verbose=0)
    assert len(as_tuple) == 1 and [e[0] for e in as_tuple[0].events][0] == "train_begin"


def test_a_users_callback_list_object_is_not_mutated(keras, client):
    autolog.keras.autolog()
    x, y = _data()
    model = _model(keras)
    recorder = Recorder(keras)
    callbacks = keras.callbacks.CallbackList([recorder], add_history=True, model=model,
                                             epochs=2, steps=6, verbose=0)
    model.fit(x, y, epochs=2, batch_size=16, callbacks=callbacks, verbose=0)
    assert len(callbacks.callbacks) == 2 and callbacks.callbacks[0] is recorder  # + History
    assert [e[1] for e in recorder.events if e[0] == "epoch_end"] == [0, 1]
    assert [s for s, _ in _history(client, _only_run(), "loss")] == [0, 1]


def test_logs_into_the_users_run(keras):
    autolog.keras.autolog()
    x, y = _data()
    with autolog.start_run() as run:
        _model(keras).fit(x, y, epochs=1, verbose=0)
    only = _only_run()
    assert only.info.run_id == run.info.run_id and "loss" in only.data.metrics


def test_disable_restores_fit(keras):
    autolog.keras.autolog()
    autolog.keras.autolog(disable=True)
    x, y = _data()
    _model(keras).fit(x, y, epochs=1, verbose=0)
    autolog.flush()
    assert autolog.search_runs(output_format="list") == []


def test_autolog_everything_gives_one_keras_run(keras):
    from autolog.integrations._registry import integrations

    for integration in integrations():  # every integration module must exist to enable all
        require(integration.module)
    autolog.autolog()
    x, y = _data()
    _model(keras).fit(x, y, epochs=2, batch_size=16, verbose=0)
    run = _only_run()
    assert run.data.tags["autolog.integration"] == "keras"
    # Keras calls torch's backward(); the torch integration stays silent inside fit().
    assert "train_loss" not in run.data.metrics


_STEPS = ["_extended", "_log_fit_params", "_log_optimizer_params", "_log_datasets",
          "_log_summary", "_log_epoch", "_log_batch", "_log_early_stopping", "_log_fitted_model",
          "_log_evaluation", "snapshot", "save"]


def _train(keras, x, y):
    model = _model(keras, seed=3)
    early = keras.callbacks.EarlyStopping(monitor="val_loss", patience=5, restore_best_weights=True)
    history = model.fit(x, y, epochs=3, batch_size=16, validation_split=0.25, callbacks=[early],
                        verbose=0)
    result = model.evaluate(x, y, verbose=0, return_dict=True)
    return model, history, result


@pytest.mark.parametrize("step", _STEPS)
def test_a_failing_logging_step_never_breaks_training(keras, integration, monkeypatch, step):
    monkeypatch.setenv("AUTOLOG_STRICT", "0")
    x, y = _data()
    expected, expected_history, expected_eval = _train(keras, x, y)

    def boom(*args, **kwargs):
        raise RuntimeError(f"injected failure in {step}")

    if step in ("snapshot", "save"):
        flavor = integration.FLAVOR
        parts = {n: getattr(flavor, n) for n in ("name", "save", "load", "requirements", "snapshot")}
        monkeypatch.setattr(integration, "FLAVOR", Flavor(**{**parts, step: boom}))
    else:
        monkeypatch.setattr(integration, step, boom)
    autolog.keras.autolog(log_every_n_steps=2)
    with pytest.warns(AutologWarning, match="keras") as caught:
        model, history, result = _train(keras, x, y)
        autolog.flush()  # a failure on the writer thread is reported by then
    assert any(f"injected failure in {step}" in str(w.message) for w in caught)
    assert history.history == expected_history.history and result == expected_eval
    for got, want in zip(model.get_weights(), expected.get_weights()):
        np.testing.assert_array_equal(got, want)
    assert len(autolog.search_runs(output_format="list")) == 1


def test_example_script(tmp_path, client):
    require("keras")
    store = tmp_path / "example-store"
    env = {**os.environ, "AUTOLOG_TRACKING_URI": str(store), "MPLBACKEND": "Agg",
           "AUTOLOG_STRICT": "1", "KERAS_BACKEND": "torch"}
    done = subprocess.run([sys.executable, str(ROOT / "examples" / "keras_validation_split.py")],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr
    assert "same predictions: True" in done.stdout
    autolog.set_tracking_uri(str(store))
    run = _only_run()
    assert run.data.tags["autolog.integration"] == "keras" and run.info.status == "FINISHED"
    assert run.data.params["validation_split"] == "0.2" and run.data.params["patience"] == "2"
    epochs = int(run.data.params["epochs"])
    # One point per epoch (plus the restored epoch's again after the last, if one was restored).
    steps = [s for s, _ in _history(autolog.Client(), run, "val_loss")]
    assert steps == list(range(len(steps))) and 2 <= len(steps) <= epochs + 1
    assert {"eval_loss", "eval_accuracy"} <= set(run.data.metrics)
    names = {f.path for f in autolog.Client().list_artifacts(run.info.run_id)}
    assert {"model", "model_summary.txt"} <= names
