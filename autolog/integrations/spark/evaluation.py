"""Evaluator metrics after training: ``evaluator.evaluate(model.transform(df))`` on a model
fitted under autolog is logged into the run of that fit (even after the run ended).

``Transformer.transform`` of an autologged model remembers the DataFrame it returns (with the
caller's variable name for the input, and the run); ``Evaluator.evaluate`` on that DataFrame
logs ``<EvaluatorClass>_<metricName>`` (``-2``, ``-3``, ... when the same metric is evaluated
again for the run), writes ``metric_info.json`` (each key -> the call and the data it scored)
and records the evaluated data's fingerprint with context ``eval``. Nothing is stored on the
user's objects: side tables keyed by ``id()`` with weak references, as for scikit-learn.
"""

from __future__ import annotations

import threading
from typing import Any

from autolog.integrations import _common
from autolog.integrations._patch import Call
from autolog.integrations.sklearn.post_training import _lookup, _remember, variable_name

NAME = "spark"
MAX_EVAL_INPUTS = 10  # per run: an evaluation loop over many batches must not log each

_lock = threading.Lock()
_models: dict[int, tuple[Any, Any]] = {}               # id(model) -> (weakref, run)
_outputs: dict[int, tuple[Any, Any, str, Any]] = {}     # id(df) -> (weakref, run, name, input)
_metric_calls: dict[tuple[str, str], int] = {}          # (run id, metric) -> calls so far
_metric_info: dict[str, dict[str, str]] = {}            # run id -> {key: call}
_inputs: dict[str, set[str]] = {}                       # run id -> eval dataset digests


def register_model(model: Any, run: Any) -> None:
    """Remember that ``model`` was fitted in ``run``."""
    _remember(_models, model, run)


def after_transform(call: Call, result: Any) -> None:
    if not _models or not call.settings.get("log_post_training_metrics", True):
        return
    entry = _lookup(_models, call.instance)
    if entry is None:
        return
    dataset = call.args[0] if call.args else call.kwargs.get("dataset")
    _remember(_outputs, result, entry[1], variable_name(dataset, default="dataset"), dataset)


def _metric_key(run: Any, metric: str) -> str:
    with _lock:
        index = _metric_calls.get((run.info.run_id, metric), 0) + 1
        _metric_calls[(run.info.run_id, metric)] = index
    return metric if index == 1 else f"{metric}-{index}"


def after_evaluate(call: Call, result: Any) -> None:
    if not _outputs or not call.settings.get("log_post_training_metrics", True):
        return
    predictions = call.args[0] if call.args else call.kwargs.get("dataset")
    entry = _lookup(_outputs, predictions)
    if entry is None or isinstance(result, bool) or not isinstance(result, (int, float)):
        return
    _, run, dataset_name, source = entry
    evaluator = call.instance
    extra = call.args[1] if len(call.args) > 1 else call.kwargs.get("params")
    effective = evaluator.copy(extra) if extra else evaluator
    metric = effective.getMetricName() if hasattr(effective, "getMetricName") else "metric"
    key = _metric_key(run, _common.sanitize_key(f"{type(evaluator).__name__}_{metric}"))
    _common.log_metrics(run, {key: result})
    text = (f"{type(evaluator).__name__}(metricName={metric!r}).evaluate("
            f"{variable_name(predictions, default='predictions')}) on {dataset_name}")
    with _lock:
        info = _metric_info.setdefault(run.info.run_id, {})
        info[key] = text
        snapshot = dict(info)
    _common.write_json(run, NAME, "metric_info.json", snapshot)
    if call.settings.get("log_datasets", True):
        _log_eval_input(run, source, dataset_name)


def _log_eval_input(run: Any, df: Any, name: str) -> None:
    from autolog.integrations.spark.fit import spark_dataset

    dataset = spark_dataset(df, "eval", name)
    with _lock:
        seen = _inputs.setdefault(run.info.run_id, set())
        if dataset.digest in seen or len(seen) >= MAX_EVAL_INPUTS:
            return
        seen.add(dataset.digest)
    _common._store(run).log_inputs(run.info.run_id, [dataset])
