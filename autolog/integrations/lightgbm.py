"""LightGBM integration: ``lightgbm.train``, ``lightgbm.cv`` and the scikit-learn API.

The same shape as the XGBoost integration (see ``autolog.integrations.xgboost``): one run per
outermost call; ``LGBMClassifier.fit`` and its siblings are patched themselves and log
``get_params()``, the ``train`` inside only adds its callback to their run. Logged:

* ``<valid name>-<metric>`` per iteration (``training-multi_logloss``, ``valid_0-l2``), step =
  iteration, from a callback ordered before every other (so the iteration on which
  ``early_stopping`` stops is logged too), in a new callback list;
* with early stopping: ``best_iteration`` and ``stopped_iteration``, both 0-based (LightGBM's
  own ``best_iteration`` is 1-based), and ``best_<metric key>``; ``lightgbm.early_stopping(...)``
  adds the params ``stopping_rounds``, ``min_delta`` and ``first_metric_only``;
* ``feature_importance_split`` and ``feature_importance_gain`` (``.json`` and ``.png``);
* the model as ``model`` in LightGBM's text format (``model.txt``, the best iteration's trees as
  LightGBM saves them); for the sklearn API the wrapper's fitted state is saved beside it, so
  ``autolog.load_model`` gives back the class fitted (``model_type="booster"``: the Booster);
* fingerprints of the training and validation data.

``lightgbm.cv``: one run with the params, ``nfold``, and per round the mean and standard
deviation under the names of its result (``valid l2-mean``, ``valid l2-stdv``).
"""

from __future__ import annotations

import os
import pickle
from typing import Any, Sequence

from autolog.errors import InvalidInputError
from autolog.integrations import _boosting, configure
from autolog.integrations._patch import Call, patch, safe_call
from autolog.models._flavors import Flavor
from autolog.models import flavor_functions

NAME = "lightgbm"
IMPORTANCE_TYPES = ("split", "gain")
# train()/cv() arguments that are data or code, not settings (MLflow's list, plus cv's).
_NOT_SETTINGS = ("params", "train_set", "valid_sets", "valid_names", "fobj", "feval",
                 "init_model", "learning_rates", "callbacks", "evals_result", "folds", "fpreproc")
# Before every callback, LightGBM's own included (log_evaluation is 10, early_stopping 30).
_CALLBACK_ORDER = -(2**31)
MODEL_FILE = "model.txt"
STATE_FILE = "sklearn_state.pkl"


def autolog(*, disable: bool = False, exclusive: bool = False, silent: bool = False,
            log_models: bool = True, log_input_examples: bool = False,
            log_model_signatures: bool = True, log_datasets: bool = True,
            disable_for_unsupported_versions: bool = False,
            extra_tags: dict[str, str] | None = None,
            importance_types: Sequence[str] = IMPORTANCE_TYPES,
            plots: str | bool = "lazy") -> None:
    """Enable (or disable) autologging of LightGBM training.

    Args:
        disable: turn the integration off and restore the original functions.
        exclusive: with a run of the user's active, log nothing (instead of logging into it).
        silent: no warnings from autolog for this integration.
        log_models: log the trained model as ``model``.
        log_input_examples: save the first rows of the training data with the model.
        log_model_signatures: infer and save the model's input/output signature.
        log_datasets: fingerprint the training and validation data as run inputs.
        disable_for_unsupported_versions: stay off on LightGBM versions outside the tested range.
        extra_tags: tags added to every run the integration starts.
        importance_types: ``Booster.feature_importance`` types to log.
        plots: ``"lazy"`` records each importance chart as a plot spec, drawn when first
            read; ``"eager"`` also draws it on the writer thread; ``False`` records none (the
            ``feature_importance_<type>.json`` files are logged either way).

    Raises:
        InvalidInputError: an unknown importance type, or an unknown ``plots``.
    """
    from autolog.plots import check_mode

    plots = check_mode(plots)
    if isinstance(importance_types, str):
        importance_types = (importance_types,)
    importance_types = tuple(importance_types)
    unknown = [t for t in importance_types if t not in IMPORTANCE_TYPES]
    if unknown:
        raise InvalidInputError(
            f"Unknown LightGBM importance type(s) {unknown}; known: {', '.join(IMPORTANCE_TYPES)}.")
    configure(NAME, dict(locals()))


def apply(module: Any) -> None:
    """Install the patches (called when ``lightgbm`` is imported)."""
    patch(NAME, module, "train", join_nested=True,
          run_name="lightgbm.train", target="lightgbm.train",
          **_boosting.native_hooks(NAME, "train", _log_native_inputs, _Callback,
                                   lambda call, booster: _finish(call, booster, booster)))
    patch(NAME, module, "cv", run_name="lightgbm.cv", target="lightgbm.cv",
          **_boosting.native_hooks(NAME, "cv", _log_native_inputs, _Callback, None))
    try:
        import lightgbm.sklearn as skl
    except ImportError:  # scikit-learn missing: no sklearn API to patch
        return
    _boosting.alias(NAME, skl, "train", module)  # the sklearn API calls its own reference
    for cls in vars(skl).values():
        if isinstance(cls, type) and issubclass(cls, skl.LGBMModel) and "fit" in cls.__dict__:
            patch(NAME, cls, "fit", before=_fit_before, after=_fit_after,
                  target=f"{cls.__name__}.fit")


# -- hooks ------------------------------------------------------------------------------------
def _log_native_inputs(call: Call, fn: Any) -> None:
    bound = _boosting.bind(fn, call.args, call.kwargs).arguments
    params = {**_boosting.booster_params(bound.get("params")),
              **_boosting.settings_of(fn, call.args, call.kwargs, _NOT_SETTINGS)}
    safe_call(NAME, "params", _boosting.log_params, call.run, params)
    safe_call(NAME, "early stopping params", _log_early_stopping_params, call.run,
              bound.get("callbacks"))
    train_set = bound.get("train_set")
    # Read the raw data now: train() frees it (free_raw_data) once the Dataset is constructed.
    data = getattr(train_set, "data", None)
    if call.settings.get("log_datasets", True):
        datasets = [(data, "train", "train")]
        valid_sets = bound.get("valid_sets")
        valid_names = bound.get("valid_names") or []
        if isinstance(valid_names, str):
            valid_names = [valid_names]
        if not isinstance(valid_sets, (list, tuple)):  # one Dataset, or None
            valid_sets = [valid_sets] if valid_sets is not None else []
        for i, valid in enumerate(valid_sets):
            if valid is not train_set:  # LightGBM's own naming of validation sets
                name = valid_names[i] if len(valid_names) > i else f"valid_{i}"
                datasets.append((getattr(valid, "data", None), "eval", str(name)))
        safe_call(NAME, "datasets", _boosting.log_datasets, call.run, datasets)
    call.state["example"] = safe_call(NAME, "input example", _boosting.head_copy, data)


def _fit_before(call: Call) -> None:
    estimator = call.instance
    safe_call(NAME, "params", _boosting.log_params, call.run, estimator.get_params())
    bound = _boosting.bind(type(estimator).fit, (estimator, *call.args), call.kwargs).arguments
    safe_call(NAME, "early stopping params", _log_early_stopping_params, call.run,
              bound.get("callbacks"))
    X = bound.get("X")
    if call.settings.get("log_datasets", True):
        names = bound.get("eval_names") or []
        datasets = [(X, "train", "train")]
        datasets += [(Xe, "eval", str(names[i]) if len(names) > i else f"valid_{i}")
                     for i, Xe in enumerate(_eval_inputs(bound))]
        safe_call(NAME, "datasets", _boosting.log_datasets, call.run, datasets)
    call.state["example"] = safe_call(NAME, "input example", _boosting.head_copy, X)


def _log_early_stopping_params(run: Any, callbacks: Any) -> None:
    """``lightgbm.early_stopping(...)``'s settings, as XGBoost's ``early_stopping_rounds`` is
    logged: ``stopping_rounds``, ``min_delta``, ``first_metric_only`` (MLflow's names)."""
    for callback in callbacks or ():
        if type(callback).__name__ == "_EarlyStoppingCallback":
            _boosting.log_params(run, {k: getattr(callback, k) for k in
                                       ("stopping_rounds", "min_delta", "first_metric_only")
                                       if hasattr(callback, k)})


def _eval_inputs(bound: Any) -> list[Any]:
    """The eval sets' feature matrices, given as ``eval_set`` or (LightGBM 4.7+) ``eval_X``."""
    eval_set = bound.get("eval_set")
    if eval_set is not None:
        return [pair[0] for pair in ([eval_set] if isinstance(eval_set, tuple) else eval_set)]
    eval_X = bound.get("eval_X")
    if eval_X is None:
        return []
    return list(eval_X) if isinstance(eval_X, tuple) else [eval_X]


def _fit_after(call: Call, result: Any) -> None:
    _finish(call, call.instance.booster_, call.instance)


def _finish(call: Call, booster: Any, model: Any) -> None:
    """After training: early-stopping metrics, feature importance, the model."""
    tracker = call.state.get("tracker")
    if booster.best_iteration > 0:  # 1-based; 0 means no early stopping
        safe_call(NAME, "early stopping", _boosting.log_early_stopping, call.run, tracker,
                  booster.best_iteration - 1)
    safe_call(NAME, "feature importance", _log_importance, call, booster)
    safe_call(NAME, "model", _boosting.log_model, call, NAME, model, call.state.get("example"),
              model.predict)


def _log_importance(call: Call, booster: Any) -> None:
    names = booster.feature_name()
    importances = {kind: (names, booster.feature_importance(importance_type=kind).tolist())
                   for kind in call.settings.get("importance_types", IMPORTANCE_TYPES)}
    _boosting.log_importance(call.run, NAME, importances)


class _Callback:
    """Logs each iteration's evaluation results (a LightGBM callback: called with its env)."""

    def __init__(self, tracker: _boosting.Tracker, cv: bool) -> None:
        self.tracker, self.cv = tracker, cv
        # Instance attributes: LightGBM reads (and setdefaults) them in the instance __dict__.
        self.order = _CALLBACK_ORDER
        self.before_iteration = False

    def __call__(self, env: Any) -> None:
        safe_call(NAME, "per-iteration metrics", self._log, env)

    def _log(self, env: Any) -> None:
        key = self.tracker.key
        metrics = {}
        # Items are (data, metric, value, higher_is_better[, stdv]); cv names keys as its result.
        for item in env.evaluation_result_list or ():
            if self.cv:
                metrics[key(item[0], " ", item[1], "-mean")] = item[2]
                metrics[key(item[0], " ", item[1], "-stdv")] = item[4]
            else:
                metrics[key(item[0], "-", item[1])] = item[2]
        self.tracker.record(env.iteration, metrics)


# -- the model flavor -------------------------------------------------------------------------
class _Frozen:
    """A model serialised on the training thread, written later on the writer thread."""

    __slots__ = ("text", "model_type", "sklearn_class", "state")

    def __init__(self, text: str, model_type: str, sklearn_class: str | None = None,
                 state: bytes | None = None) -> None:
        self.text, self.model_type, self.sklearn_class, self.state = (
            text, model_type, sklearn_class, state)


def _wrapper_state(model: Any) -> bytes:
    """The sklearn wrapper's attributes except the Booster (saved as text beside them)."""
    import cloudpickle

    state = {k: v for k, v in vars(model).items() if k != "_Booster"}
    try:
        return bytes(cloudpickle.dumps(state))
    except Exception:  # noqa: BLE001 - an unpicklable user object (a callback) is left out
        kept = {}
        for key, value in state.items():
            try:
                cloudpickle.dumps(value)
            except Exception:  # noqa: BLE001
                continue
            kept[key] = value
        return bytes(cloudpickle.dumps(kept))


def _snapshot(model: Any) -> _Frozen:
    import lightgbm

    if isinstance(model, lightgbm.Booster):
        return _Frozen(model.model_to_string(), "booster")
    if isinstance(model, lightgbm.LGBMModel):
        cls = type(model)
        return _Frozen(model.booster_.model_to_string(), "sklearn",
                       f"{cls.__module__}.{cls.__qualname__}", _wrapper_state(model))
    raise InvalidInputError(f"Not a LightGBM model: {type(model).__name__}.")


def _save(model: Any, folder: str) -> dict[str, Any]:
    frozen = model if isinstance(model, _Frozen) else _snapshot(model)
    with open(os.path.join(folder, MODEL_FILE), "w") as fh:
        fh.write(frozen.text)
    meta: dict[str, Any] = {"model_file": MODEL_FILE, "model_type": frozen.model_type}
    if frozen.state is not None:
        with open(os.path.join(folder, STATE_FILE), "wb") as fh:
            fh.write(frozen.state)
        meta.update(sklearn_class=frozen.sklearn_class, sklearn_state_file=STATE_FILE)
    return meta


def _load(folder: str, metadata: dict[str, Any]) -> Any:
    import lightgbm

    model_file = os.path.join(folder, metadata.get("model_file", MODEL_FILE))
    booster = lightgbm.Booster(model_file=model_file)
    if metadata.get("model_type") != "sklearn":
        return booster
    cls = _boosting.import_class(metadata["sklearn_class"])
    with open(os.path.join(folder, metadata.get("sklearn_state_file", STATE_FILE)), "rb") as fh:
        state = pickle.load(fh)
    estimator = cls.__new__(cls)
    estimator.__dict__.update(state)
    estimator._Booster = booster
    return estimator


FLAVOR = Flavor(name=NAME, save=_save, load=_load, requirements=("lightgbm",), snapshot=_snapshot)


log_model, load_model = flavor_functions(NAME, "LightGBM", _boosting.LOAD_NOTE)
