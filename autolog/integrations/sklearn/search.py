"""Hyperparameter searches and cross-validation functions: ``cv_results.csv``, the child runs of
the best candidates, and the hooks of ``cross_validate`` and friends (one run, per-fold
metrics)."""

from __future__ import annotations

import csv
import io
import math
from typing import Any, Iterator

from autolog.integrations import _common
from autolog.integrations._patch import Call

NAME = "sklearn"
CV_STEPS = ("log_cv_params", "log_cv_results")


def _cell(value: Any) -> Any:
    import numpy as np

    if value is None or value is np.ma.masked:
        return ""
    if hasattr(value, "item") and getattr(value, "ndim", 1) == 0:
        return value.item()
    return value


def cv_results_csv(results: dict[str, Any]) -> str:
    """``cv_results_`` as CSV, one row per candidate (masked parameter cells are empty)."""
    columns = list(results)
    n = len(results[columns[0]]) if columns else 0
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(columns)
    for i in range(n):
        writer.writerow([_cell(results[c][i]) for c in columns])
    return buf.getvalue()


def _number(value: Any) -> float | None:
    value = _cell(value)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def rank_column(search: Any, results: dict[str, Any]) -> str | None:
    refit = getattr(search, "refit", True)
    if isinstance(refit, str) and f"rank_test_{refit}" in results:
        return f"rank_test_{refit}"
    if "rank_test_score" in results:
        return "rank_test_score"
    return next((k for k in results if k.startswith("rank_test_")), None)


def best_rows(search: Any, results: dict[str, Any], limit: int | None) -> list[int]:
    """Indices of the ``limit`` best candidates by rank (all of them for ``None``)."""
    key = rank_column(search, results)
    n = len(next(iter(results.values()))) if results else 0
    order = list(range(n))
    if key is not None:
        ranks = [(_number(results[key][i]) or math.inf) for i in order]
        order.sort(key=lambda i: (ranks[i], i))
    return order if limit is None else order[:limit]


def log_search_files(call: Call, search: Any) -> None:
    """Queue ``cv_results.csv`` and the child runs; their contents are taken now."""
    results = dict(search.cv_results_)  # sklearn rebinds cv_results_ on refit, never mutates it
    run = call.run
    _common.in_background(run, NAME, "cv_results.csv",
                          lambda: _common.write_text(run, NAME, "cv_results.csv",
                                                     cv_results_csv(results)))
    limit = call.settings.get("max_tuning_runs", 5)
    rows = best_rows(search, results, limit)
    if not rows:
        return
    seed = search.estimator
    seed_params = {k: v for k, v in seed.get_params(deep=True).items()} if hasattr(seed, "get_params") else {}
    children = []
    for i in rows:
        params = {**seed_params, **results["params"][i]}
        metrics = {}
        for key, column in results.items():
            if key.startswith(("param", "split")):
                continue
            value = _number(column[i])
            if value is not None:
                metrics[key] = value
        children.append((i, params, metrics))
    _common.log_child_runs(call, NAME, seed, children)


# -- cross-validation functions ------------------------------------------------------------------

def before_cv(call: Call) -> None:
    from autolog.integrations.sklearn import fit

    function = call.target.rsplit(".", 1)[-1]
    import sklearn.model_selection as ms

    names = fit.positional_names(getattr(ms, function), ("cv", function))
    estimator = fit.argument(names, call.args, call.kwargs, 0, "estimator")
    if estimator is None:
        call.state["skip"] = True
        return None
    call.state.update(function=function, estimator=estimator,
                      X=fit.argument(names, call.args, call.kwargs, 1, "X"))
    fit.open_run(call, type(estimator).__name__)
    fit._step(call, "log_cv_params", __name__)
    return None


def log_cv_params(call: Call) -> None:
    from autolog.integrations.sklearn import fit

    state = call.state
    estimator = state["estimator"]
    if hasattr(estimator, "get_params"):
        _common.log_params(call.run,
                                     estimator.get_params(deep=not fit.is_search(estimator)))
    cls = type(estimator)
    _common.set_tags(call.run, {"estimator_name": cls.__name__,
                                "estimator_class": fit.qualified_name(cls),
                                "autolog.sklearn.function": state["function"]})
    if call.settings.get("log_datasets", True) and state["X"] is not None:
        _common.log_dataset(call.run, state["X"], context="train")


def after_cv(call: Call, result: Any) -> None:
    if call.state.get("skip") or call.run is None:
        return
    from autolog.integrations.sklearn import fit

    call.state["result"] = result
    fit._step(call, "log_cv_results", __name__)


def log_cv_results(call: Call) -> None:
    by_step: dict[int, dict[str, Any]] = {}
    for key, value, step in cv_metrics(call.state["function"], call.state["result"]):
        by_step.setdefault(step, {})[key] = value
    for step, metrics in sorted(by_step.items()):
        _common.log_metrics(call.run, metrics, step=step)


def _series(key: str, values: Any) -> Iterator[tuple[str, float, int]]:
    import numpy as np

    arr = np.asarray(values)
    if arr.dtype.kind not in "biuf" or arr.size == 0:
        return
    arr = arr.astype(np.float64)
    if arr.ndim == 1:
        # One value per fold: step = fold index, then the mean and spread over folds.
        for fold, value in enumerate(arr.tolist()):
            yield key, value, fold
        yield f"mean_{key}", float(arr.mean()), 0
        yield f"std_{key}", float(arr.std()), 0
    elif arr.ndim == 2:
        # A curve: one cross-validation per point (training size or parameter value), folds in
        # columns. Step = point index; the fold values of the last point as <key>.
        for point, row in enumerate(arr):
            yield f"mean_{key}", float(row.mean()), point
            yield f"std_{key}", float(row.std()), point
        for fold, value in enumerate(arr[-1].tolist()):
            yield key, value, fold


def cv_metrics(function: str, result: Any) -> Iterator[tuple[str, float, int]]:
    """(key, value, step) for what a cross-validation function returned."""
    import numpy as np

    if function == "cross_validate" and isinstance(result, dict):
        for key, values in result.items():
            if key in ("estimator", "indices"):
                continue
            yield from _series(key, values)
    elif function == "cross_val_score":
        yield from _series("test_score", result)
    elif function == "learning_curve" and isinstance(result, tuple):
        sizes = result[0]
        for point, size in enumerate(list(sizes)):
            yield "train_size", float(size), point
        for key, values in zip(("train_score", "test_score", "fit_time", "score_time"), result[1:]):
            yield from _series(key, values)
    elif function == "validation_curve" and isinstance(result, tuple):
        for key, values in zip(("train_score", "test_score"), result):
            yield from _series(key, values)
    elif function == "permutation_test_score" and isinstance(result, tuple):
        score, permutation_scores, pvalue = result[:3]
        yield "test_score", float(score), 0
        for i, value in enumerate(list(permutation_scores)):
            yield "permutation_score", float(value), i
        yield "mean_permutation_score", float(np.mean(permutation_scores)), 0
        yield "std_permutation_score", float(np.std(permutation_scores)), 0
        yield "pvalue", float(pvalue), 0
    # cross_val_predict returns predictions, not scores: its run has params and dataset only.
