"""Post-training metrics: ``sklearn.metrics`` calls on a fitted model's predictions, and
``model.score(X, y)``, logged into the run the model was fitted in (even after it ended).

Nothing is stored on the user's objects (a model fitted under autolog must pickle exactly as
without it): fitted model -> run and prediction -> (dataset name, run) live in side tables
keyed by ``id()``, each entry holding a weak reference whose callback removes it, so an entry
never outlives its object and a recycled ``id`` is never mistaken for it.

Names are MLflow's: ``<metric>[-<call index>]_<dataset variable name>``, the dataset name being
the caller's variable bound to the ``X`` passed to ``predict``/``score`` (a different object
under the same name gets ``-2``, ``-3``, ...); ``metric_info.json`` maps each key to the call.
"""

from __future__ import annotations

import inspect
import sys
import threading
import weakref
from typing import Any

from autolog.integrations import _common
from autolog.integrations._patch import Call

NAME = "sklearn"
UNKNOWN = "unknown_dataset"
# Evaluation datasets recorded per run: a model serving predictions batch by batch must not
# fingerprint every batch.
MAX_EVAL_INPUTS = 10
_SKIP_FRAMES = ("autolog.", "wrapt", "sklearn.", "numpy.", "scipy.", "joblib.", "pandas.")

_lock = threading.Lock()
_models: dict[int, tuple[Any, Any]] = {}          # id(model) -> (weakref, run)
_predictions: dict[int, tuple[Any, str, Any]] = {}  # id(result) -> (weakref, dataset name, run)
_dataset_names: dict[tuple[str, str], list[Any]] = {}  # (run id, name) -> weakrefs of datasets
_metric_calls: dict[tuple[str, str], int] = {}   # (run id, metric name) -> calls so far
_metric_info: dict[str, dict[str, str]] = {}      # run id -> {metric key: call}
_inputs: dict[int, tuple[Any, set[str]]] = {}     # id(eval data) -> (weakref, run ids)
_input_counts: dict[str, int] = {}                 # run id -> eval datasets recorded


def _remember(table: dict[int, Any], obj: Any, *payload: Any) -> bool:
    key = id(obj)

    def forget(ref: Any, key: int = key) -> None:
        entry = table.get(key)
        if entry is not None and entry[0] is ref:
            table.pop(key, None)

    try:
        ref = weakref.ref(obj, forget)
    except TypeError:
        return False  # lists, tuples, ...: not trackable, so not registered
    table[key] = (ref, *payload)
    return True


def _lookup(table: dict[int, Any], obj: Any) -> Any:
    entry = table.get(id(obj))
    if entry is None or entry[0]() is not obj:
        return None
    return entry


def register_model(model: Any, run: Any) -> None:
    """Remember that ``model`` was fitted in ``run``."""
    _remember(_models, model, run)


def run_of(model: Any) -> Any:
    entry = _lookup(_models, model)
    return entry[1] if entry is not None else None


def variable_name(obj: Any, default: str = UNKNOWN) -> str:
    """The name bound to ``obj`` in the outermost caller frame (outside autolog and the
    scientific stack) that holds it: ``X_test`` in ``model.predict(X_test)``."""
    found = None
    frame: Any = sys._getframe(1)
    while frame is not None:
        module = frame.f_globals.get("__name__", "") or ""
        if not module.startswith(_SKIP_FRAMES):
            for key, value in list(frame.f_locals.items()):
                if value is obj and not key.startswith("__"):
                    found = key
                    break
        frame = frame.f_back
    return found or default


def _dataset_name(run: Any, X: Any) -> str:
    name = variable_name(X)
    key = (run.info.run_id, name)
    with _lock:
        refs = _dataset_names.setdefault(key, [])
        for index, ref in enumerate(refs):
            if ref is X or (callable(ref) and ref() is X):
                break
        else:
            index = len(refs)
            try:
                refs.append(weakref.ref(X))
            except TypeError:
                refs.append(X)  # not weak-referenceable: keep it (rare: lists)
    return name if index == 0 else f"{name}-{index + 1}"


def _metric_key(run: Any, metric: str, dataset: str) -> str:
    with _lock:
        index = _metric_calls.get((run.info.run_id, metric), 0)
        _metric_calls[(run.info.run_id, metric)] = index + 1
    return f"{metric}_{dataset}" if index == 0 else f"{metric}-{index + 1}_{dataset}"


def _is_number(value: Any) -> bool:
    import numpy as np

    return (isinstance(value, (int, float, np.number))
            and not isinstance(value, (bool, np.bool_)))


def _describe(value: Any) -> str:
    if value is None or isinstance(value, (bool, int, float)):
        return repr(value)
    if isinstance(value, str):
        text = repr(value)
        return text if len(text) <= 32 else text[:29] + "...'"
    return variable_name(value, default=type(value).__name__)


def _call_text(name: str, fn: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
    try:
        bound = inspect.signature(fn).bind_partial(*args, **kwargs)
        items = list(bound.arguments.items())
    except (TypeError, ValueError):
        items = [(f"arg{i}", a) for i, a in enumerate(args)] + list(kwargs.items())
    return f"{name}(" + ", ".join(f"{k}={_describe(v)}" for k, v in items) + ")"


def _log(run: Any, key: str, value: Any, text: str) -> None:
    _common.log_metrics(run, {key: value}, step=0)
    with _lock:
        info = _metric_info.setdefault(run.info.run_id, {})
        info[key] = text
        snapshot = dict(info)
    _common.write_json(run, NAME, "metric_info.json", snapshot)


def _enabled(call: Call) -> bool:
    return bool(call.settings.get("log_post_training_metrics", True)) and bool(_models)


def _method_args(call: Call) -> tuple[Any, tuple[Any, ...]]:
    # available_if-wrapped methods arrive as plain functions with the estimator first.
    if call.instance is None and call.args:
        return call.args[0], call.args[1:]
    return call.instance, call.args


def _fitted_model_call(call: Call) -> tuple[Any, tuple[Any, ...], Any, Any] | None:
    """(model, args, run of its fit, X) for a method called on a model fitted under autolog
    with data, else None."""
    model, args = _method_args(call)
    run = run_of(model)
    if run is None:
        return None
    X = args[0] if args else call.kwargs.get("X")
    return None if X is None else (model, args, run, X)


def after_predict(call: Call, result: Any) -> None:
    """``predict``/``predict_proba``/``transform`` on a model fitted under autolog: remember
    the result, so a metric computed from it knows its model and dataset."""
    if not _enabled(call):
        return
    fitted = _fitted_model_call(call)
    if fitted is None:
        return
    model, args, run, X = fitted
    dataset = _dataset_name(run, X)
    _remember(_predictions, result, dataset, run)
    if call.settings.get("log_datasets", True) and \
            _input_counts.get(run.info.run_id, 0) < MAX_EVAL_INPUTS:
        entry = _lookup(_inputs, X)
        if entry is None and _remember(_inputs, X, set()):
            entry = _lookup(_inputs, X)
        if entry is not None and run.info.run_id not in entry[1]:
            entry[1].add(run.info.run_id)
            _input_counts[run.info.run_id] = _input_counts.get(run.info.run_id, 0) + 1
            _common.log_dataset(run, X, context="eval", name=dataset)


def after_score(call: Call, result: Any) -> None:
    """``model.score(X, y)``: ``<EstimatorClass>_score_<dataset>``."""
    if not _enabled(call) or not _is_number(result):
        return
    fitted = _fitted_model_call(call)
    if fitted is None:
        return
    model, args, run, X = fitted
    metric = f"{type(model).__name__}_score"
    key = _metric_key(run, metric, _dataset_name(run, X))
    text = _call_text(f"{type(model).__name__}.score", getattr(model, "score"), args, call.kwargs)
    _log(run, key, result, text)


def after_metric(call: Call, result: Any) -> None:
    """A ``sklearn.metrics`` function: logged when one of its arguments is a prediction of a
    model fitted under autolog."""
    if not _predictions or not call.settings.get("log_post_training_metrics", True):
        return
    if not _is_number(result):
        return
    entry = None
    for value in (*call.args, *call.kwargs.values()):
        entry = _lookup(_predictions, value)
        if entry is not None:
            break
    if entry is None:
        return
    _, dataset, run = entry
    metric = call.target.rsplit(".", 1)[-1]
    key = _metric_key(run, metric, dataset)
    import sklearn.metrics as metrics

    text = _call_text(metric, getattr(metrics, metric, None), call.args, call.kwargs)
    _log(run, key, result, text)
