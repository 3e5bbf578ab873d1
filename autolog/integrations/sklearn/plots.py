"""The plot specs of a scikit-learn fit (:mod:`autolog.plots.spec`): the classifier plots from
numbers computed at fit time, and ``estimator.html``'s structure. They are built on the writer
thread by :func:`autolog.integrations._common.log_plot` and drawn when someone reads them."""

from __future__ import annotations

import functools
import inspect
import math
from typing import Any

from autolog.plots import spec


def confusion_matrix(labels: list[Any], counts: Any) -> dict[str, Any]:
    """Counts, rows = true label; the drawing shades each row by its share, as MLflow does."""
    return spec.confusion_matrix(labels, counts, title="Training confusion matrix")


def roc_curve(fpr: Any, tpr: Any) -> dict[str, Any]:
    import numpy as np

    fpr, tpr = np.asarray(fpr), np.asarray(tpr)
    area = float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2)) if fpr.size > 1 else float("nan")
    return spec.curves([{"name": f"ROC curve (AUC = {area:.3f})", "x": fpr, "y": tpr}],
                       "Training ROC curve", "False positive rate", "True positive rate",
                       diagonal=True)


def precision_recall_curve(recall: Any, precision: Any) -> dict[str, Any]:
    return spec.curves([{"name": "", "x": recall, "y": precision}],
                       "Training precision-recall curve", "Recall", "Precision")


# -- estimator.html --------------------------------------------------------------------------------

_MAX_NODES = 500  # a pathological nesting stays a readable page


def estimator_spec(estimator: Any) -> dict[str, Any]:
    """The estimator's structure: Pipelines serial, ColumnTransformer/FeatureUnion/ensembles
    of named estimators parallel, a meta-estimator with its inner estimator as one child."""
    budget = [_MAX_NODES]
    return spec.estimator(_node(estimator, None, budget), title=type(estimator).__name__)


def _is_estimator(value: Any) -> bool:
    return hasattr(value, "get_params") and hasattr(value, "fit") and not isinstance(value, type)


def _same(value: Any, default: Any) -> bool:
    if value is default:
        return True
    if isinstance(value, float) and isinstance(default, float) and math.isnan(value) and math.isnan(default):
        return True
    try:
        return bool(type(value) is type(default) and value == default)
    except Exception:  # noqa: BLE001 - arrays and odd objects: compare their reprs
        return repr(value) == repr(default)


@functools.lru_cache(maxsize=256)
def _defaults(cls: type) -> dict[str, Any]:
    # Cached per class: inspect.signature costs more than the rest of the spec (read only).
    try:
        parameters = inspect.signature(cls).parameters.values()  # the constructor's arguments
    except (TypeError, ValueError):
        return {}
    return {p.name: p.default for p in parameters if p.default is not p.empty}


def _short_repr(value: Any, limit: int = 200) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _named(pairs: Any) -> list[tuple[str, Any]]:
    out = []
    for item in pairs or ():
        if isinstance(item, (list, tuple)) and len(item) >= 2:
            out.append((str(item[0]), item[1]))
    return out


def _node(est: Any, name: str | None, budget: list[int]) -> dict[str, Any]:
    budget[0] -= 1
    if not _is_estimator(est):
        # 'passthrough', 'drop' or None in a Pipeline or ColumnTransformer.
        return spec.node(str(est), name=name)
    try:
        params = est.get_params(deep=False)
    except Exception:  # noqa: BLE001 - a broken get_params still gives a box
        params = {}
    defaults = _defaults(type(est))  # type: ignore[arg-type]  # classes are hashable
    children: list[tuple[str | None, Any, dict[str, str]]] = []
    layout = "single"
    structural: set[str] = set()
    if isinstance(getattr(est, "steps", None), list):
        layout, structural = "serial", {"steps"}
        children = [(n, s, {}) for n, s in _named(est.steps)]
    elif isinstance(getattr(est, "transformers", None), list):
        layout, structural = "parallel", {"transformers"}
        for item in est.transformers:
            if isinstance(item, (list, tuple)) and len(item) >= 3:
                children.append((str(item[0]), item[1], {"columns": _short_repr(item[2])}))
    elif isinstance(getattr(est, "transformer_list", None), list):
        layout, structural = "parallel", {"transformer_list"}
        children = [(n, s, {}) for n, s in _named(est.transformer_list)]
    elif isinstance(params.get("estimators"), list) and _named(params["estimators"]):
        layout, structural = "parallel", {"estimators"}
        children = [(n, s, {}) for n, s in _named(params["estimators"])]
    fitted_best = getattr(est, "best_estimator_", None)
    for key, value in params.items():
        if key in structural or not _is_estimator(value):
            continue
        structural.add(key)
        if key == "estimator" and fitted_best is not None:
            children.append(("best_estimator_", fitted_best, {}))
        else:
            children.append((key, value, {}))
        if layout == "single":
            layout = "serial"
    shown = {k: _short_repr(v) for k, v in params.items()
             if k not in structural and not (k in defaults and _same(v, defaults[k]))}
    kids = []
    for child_name, child, extra in children:
        if budget[0] <= 0:
            break
        box = _node(child, child_name, budget)
        box["params"] = {**extra, **box["params"]}
        kids.append(box)
    return spec.node(type(est).__name__, name=name, params=shown, layout=layout, children=kids)
