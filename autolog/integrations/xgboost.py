"""XGBoost integration: ``xgboost.train``, ``xgboost.cv`` and the scikit-learn API.

One run per outermost call, whichever path the user took. ``XGBClassifier.fit`` (and the other
sklearn-API classes) is patched itself, so it is the outer call and logs ``get_params()``; the
``train`` it calls inside joins that call only to add the per-iteration callback. Native
``train`` logs the booster params plus its settings. Both then log, as MLflow does:

* ``<eval name>-<metric>`` per iteration (step = iteration; ``@`` -> ``_at_``), from a callback
  put first in a new callback list (the user's list is never changed);
* with early stopping, ``best_iteration``, ``stopped_iteration`` (0-based, the last iteration
  trained) and ``best_<metric key>``, each metric's value at the best iteration;
* ``feature_importance_<type>.json``/``.png`` for each of ``importance_types`` (a list per
  feature, one value per class, where XGBoost gives per-class values: ``gblinear``);
* the model as ``model`` in XGBoost's format (``ubj`` or ``json``): ``autolog.load_model`` gives
  back what was fitted, a ``Booster`` or the sklearn-API class (``model_type="booster"`` asks
  for the Booster of either);
* fingerprints of the training and eval data; for native ``train`` taken when the ``DMatrix``
  is built (it does not keep its source), with a 5-row example for the signature.

``xgboost.cv`` gives one run with the params, ``nfold`` and the per-round mean and std of each
metric under the names of its result (``test-logloss-mean``, ``test-logloss-std``).
"""

from __future__ import annotations

import os
from typing import Any, Sequence

from autolog.errors import InvalidInputError
from autolog.integrations import _boosting, _config, configure
from autolog.integrations._patch import Call, patch, safe_call
from autolog.models._flavors import Flavor
from autolog.models import flavor_functions

NAME = "xgboost"
MODEL_FORMATS = ("ubj", "json")
IMPORTANCE_TYPES = ("weight", "gain", "cover", "total_gain", "total_cover")
# train()/cv() arguments that are data or code, not settings (MLflow's list, plus cv's).
_NOT_SETTINGS = ("params", "dtrain", "evals", "obj", "feval", "evals_result", "xgb_model",
                 "callbacks", "learning_rates", "folds", "fpreproc")
_SOURCE_ATTR = "_autolog_source"


def autolog(*, disable: bool = False, exclusive: bool = False, silent: bool = False,
            log_models: bool = True, log_input_examples: bool = False,
            log_model_signatures: bool = True, log_datasets: bool = True,
            disable_for_unsupported_versions: bool = False,
            extra_tags: dict[str, str] | None = None,
            importance_types: Sequence[str] = ("weight", "gain"),
            model_format: str = "ubj",
            plots: str | bool = "lazy") -> None:
    """Enable (or disable) autologging of XGBoost training.

    Args:
        disable: turn the integration off and restore the original functions.
        exclusive: with a run of the user's active, log nothing (instead of logging into it).
        silent: no warnings from autolog for this integration.
        log_models: log the trained model as ``model``.
        log_input_examples: save the first rows of the training data with the model.
        log_model_signatures: infer and save the model's input/output signature.
        log_datasets: fingerprint the training and eval data as run inputs.
        disable_for_unsupported_versions: stay off on XGBoost versions outside the tested range.
        extra_tags: tags added to every run the integration starts.
        importance_types: the ``Booster.get_score`` types logged as feature importance.
        model_format: ``"ubj"`` (binary, default) or ``"json"``.
        plots: ``"lazy"`` records each importance chart as a plot spec, drawn when first
            read; ``"eager"`` also draws it on the writer thread; ``False`` records none (the
            ``feature_importance_<type>.json`` files are logged either way).

    Raises:
        InvalidInputError: an unknown ``model_format`` or importance type, or an unknown ``plots``.
    """
    from autolog.plots import check_mode

    plots = check_mode(plots)
    if isinstance(importance_types, str):
        importance_types = (importance_types,)
    importance_types = tuple(importance_types)
    unknown = [t for t in importance_types if t not in IMPORTANCE_TYPES]
    if unknown:
        raise InvalidInputError(
            f"Unknown XGBoost importance type(s) {unknown}; known: {', '.join(IMPORTANCE_TYPES)}.")
    if model_format not in MODEL_FORMATS:
        raise InvalidInputError(
            f"model_format must be one of {', '.join(MODEL_FORMATS)}, not {model_format!r}.")
    configure(NAME, dict(locals()))


def apply(module: Any) -> None:
    """Install the patches (called when ``xgboost`` is imported)."""
    import xgboost.core
    import xgboost.sklearn

    for cls in (xgboost.core.DMatrix, getattr(xgboost.core, "QuantileDMatrix", None)):
        if cls is not None and "__init__" in cls.__dict__:
            patch(NAME, cls, "__init__", after=_dmatrix_after, manage_run=False,
                  target=f"{cls.__name__}.__init__")
    patch(NAME, module, "train", join_nested=True,
          run_name="xgboost.train", target="xgboost.train",
          **_boosting.native_hooks(NAME, "train", _log_native_inputs, _callback,
                                   lambda call, booster: _finish(call, booster, booster)))
    # The sklearn API calls its own module's reference to train.
    _boosting.alias(NAME, xgboost.sklearn, "train", module)
    patch(NAME, module, "cv", run_name="xgboost.cv", target="xgboost.cv",
          **_boosting.native_hooks(NAME, "cv", _log_native_inputs, _callback, None))
    for cls in vars(xgboost.sklearn).values():
        if (isinstance(cls, type) and issubclass(cls, xgboost.sklearn.XGBModel)
                and "fit" in cls.__dict__):
            patch(NAME, cls, "fit", before=_fit_before, after=_fit_after,
                  target=f"{cls.__name__}.fit")


# -- hooks ------------------------------------------------------------------------------------
def _dmatrix_after(call: Call, result: Any) -> None:
    # The DMatrix does not keep its source and the source is often a temporary (X[:n]): take
    # the fingerprint and a 5-row example now, while the data is at hand.
    data = call.args[0] if call.args else call.kwargs.get("data")
    if not _boosting.fingerprintable(data):
        return
    source = {"example": _boosting.head_copy(data)}
    if call.settings.get("log_datasets", True):
        source["dataset"] = _boosting.fingerprint(data)
    setattr(call.instance, _SOURCE_ATTR, source)


def _source(dmatrix: Any, what: str) -> Any:
    return (getattr(dmatrix, _SOURCE_ATTR, None) or {}).get(what)


def _log_native_inputs(call: Call, fn: Any) -> None:
    bound = _boosting.bind(fn, call.args, call.kwargs).arguments
    params = {**_boosting.booster_params(bound.get("params")),
              **_boosting.settings_of(fn, call.args, call.kwargs, _NOT_SETTINGS)}
    safe_call(NAME, "params", _boosting.log_params, call.run, params)
    dtrain = bound.get("dtrain")
    if call.settings.get("log_datasets", True):
        datasets = [(_source(dtrain, "dataset"), "train", "train")]
        evals = bound.get("evals")
        datasets += [(_source(d, "dataset"), "eval", str(name))
                     for d, name in _sequence(evals) if d is not dtrain]
        safe_call(NAME, "datasets", _boosting.log_datasets, call.run, datasets)
    call.state["example"] = _source(dtrain, "example")


def _sequence(value: Any) -> Sequence[Any]:
    # Only a list or tuple: iterating a generator here would leave nothing for XGBoost.
    return value if isinstance(value, (list, tuple)) else ()


def _fit_before(call: Call) -> None:
    estimator = call.instance
    safe_call(NAME, "params", _boosting.log_params, call.run, estimator.get_params())
    bound = _boosting.bind(type(estimator).fit, (estimator, *call.args), call.kwargs).arguments
    X = bound.get("X")
    if call.settings.get("log_datasets", True):
        datasets = [(X, "train", "train")]
        datasets += [(pair[0], "eval", f"validation_{i}")
                     for i, pair in enumerate(_sequence(bound.get("eval_set")))]
        safe_call(NAME, "datasets", _boosting.log_datasets, call.run, datasets)
    call.state["example"] = safe_call(NAME, "input example", _boosting.head_copy, X)


def _fit_after(call: Call, result: Any) -> None:
    _finish(call, call.instance.get_booster(), call.instance)


def _finish(call: Call, booster: Any, model: Any) -> None:
    """After training: early-stopping metrics, feature importance, the model."""
    tracker = call.state.get("tracker")
    best = booster.attr("best_iteration")
    if best is not None:
        safe_call(NAME, "early stopping", _boosting.log_early_stopping, call.run, tracker,
                  int(best))
    safe_call(NAME, "feature importance", _log_importance, call, booster)
    safe_call(NAME, "model", _boosting.log_model, call, NAME, model, call.state.get("example"),
              lambda example: _predict(model, example))


def _predict(model: Any, example: Any) -> Any:
    import xgboost

    if not isinstance(model, xgboost.Booster):
        return model.predict(example)
    named = hasattr(example, "columns")
    # nthread=1: starting the full OpenMP team for 5 rows costs more than the prediction.
    return model.predict(xgboost.DMatrix(
        example, feature_names=None if named else model.feature_names,
        feature_types=None if named else model.feature_types, enable_categorical=True,
        nthread=1))


def _log_importance(call: Call, booster: Any) -> None:
    import json

    names = booster.feature_names or [f"f{i}" for i in range(booster.num_features())]
    linear = json.loads(booster.save_config())["learner"]["gradient_booster"]["name"] == "gblinear"
    importances = {}
    for kind in call.settings.get("importance_types", ("weight", "gain")):
        if linear and kind != "weight":
            continue  # gblinear defines only "weight" (one coefficient per feature and class)
        scores = booster.get_score(importance_type=kind)
        width = next((len(v) for v in scores.values() if isinstance(v, list)), None)
        zero: Any = [0.0] * width if width else 0.0
        importances[kind] = (names, [scores.get(n, zero) for n in names])
    _boosting.log_importance(call.run, NAME, importances)


_callback_class: Any = None


def _callback(tracker: _boosting.Tracker, cv: bool) -> Any:
    """The per-iteration metric callback (a ``TrainingCallback``, defined at first use so that
    this module imports no XGBoost)."""
    global _callback_class
    if _callback_class is None:
        from xgboost.callback import TrainingCallback

        class AutologCallback(TrainingCallback):  # type: ignore[misc]
            """Logs each iteration's evaluation results; never asks to stop."""

            def __init__(self, tracker: _boosting.Tracker, cv: bool) -> None:
                super().__init__()
                self.tracker, self.cv, self.start = tracker, cv, 0

            def before_training(self, model: Any) -> Any:
                if not self.cv:  # continued training: steps go on from the booster's rounds
                    self.start = safe_call(NAME, "per-iteration metrics",
                                           model.num_boosted_rounds) or 0
                return model

            def after_iteration(self, model: Any, epoch: int, evals_log: Any) -> bool:
                safe_call(NAME, "per-iteration metrics", self._log, epoch, evals_log)
                return False

            def _log(self, epoch: int, evals_log: Any) -> None:
                key = self.tracker.key
                metrics = {}
                for data, by_metric in evals_log.items():
                    for metric, values in by_metric.items():
                        if self.cv:  # (mean, std)
                            mean, std = values[-1]
                            metrics[key(data, "-", metric, "-mean")] = mean
                            metrics[key(data, "-", metric, "-std")] = std
                        else:
                            metrics[key(data, "-", metric)] = values[-1]
                self.tracker.record(self.start + epoch, metrics)

        _callback_class = AutologCallback
    return _callback_class(tracker, cv)


# -- the model flavor -------------------------------------------------------------------------
class _Frozen:
    """A model serialised on the training thread, written later on the writer thread."""

    __slots__ = ("raw", "model_format", "model_type", "sklearn_class", "sklearn_params")

    def __init__(self, raw: bytes, model_format: str, model_type: str,
                 sklearn_class: str | None = None, sklearn_params: dict[str, Any] | None = None):
        self.raw, self.model_format, self.model_type = raw, model_format, model_type
        self.sklearn_class, self.sklearn_params = sklearn_class, sklearn_params


def _snapshot(model: Any) -> _Frozen:
    import xgboost

    fmt = (_config.get_config(NAME) or {}).get("model_format", "ubj")
    if isinstance(model, xgboost.Booster):
        return _Frozen(bytes(model.save_raw(raw_format=fmt)), fmt, "booster")
    if isinstance(model, xgboost.XGBModel):
        cls = type(model)
        return _Frozen(bytes(model.get_booster().save_raw(raw_format=fmt)), fmt, "sklearn",
                       f"{cls.__module__}.{cls.__qualname__}",
                       _boosting.jsonable_params(model.get_params()))
    raise InvalidInputError(f"Not an XGBoost model: {type(model).__name__}.")


def _file_name(fmt: str) -> str:
    # "model.json" is the model folder's metadata file.
    return "model.ubj" if fmt == "ubj" else "model.xgb.json"


def _save(model: Any, folder: str) -> dict[str, Any]:
    frozen = model if isinstance(model, _Frozen) else _snapshot(model)
    name = _file_name(frozen.model_format)
    with open(os.path.join(folder, name), "wb") as fh:
        fh.write(frozen.raw)
    return {"model_file": name, "model_format": frozen.model_format,
            "model_type": frozen.model_type, "sklearn_class": frozen.sklearn_class,
            "sklearn_params": frozen.sklearn_params}


def _load(folder: str, metadata: dict[str, Any]) -> Any:
    import xgboost

    path = os.path.join(folder, metadata["model_file"])
    if metadata.get("model_type") != "sklearn":
        booster = xgboost.Booster()
        booster.load_model(path)
        return booster
    estimator = _boosting.import_class(metadata["sklearn_class"])(
        **(metadata.get("sklearn_params") or {}))
    estimator.load_model(path)
    return estimator


FLAVOR = Flavor(name=NAME, save=_save, load=_load, requirements=("xgboost",), snapshot=_snapshot)


log_model, load_model = flavor_functions(NAME, "XGBoost", _boosting.LOAD_NOTE)
