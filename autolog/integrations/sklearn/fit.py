"""What a scikit-learn fit records: the ``before``/``after`` hooks of every patched ``fit``,
``fit_transform``, ``fit_predict`` and cross-validation function.

Each thing recorded is one *step*, a function of this module run through ``safe_call``, so
that a failing step is reported once and the others still run (the fault-injection test
replaces each step in turn). The training path only computes numbers and queues records;
files (model, plots, ``estimator.html``, ``cv_results.csv``) and child runs are produced on
the writer thread, and the end of an autolog-managed run is queued behind them.
"""

from __future__ import annotations

import copy
import inspect
import sys
from typing import Any

from autolog._log import logger
from autolog.integrations import _common
from autolog.integrations._patch import Call, open_managed_run, safe_call

NAME = "sklearn"
# Transformers that are not models: fitted on their own they get no run (as in MLflow); inside
# a Pipeline they are part of its run.
EXCLUDED_MODULES = ("sklearn.preprocessing", "sklearn.impute", "sklearn.feature_extraction",
                    "sklearn.feature_selection")
EXCLUDED_CLASSES = frozenset({"sklearn.compose._column_transformer.ColumnTransformer"})
PRE_STEPS = ("log_params", "log_tags", "log_dataset")
POST_STEPS = ("log_training_metrics", "log_search_results", "register_model")
BACKGROUND_STEPS = ("log_models", "log_estimator_html", "log_feature_importance",
                    "log_plots", "log_search_artifacts")

_signatures: dict[Any, list[str]] = {}


def _step(call: Call, name: str, module: str = __name__) -> Any:
    # Looked up by name at call time so that a test can replace a step.
    return safe_call(NAME, f"{call.target}: {name}", getattr(sys.modules[module], name), call)


def _self_and_args(call: Call) -> tuple[Any, tuple[Any, ...]]:
    # A method patched inside sklearn's ``available_if`` descriptor is called as a plain
    # function with the estimator as its first argument.
    if call.instance is None and call.args:
        return call.args[0], call.args[1:]
    return call.instance, call.args


def positional_names(fn: Any, key: Any) -> list[str]:
    """Names of ``fn``'s positional parameters (without ``self``), cached under ``key``."""
    names = _signatures.get(key)
    if names is None:
        try:
            params = inspect.signature(fn).parameters.values()
            names = [p.name for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
        except (TypeError, ValueError):
            names = ["X", "y"]
        if names and names[0] in ("self", "cls"):
            names = names[1:]
        _signatures[key] = names
    return names


def argument(names: list[str], args: tuple[Any, ...], kwargs: dict[str, Any], index: int,
             *aliases: str) -> Any:
    """The argument at position ``index`` of the call, positional or by name."""
    if index < len(names):
        if index < len(args):
            return args[index]
        if names[index] in kwargs:
            return kwargs[names[index]]
    for alias in aliases:
        if alias in kwargs:
            return kwargs[alias]
    return None


def qualified_name(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def skipped(estimator: Any) -> bool:
    cls = type(estimator)
    return cls.__module__.startswith(EXCLUDED_MODULES) or qualified_name(cls) in EXCLUDED_CLASSES


def open_run(call: Call, run_name: str) -> None:
    """Make ``call.run`` the run to log into: the active run, else a new autolog-managed one."""
    if call.run is None:
        open_managed_run(call, run_name)


def is_search(estimator: Any) -> bool:
    # Not imported here: a user who never imported model_selection has no search to fit.
    module = sys.modules.get("sklearn.model_selection._search")
    base = getattr(module, "BaseSearchCV", None)
    return base is not None and isinstance(estimator, base)


def kind(estimator: Any) -> str:
    from sklearn import base

    if base.is_classifier(estimator):
        return "classifier"
    if base.is_regressor(estimator):
        return "regressor"
    is_clusterer = getattr(base, "is_clusterer", None)
    if is_clusterer is not None and is_clusterer(estimator):
        return "clusterer"
    return "other"


# -- the hooks ------------------------------------------------------------------------------------

def before_fit(call: Call) -> None:
    estimator, args = _self_and_args(call)
    if estimator is None or skipped(estimator):
        call.state["skip"] = True
        return None
    method = call.target.rsplit(".", 1)[-1]
    names = positional_names(getattr(estimator, method), (type(estimator), method))
    state = call.state
    state["estimator"] = estimator
    state["method"] = method
    state["X"] = argument(names, args, call.kwargs, 0, "X")
    state["y"] = argument(names, args, call.kwargs, 1, "y", "Y")
    state["sample_weight"] = call.kwargs.get("sample_weight")
    if state["sample_weight"] is None and "sample_weight" in names:
        state["sample_weight"] = argument(names, args, call.kwargs, names.index("sample_weight"))
    open_run(call, type(estimator).__name__)
    for name in PRE_STEPS:
        _step(call, name)
    return None


def after_fit(call: Call, result: Any) -> None:
    if call.state.get("skip") or call.run is None:
        return
    call.state["result"] = result
    for name in POST_STEPS:
        _step(call, name)
    for name in BACKGROUND_STEPS:
        _step(call, name)


# -- steps before training ------------------------------------------------------------------------

def log_params(call: Call) -> None:
    estimator = call.state["estimator"]
    # A search's own params (as MLflow): the seed estimator's untuned params would be noise.
    params = estimator.get_params(deep=not is_search(estimator))
    _common.log_params(call.run, params)


def log_tags(call: Call) -> None:
    cls = type(call.state["estimator"])
    _common.set_tags(call.run, {"estimator_name": cls.__name__, "estimator_class": qualified_name(cls)})


def log_dataset(call: Call) -> None:
    if call.settings.get("log_datasets", True) and call.state.get("X") is not None:
        _common.log_dataset(call.run, call.state["X"], context="train")


# -- steps after training -------------------------------------------------------------------------

def _try(fn: Any, *args: Any) -> Any:
    """Call the estimator's own method; its failure means "no such output", not our bug."""
    try:
        return fn(*args)
    except Exception as exc:  # noqa: BLE001
        logger.debug("autolog: %r raised %r; the metrics that need it are skipped", fn, exc)
        return None


# Classifiers whose predict() is, in scikit-learn's code, classes_[argmax(predict_proba(X))].
_ARGMAX_PREDICT = frozenset({"sklearn.ensemble._forest.ForestClassifier",
                             "sklearn.ensemble._bagging.BaggingClassifier"})


def _predict_is_argmax_of_proba(estimator: Any) -> bool:
    definer = next((k for k in type(estimator).__mro__ if "predict" in k.__dict__), None)
    return (definer is not None and qualified_name(definer) in _ARGMAX_PREDICT
            and getattr(estimator, "n_outputs_", 1) == 1
            and getattr(getattr(estimator, "classes_", None), "ndim", 0) == 1)


def _score_definer(estimator: Any) -> Any:
    return next((k for k in type(estimator).__mro__ if "score" in k.__dict__), None)


def log_training_metrics(call: Call) -> None:
    from autolog.integrations.sklearn import metrics as cheap

    state, settings = call.state, call.settings
    estimator, X, y, weight = state["estimator"], state["X"], state["y"], state["sample_weight"]
    what = kind(estimator)
    state["kind"] = what
    wanted = settings.get("log_training_metrics", True)
    if X is None or not wanted:
        return
    metrics: dict[str, float] = {}
    if what == "clusterer":
        labels = state["result"] if state["method"] == "fit_predict" else getattr(estimator, "labels_", None)
        if labels is None and hasattr(estimator, "predict"):
            labels = _try(estimator.predict, X)
        if labels is not None:
            metrics.update(cheap.clusterer(X, labels))
    elif y is not None and what in ("classifier", "regressor") and hasattr(estimator, "predict"):
        proba = None
        if what == "classifier" and _predict_is_argmax_of_proba(estimator):
            # Predicting twice would cost as much again as the forest's own predict_proba.
            from autolog.integrations.sklearn import forest

            proba = _try(forest.predict_proba, estimator, X)
            pred = None if proba is None else estimator.classes_.take(proba.argmax(axis=1), axis=0)
        else:
            pred = _try(estimator.predict, X)
        state["prediction"] = pred
        if pred is not None and what == "classifier":
            if proba is None and hasattr(estimator, "predict_proba"):
                proba = _try(estimator.predict_proba, X)
            report = cheap.classifier(y, pred, proba, getattr(estimator, "classes_", None), weight,
                                      settings.get("pos_label"),
                                      curves=bool(settings.get("plots", "lazy")))
            metrics.update(report.metrics)
            state["classifier_report"] = report
        elif pred is not None:
            metrics.update(cheap.regressor(y, pred, weight))
    if hasattr(estimator, "score"):
        # Unsupervised estimators score X alone (KMeans: minus the inertia; GaussianMixture,
        # PCA: the mean log-likelihood); one that needs y and has none just gets no score.
        metrics["training_score"] = _training_score(estimator, X, y, weight, metrics)
    _common.log_metrics(call.run, metrics, step=0)


def _training_score(estimator: Any, X: Any, y: Any, weight: Any, metrics: dict[str, float]) -> Any:
    from sklearn.base import ClassifierMixin, RegressorMixin

    # The mixins' score is accuracy / R² of predict(X): reuse what was just computed instead of
    # predicting again.
    definer = _score_definer(estimator)
    if definer is ClassifierMixin and "training_accuracy_score" in metrics:
        return metrics["training_accuracy_score"]
    if definer is RegressorMixin and "training_r2_score" in metrics:
        return metrics["training_r2_score"]
    names = positional_names(estimator.score, (type(estimator), "score"))
    if weight is not None and "sample_weight" in names:
        return _try(lambda: estimator.score(X, y, sample_weight=weight))
    return _try(estimator.score, X, y)


def log_search_results(call: Call) -> None:
    estimator = call.state["estimator"]
    if not is_search(estimator):
        return
    best = getattr(estimator, "best_params_", None)
    if best:
        _common.log_params(call.run, {f"best_{k}": v for k, v in best.items()})
    if hasattr(estimator, "best_score_"):
        _common.log_metrics(call.run, {"best_cv_score": estimator.best_score_})


def register_model(call: Call) -> None:
    if call.settings.get("log_post_training_metrics", True):
        from autolog.integrations.sklearn import post_training as _sklearn_post

        _sklearn_post.register_model(call.state["estimator"], call.run)


# -- steps producing files (queued for the writer thread) ------------------------------------------

def _head_copy(X: Any, rows: int = 5) -> Any:
    """A copy of the first rows only: the example must not change if the caller's X does."""
    head = _common.head(X, rows)
    if head is None:
        return None
    if hasattr(head, "copy"):
        return head.copy()
    return list(head)


def _signature(call: Call, model: Any) -> Any:
    from autolog.models import infer_signature

    X = call.state.get("X")
    head = _common.head(X)
    if head is None:
        return None
    pred = call.state.get("prediction") if model is call.state["estimator"] else None
    if pred is not None:
        out = _common.head(pred)
    elif _predict_is_argmax_of_proba(model):
        # A forest's own predict dispatches a joblib task per tree: ~10 ms for five rows.
        from autolog.integrations.sklearn import forest

        proba = _try(forest.predict_proba, model, head)
        out = None if proba is None else model.classes_.take(proba.argmax(axis=1), axis=0)
    elif hasattr(model, "predict"):
        out = _try(model.predict, head)
    elif hasattr(model, "transform"):
        out = _try(model.transform, head)
    else:
        out = None
    return infer_signature(head, out)


_model_names: dict[tuple[str, str], int] = {}


def _model_name(run: Any, base: str) -> str:
    """``model``, then ``model-2``, ... for later fits logged into the same (user's) run."""
    key = (run.info.run_id, base)
    count = _model_names.get(key, 0) + 1
    _model_names[key] = count
    return base if count == 1 else f"{base}-{count}"


def log_models(call: Call) -> None:
    settings = call.settings
    if not settings.get("log_models", True):
        return
    estimator = call.state["estimator"]
    example = _head_copy(call.state.get("X")) if settings.get("log_input_examples") else None
    models = [("model", estimator)]
    if is_search(estimator) and hasattr(estimator, "best_estimator_"):
        models.append(("best_estimator", estimator.best_estimator_))
    for base, model in models:
        name = _model_name(call.run, base)
        signature = _signature(call, model) if settings.get("log_model_signatures", True) else None
        _common.log_model(call.run, NAME, model, name, signature=signature,
                          input_example=example, flavor=NAME)


def _frozen(estimator: Any) -> Any:
    """A shallow copy that a later refit or ``set_params`` of the original does not change
    (they rebind attributes; lists such as a forest's ``estimators_`` are copied, since warm
    starts extend them in place). Fitted arrays are shared, never copied."""
    frozen = copy.copy(estimator)
    for key, value in list(vars(frozen).items()):
        if isinstance(value, list):
            setattr(frozen, key, list(value))
    return frozen


def log_estimator_html(call: Call) -> None:
    # The structure is read on the writer thread (get_params of every step costs milliseconds),
    # from a frozen copy; the page is drawn from it when someone opens estimator.html.
    frozen = _frozen(call.state["estimator"])

    def build() -> Any:
        from autolog.integrations.sklearn import plots

        return plots.estimator_spec(frozen)

    _common.log_plot(call.run, NAME, "estimator.html", build)


def _final_and_names(estimator: Any, X: Any) -> tuple[Any, list[str] | None]:
    """The estimator whose importances describe the model, and its input feature names."""
    if is_search(estimator):
        estimator = getattr(estimator, "best_estimator_", estimator)
    names = None
    steps = getattr(estimator, "steps", None)
    if isinstance(steps, list) and steps and hasattr(estimator, "_final_estimator"):
        try:
            head = estimator[:-1]
            names = [str(n) for n in head.get_feature_names_out()] if len(head) else None
        except Exception:  # noqa: BLE001 - a step without feature names: fall back to indices
            names = None
        estimator = estimator._final_estimator
    return estimator, names


def _importances(model: Any) -> Any:
    """``feature_importances_``, else ``coef_``, as a 1-d float array (None if neither)."""
    import numpy as np

    from autolog.integrations.sklearn import forest

    values = None
    for attr in ("feature_importances_", "coef_"):
        try:
            values = (forest.feature_importances(model) if attr == "feature_importances_"
                      else getattr(model, attr, None))
        except Exception:  # noqa: BLE001 - a property refusing to compute: no importances
            values = None
        if values is not None:
            break
    if values is None:
        return None
    if hasattr(values, "toarray"):
        values = values.toarray()
    values = np.array(values, dtype=np.float64)  # a copy: coef_ may change in place later
    if values.ndim == 2:
        # One row of coefficients per class: the mean magnitude says how much a feature matters.
        values = values[0] if values.shape[0] == 1 else np.abs(values).mean(axis=0)
    return values if values.ndim == 1 else None


def log_feature_importance(call: Call) -> None:
    X = call.state.get("X")
    final, names = _final_and_names(call.state["estimator"], X)
    run = call.run
    # A computed property (forests average their trees', milliseconds) is evaluated on the
    # writer thread, on a frozen copy; plain attributes are copied now.
    deferred = isinstance(getattr(type(final), "feature_importances_", None), property)
    source = _frozen(final) if deferred else None
    values = None if deferred else _importances(final)
    if not deferred and values is None:
        return
    fallback = _common.feature_names(X, None, final) if X is not None else None

    def task() -> None:
        found = _importances(source) if deferred else values
        if found is None:
            return
        labels = names
        if labels is None or len(labels) != found.shape[0]:
            labels = fallback if fallback is not None and len(fallback) == found.shape[0] else \
                [f"feature_{i}" for i in range(found.shape[0])]
        _common.log_feature_importance(run, NAME, list(labels), found.tolist())

    _common.in_background(run, NAME, "feature_importance", task)


def log_plots(call: Call) -> None:
    report = call.state.get("classifier_report")
    if report is None or report.confusion is None:
        return
    from autolog.integrations.sklearn import plots

    run = call.run
    # Looked up when built (on the writer thread), so a test can replace a builder.
    _common.log_plot(run, NAME, "training_confusion_matrix.png",
                     lambda: plots.confusion_matrix(report.labels, report.confusion))
    if report.roc is not None:
        _common.log_plot(run, NAME, "training_roc_curve.png", lambda: plots.roc_curve(*report.roc))
    if report.pr is not None:
        _common.log_plot(run, NAME, "training_precision_recall_curve.png",
                         lambda: plots.precision_recall_curve(*report.pr))


def log_search_artifacts(call: Call) -> None:
    estimator = call.state["estimator"]
    if not is_search(estimator) or not hasattr(estimator, "cv_results_"):
        return
    from autolog.integrations.sklearn import search

    search.log_search_files(call, estimator)
