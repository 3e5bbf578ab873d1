"""``CrossValidator`` and ``TrainValidationSplit``: the best map's params, ``search_results.csv``,
``best_parameters.json``, and a child run for each of the best ``max_tuning_runs`` maps.

Names (MLflow's): a cross-validation's metric of a map is ``avg_<metricName>`` with its spread
``std_<metricName>``; a train-validation split's is ``<metricName>``. The parent run gets
``best_<param>`` for each tuned param of the winning map (named as in the parent's params:
``best_LogisticRegression.regParam``) and the winning figure as ``best_avg_<metricName>`` (or
``best_<metricName>``). A child run's params are those of the tuned estimator fitted with its
map, named as a run of that estimator would name them (``regParam`` for a LogisticRegression,
``LogisticRegression.regParam`` for a Pipeline).
"""

from __future__ import annotations

import csv
import io
import json
import sys
from typing import Any

from autolog.integrations import _common
from autolog.integrations._patch import Call
from autolog.integrations.spark import params as _params

NAME = "spark"


def is_tuner(estimator: Any) -> bool:
    module = sys.modules.get("pyspark.ml.tuning")
    tuners = tuple(getattr(module, n) for n in ("CrossValidator", "TrainValidationSplit")
                   if hasattr(module, n))
    return bool(tuners) and isinstance(estimator, tuners)


def is_tuned_model(model: Any) -> bool:
    module = sys.modules.get("pyspark.ml.tuning")
    models = tuple(getattr(module, n) for n in ("CrossValidatorModel", "TrainValidationSplitModel")
                   if hasattr(module, n))
    return bool(models) and isinstance(model, models)


def _metric_columns(model: Any, metric: str) -> dict[str, list[float]]:
    """Each map's figures, by column name; the first column ranks the maps."""
    if hasattr(model, "avgMetrics"):
        columns = {f"avg_{metric}": [float(v) for v in model.avgMetrics]}
        std = getattr(model, "stdMetrics", None)
        if std:
            columns[f"std_{metric}"] = [float(v) for v in std]
        return columns
    return {metric: [float(v) for v in model.validationMetrics]}


def _cell(value: Any) -> Any:
    return value if isinstance(value, (str, int, float, bool)) or value is None else str(value)


def search_results_csv(maps: list[dict[str, Any]], metrics: dict[str, list[float]]) -> str:
    """One row per param map: its params as JSON, one ``param.<name>`` column per tuned param,
    then the metric columns."""
    keys = list(dict.fromkeys(k for m in maps for k in m))
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["params", *(f"param.{k}" for k in keys), *metrics])
    for i, m in enumerate(maps):
        writer.writerow([json.dumps({k: _cell(v) for k, v in m.items()}),
                         *(_cell(m.get(k, "")) for k in keys),
                         *(column[i] for column in metrics.values())])
    return buf.getvalue()


def log_results(call: Call, flat: dict[str, Any], names: dict[str, str]) -> None:
    tuner, model, run = call.state["estimator"], call.state["result"], call.run
    evaluator = tuner.getEvaluator()
    metric = evaluator.getMetricName() if hasattr(evaluator, "getMetricName") else "metric"
    metrics = _metric_columns(model, metric)
    ranking = next(iter(metrics.values()))
    larger = bool(evaluator.isLargerBetter())
    order = sorted(range(len(ranking)), key=lambda i: -ranking[i] if larger else ranking[i])
    maps = tuner.getEstimatorParamMaps()
    # In the parent, the tuned estimator is a nested stage: its params carry its name.
    tuned = [{_params.map_key(p, names): v for p, v in m.items()} for m in maps]
    if order:
        best = order[0]
        _common.log_params(run, {f"best_{k}": v for k, v in tuned[best].items()})
        first = next(iter(metrics))
        _common.log_metrics(run, {f"best_{first}": ranking[best]})
        _common.write_json(run, NAME, "best_parameters.json",
                           {k: _cell(v) for k, v in tuned[best].items()})
    _common.write_text(run, NAME, "search_results.csv", search_results_csv(tuned, metrics))
    limit = call.settings.get("max_tuning_runs", 5)
    chosen = order if limit is None else order[:limit]
    if chosen:
        _log_children(call, tuner.getEstimator(), names, maps, metrics, chosen)


def _log_children(call: Call, estimator: Any, names: dict[str, str], maps: list[Any],
                  metrics: dict[str, list[float]], chosen: list[int]) -> None:
    # The tuned estimator seen as the fitted one: its own params unprefixed (as in its own run).
    base = _params.flatten(estimator, names)
    children = []
    for i in chosen:
        params = {**base, **{_params.map_key(p, names, estimator.uid): v for p, v in maps[i].items()}}
        children.append((i, params, {k: column[i] for k, column in metrics.items()}))
    _common.log_child_runs(call, NAME, estimator, children)
