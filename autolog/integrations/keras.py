"""Keras 3 integration: ``Model.fit`` gets an autolog callback, ``evaluate`` logs into the fit's run.

What a fit records (MLflow's names, so that queries carry over):

* params: the ``fit`` arguments (``epochs``, ``batch_size``, ``validation_split``, ...) however
  they were passed, positional ones included; the optimizer's config as ``optimizer_<key>``;
  ``loss`` and ``metrics`` from ``compile``; an ``EarlyStopping``'s ``monitor``, ``min_delta``,
  ``patience``, ``baseline`` and ``restore_best_weights``;
* metrics: Keras' epoch ``logs`` at step = epoch; with ``log_every_n_steps``, the batch logs as
  ``<name>_step`` at step = number of batches trained in this fit (Keras' running averages,
  like ``optimizer.iterations`` in MLflow), under their own names so that each epoch series keeps
  one point per epoch; early stopping's ``stopped_epoch`` and ``restored_epoch`` (when an earlier
  epoch's weights were restored, its logs are logged again at step = last epoch + 1, as MLflow
  does);
  ``evaluate()`` on the fitted model afterwards as ``eval_<name>`` (step = 0, 1, ... per call);
* artifacts: ``model_summary.txt`` and the model as ``model/model.keras``, with a signature from
  the first training rows, loadable with :func:`autolog.load_model`; a fingerprint of array
  inputs as the run's ``train`` (and ``eval``) dataset.

The callback only converts Keras' ``logs`` (already Python floats) into queued records; batch hooks
are defined only when ``log_every_n_steps`` is set, so per-epoch logging leaves Keras' own fast
path (asynchronous batch callbacks) intact. Keras is imported inside functions only.
"""

from __future__ import annotations

import inspect
import io
import os
import tempfile
import weakref
from typing import Any

from autolog.integrations import _common, _patch, configure
from autolog.models._flavors import Flavor
from autolog.models import flavor_functions

NAME = "keras"
MODEL_FILE = "model.keras"

# Not hyperparameters: data, callbacks and verbosity (MLflow's list, plus per-row weights).
_UNLOGGED_FIT_ARGS = frozenset({"self", "x", "y", "callbacks", "validation_data", "verbose",
                                "sample_weight"})
_EARLY_STOPPING_PARAMS = ("monitor", "min_delta", "patience", "baseline", "restore_best_weights")
_EXAMPLE_ROWS = 5

# model -> [run the fit logged into, number of evaluate() calls logged]; weak so that we never
# keep a user's model alive, and outside the model so that we set no attribute on it.
_fitted: "weakref.WeakKeyDictionary[Any, list[Any]]" = weakref.WeakKeyDictionary()
# patched method name -> signature of the original, to bind positional arguments
_signatures: dict[str, inspect.Signature] = {}
_classes: dict[str, type] = {}


def autolog(*, disable: bool = False, exclusive: bool = False, silent: bool = False,
            log_models: bool = True, log_input_examples: bool = False,
            log_model_signatures: bool = True, log_datasets: bool = True,
            disable_for_unsupported_versions: bool = False,
            extra_tags: dict[str, str] | None = None,
            log_every_n_steps: int | None = None) -> None:
    """Enable (or disable) autologging of Keras ``Model.fit`` and ``Model.evaluate``.

    Args:
        disable: turn the integration off and restore the original methods.
        exclusive: do not log into a run the user started.
        silent: no warnings from autolog.
        log_models: log the fitted model as ``model`` (``.keras`` format).
        log_input_examples: save the first training rows with the model.
        log_model_signatures: record the model's input/output signature.
        log_datasets: record a fingerprint of array inputs as the run's datasets.
        disable_for_unsupported_versions: stay off on an untested Keras version.
        extra_tags: tags added to every run this integration starts.
        log_every_n_steps: also log the batch logs every n batches, as ``<name>_step``;
            None (default) logs per epoch only.

    Raises:
        InvalidInputError: ``log_every_n_steps`` is not a positive integer.
    """
    if log_every_n_steps is not None and (
            isinstance(log_every_n_steps, bool) or not isinstance(log_every_n_steps, int)
            or log_every_n_steps < 1):
        from autolog.errors import InvalidInputError

        raise InvalidInputError(
            f"log_every_n_steps must be None or a positive integer, not {log_every_n_steps!r}.")
    configure(NAME, dict(locals()))


def apply(module: Any) -> None:
    """Patch ``fit`` and ``evaluate`` on the class that defines them for the active backend
    (``keras.src.backend.torch.trainer.TorchTrainer`` with the torch backend)."""
    for attr, hooks in (("fit", dict(before=_before_fit, after=_after_fit)),
                        ("evaluate", dict(before=_before_evaluate, manage_run=False))):
        owner = next(c for c in module.Model.__mro__ if attr in c.__dict__)
        _signatures[attr] = inspect.signature(owner.__dict__[attr])
        _patch.patch(NAME, owner, attr, target=f"keras.Model.{attr}", **hooks)


# ---------------------------------------------------------------------------------------- fit

def _before_fit(call: _patch.Call) -> tuple[tuple[Any, ...], dict[str, Any]] | None:
    bound = _signatures["fit"].bind(call.instance, *call.args, **call.kwargs)
    user_callbacks = bound.arguments.get("callbacks")
    early = _early_stopping(user_callbacks)
    callback = _callback_class("step" if call.settings.get("log_every_n_steps") else "epoch")(
        call.run, call.settings, early)
    bound.arguments["callbacks"] = _extended(user_callbacks, callback, call.instance)
    arguments = {**{p.name: p.default for p in _signatures["fit"].parameters.values()
                    if p.default is not inspect.Parameter.empty}, **bound.arguments}
    call.state["x"] = arguments.get("x")
    _patch.safe_call(NAME, "fit params", _log_fit_params, call.run, call.instance, arguments, early)
    _patch.safe_call(NAME, "optimizer params", _log_optimizer_params, call.run, call.instance)
    if call.settings.get("log_datasets"):
        _patch.safe_call(NAME, "datasets", _log_datasets, call.run, arguments)
    return tuple(bound.args[1:]), dict(bound.kwargs)


def _after_fit(call: _patch.Call, result: Any) -> None:
    del result
    _fitted[call.instance] = [call.run, 0]
    if call.settings.get("log_models"):
        _patch.safe_call(NAME, "log_model", _log_fitted_model, call)


def _extended(callbacks: Any, ours: Any, model: Any) -> Any:
    """The user's callbacks plus ours, in a new container; theirs is never mutated."""
    if callbacks is None:
        return [ours]
    if isinstance(callbacks, (list, tuple)):
        return [*callbacks, ours]
    from keras.callbacks import CallbackList

    if isinstance(callbacks, CallbackList):
        # A ready CallbackList carries params (epochs, steps) that Keras will not set again.
        import copy

        extended = copy.copy(callbacks)
        extended.callbacks = [*callbacks.callbacks, ours]
        ours.set_model(model)
        ours.set_params(callbacks.params)
        return extended
    return [callbacks, ours]


def _flat_callbacks(callbacks: Any) -> list[Any]:
    if callbacks is None:
        return []
    if isinstance(callbacks, (list, tuple)):
        return list(callbacks)
    return list(getattr(callbacks, "callbacks", [callbacks]))


def _early_stopping(callbacks: Any) -> Any:
    from keras.callbacks import EarlyStopping

    return next((c for c in _flat_callbacks(callbacks) if isinstance(c, EarlyStopping)), None)


def _name_of(obj: Any) -> Any:
    """A loss/metric as the user named it: a string, a function's name or an object's ``name``."""
    if obj is None or isinstance(obj, str):
        return obj
    if isinstance(obj, dict):
        return {k: _name_of(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_name_of(v) for v in obj]
    return getattr(obj, "name", None) or getattr(obj, "__name__", None) or type(obj).__name__


def _log_fit_params(run: Any, model: Any, arguments: dict[str, Any], early: Any) -> None:
    params = {k: v for k, v in arguments.items() if k not in _UNLOGGED_FIT_ARGS}
    if params.get("batch_size") is None:
        params["batch_size"] = _batch_size(arguments.get("x"))
    compiled = getattr(getattr(model, "_compile_config", None), "config", None) or {}
    params["loss"] = _name_of(compiled.get("loss", getattr(model, "loss", None)))
    if compiled.get("metrics") is not None:
        params["metrics"] = _name_of(compiled["metrics"])
    if early is not None:
        params.update({k: getattr(early, k, None) for k in _EARLY_STOPPING_PARAMS})
    _common.log_params(run, params)


def _batch_size(x: Any) -> Any:
    """The batch size Keras uses when ``fit`` was not given one (MLflow logs it too)."""
    for attr in ("batch_size", "_batch_size"):
        size = getattr(x, attr, None)
        if isinstance(size, int):
            return size
    return 32 if _is_array(x) or isinstance(x, dict) else None


def _log_optimizer_params(run: Any, model: Any) -> None:
    optimizer = getattr(model, "optimizer", None)
    if optimizer is None:
        return
    config = optimizer.get_config()
    _common.log_params(run, {f"optimizer_{k}": v for k, v in config.items()})


def _is_array(data: Any) -> bool:
    module = type(data).__module__.split(".")[0]
    return module in ("numpy", "pandas", "torch") and hasattr(data, "shape")


def _log_datasets(run: Any, arguments: dict[str, Any]) -> None:
    x = arguments.get("x")
    if _is_array(x):
        _common.log_dataset(run, x, context="train")
    validation = arguments.get("validation_data")
    if isinstance(validation, (list, tuple)) and validation and _is_array(validation[0]):
        _common.log_dataset(run, validation[0], context="eval")


def _head(x: Any) -> Any:
    """The first training rows (a view), for the signature and the input example."""
    if isinstance(x, dict) and x and all(_is_array(v) for v in x.values()):
        return {k: _common.head(v, _EXAMPLE_ROWS) for k, v in x.items()}
    return _common.head(x, _EXAMPLE_ROWS) if _is_array(x) else None


def _log_fitted_model(call: _patch.Call) -> None:
    from autolog.models import ModelSignature, infer_signature

    model, settings = call.instance, call.settings
    example = _head(call.state.get("x"))
    signature = None
    if example is not None and settings.get("log_model_signatures"):
        # Predicted here, on the training thread: the writer thread must not call the live model.
        try:
            output = model.predict_on_batch(example)
        except Exception:  # noqa: BLE001 - an input Keras trains on but cannot predict from
            output = None  # (a model whose call() wants more than x) still gets its inputs
        signature = infer_signature(example, output)
    elif example is not None and settings.get("log_input_examples"):
        signature = ModelSignature()  # an explicit "none": save_model would otherwise infer one
    _common.log_model(call.run, NAME, model, "model", signature=signature, flavor=NAME,
                      input_example=example if settings.get("log_input_examples") else None)


# ----------------------------------------------------------------------------------- callbacks

def _callback_class(kind: str) -> type:
    """Keras callback classes, built at first use so that this module imports no Keras."""
    if not _classes:
        import keras

        class AutologCallback(keras.callbacks.Callback):  # type: ignore[misc]
            """Logs epoch logs, the model summary and early stopping into ``run``."""

            def __init__(self, run: Any, settings: dict[str, Any], early: Any) -> None:
                super().__init__()
                self.run = run
                self.every = settings.get("log_every_n_steps")
                self.early = early
                # Kept only when early stopping may restore an epoch's weights.
                self.keep_logs = bool(early is not None and early.restore_best_weights)
                self.epoch_logs: dict[int, dict[str, Any]] = {}
                self.last_epoch: int | None = None
                self.batches_before = 0  # batches of earlier epochs of this fit
                self.last_batch = -1
                self.last_logged = 0

            def on_train_begin(self, logs: Any = None) -> None:
                _patch.safe_call(NAME, "on_train_begin", _log_summary, self.run, self.model)

            def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
                _patch.safe_call(NAME, "on_epoch_end", _log_epoch, self, epoch, logs)

            def on_train_end(self, logs: Any = None) -> None:
                _patch.safe_call(NAME, "on_train_end", _log_early_stopping, self)

        class StepCallback(AutologCallback):
            """Also logs every ``log_every_n_steps`` batches (this disables Keras' asynchronous
            batch callbacks, as any callback with a batch hook does)."""

            def on_train_batch_end(self, batch: int, logs: Any = None) -> None:
                _patch.safe_call(NAME, "on_train_batch_end", _log_batch, self, batch, logs)

        class EvaluationCallback(keras.callbacks.Callback):  # type: ignore[misc]
            """Logs ``evaluate()``'s final logs as ``eval_<name>`` into the fit's run."""

            def __init__(self, run: Any, step: int) -> None:
                super().__init__()
                self.run = run
                self.step = step

            def on_test_end(self, logs: Any = None) -> None:
                _patch.safe_call(NAME, "on_test_end", _log_evaluation, self.run, self.step, logs)

        _classes.update(epoch=AutologCallback, step=StepCallback, evaluate=EvaluationCallback)
    return _classes[kind]


def _log_summary(run: Any, model: Any) -> None:
    lines: list[str] = []
    model.summary(print_fn=lambda line, *args, **kwargs: lines.append(str(line)))
    _common.write_text(run, NAME, "model_summary.txt", "\n".join(lines))


def _log_epoch(callback: Any, epoch: int, logs: Any) -> None:
    callback.last_epoch = epoch
    if not logs:
        return
    _common.log_metrics(callback.run, logs, step=epoch)
    if callback.keep_logs:
        callback.epoch_logs[epoch] = dict(logs)


def _log_batch(callback: Any, batch: int, logs: Any) -> None:
    # Batch indexes restart at each epoch (and jump with steps_per_execution > 1).
    if batch <= callback.last_batch:
        callback.batches_before += callback.last_batch + 1
    callback.last_batch = batch
    done = callback.batches_before + batch + 1
    if logs and done // callback.every > callback.last_logged // callback.every:
        callback.last_logged = done
        _common.log_metrics(callback.run, {f"{k}_step": v for k, v in logs.items()}, step=done)


def _log_early_stopping(callback: Any) -> None:
    early = callback.early
    if early is None:
        return
    metrics: dict[str, Any] = {}
    if early.stopped_epoch > 0:
        metrics["stopped_epoch"] = early.stopped_epoch
    if early.restore_best_weights and early.best_weights is not None:
        # Keras 3 restores the best weights at train end whether or not training stopped early.
        restored = early.best_epoch
        metrics["restored_epoch"] = restored
        # The final model is an earlier epoch's: log its values again so that the latest
        # value of each metric describes the model that fit() returned (MLflow does the same).
        if (restored in callback.epoch_logs and callback.last_epoch is not None
                and restored != callback.last_epoch):
            _common.log_metrics(callback.run, callback.epoch_logs[restored],
                                step=callback.last_epoch + 1)
    if metrics:
        _common.log_metrics(callback.run, metrics)


# ------------------------------------------------------------------------------------ evaluate

def _before_evaluate(call: _patch.Call) -> tuple[tuple[Any, ...], dict[str, Any]] | None:
    entry = _fitted.get(call.instance)
    if entry is None:
        return None
    run, step = entry
    entry[1] += 1
    bound = _signatures["evaluate"].bind(call.instance, *call.args, **call.kwargs)
    bound.arguments["callbacks"] = _extended(bound.arguments.get("callbacks"),
                                             _callback_class("evaluate")(run, step), call.instance)
    return tuple(bound.args[1:]), dict(bound.kwargs)


def _log_evaluation(run: Any, step: int, logs: Any) -> None:
    if logs:
        _common.log_metrics(run, {f"eval_{k}": v for k, v in logs.items()}, step=step)


# -------------------------------------------------------------------------------------- flavor

class KerasArchive(bytes):
    """A model already serialised as the bytes of a ``.keras`` file, by :func:`_snapshot`."""


def _snapshot(model: Any) -> KerasArchive:
    """Serialise the model in memory, so that the file is written later on the writer thread."""
    try:
        # Keras 3 writes a .keras archive into a file object; its public API wants a path.
        from keras.src.saving import saving_lib

        buffer = io.BytesIO()
        saving_lib.save_model(model, buffer)
        return KerasArchive(buffer.getvalue())
    except Exception:  # noqa: BLE001 - a Keras without file-object saving: go through a file
        with tempfile.TemporaryDirectory(prefix="autolog-keras-") as folder:
            path = os.path.join(folder, MODEL_FILE)
            model.save(path)
            with open(path, "rb") as fh:
                return KerasArchive(fh.read())


def _save(model: Any, folder: str) -> dict[str, Any]:
    data = model if isinstance(model, KerasArchive) else _snapshot(model)
    with open(os.path.join(folder, MODEL_FILE), "wb") as fh:
        fh.write(data)
    import keras

    return {"model_file": MODEL_FILE, "keras_backend": keras.backend.backend()}


def _load(folder: str, metadata: dict[str, Any]) -> Any:
    import keras

    return keras.saving.load_model(
        os.path.join(folder, metadata.get("model_file", MODEL_FILE)),
        custom_objects=metadata.get("custom_objects"), compile=metadata.get("compile", True),
        safe_mode=metadata.get("safe_mode", True))


FLAVOR = Flavor(name=NAME, save=_save, load=_load, requirements=("keras",), snapshot=_snapshot)


_LOAD_NOTE = (
    'custom_objects, compile and safe_mode are passed to keras.saving.load_model.'
)
log_model, load_model = flavor_functions(NAME, "Keras", _LOAD_NOTE)
