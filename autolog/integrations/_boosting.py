"""What the XGBoost and LightGBM integrations share: train settings as params, the per-iteration
metric history, early-stopping metrics, feature importance, dataset fingerprints and examples.

Each logging step is a module-level function, called by the integrations through ``safe_call``:
a failing step is reported and the next step (and the training) goes on, and the fault-injection
tests can make any one of them fail.
"""

from __future__ import annotations

import inspect
import sys
from typing import Any, Callable, Iterable, Mapping, Sequence

from autolog.integrations import _common
from autolog.integrations._patch import Call

# Types whose fingerprint is cheap and copy-free (others, e.g. a file path or a pyarrow table,
# are not fingerprinted rather than converted).
_FINGERPRINTED = ("numpy", "pandas", "scipy")


def alias(integration: str, owner: Any, attr: str, source: Any) -> None:
    """Point ``owner.attr`` (a module's own reference to a function, such as
    ``xgboost.sklearn.train``) at the wrapper already installed on ``source.attr``.

    A second wrapper would not pickle: pickle resolves the function by reference to its
    defining module, where it finds the first wrapper, "not the same object". The original is
    recorded so that disabling restores it.
    """
    from autolog.integrations import _patch

    original = owner.__dict__.get(attr)
    wrapper = getattr(source, attr, None)
    if (original is None or not _patch.is_patched(source, attr) or _patch.is_patched(owner, attr)
            or getattr(wrapper, "__wrapped__", None) is not original):
        return
    setattr(owner, attr, wrapper)
    _patch.record(integration, owner, attr, original)


# What both boosters' load_model returns (the sentence added to its docstring).
LOAD_NOTE = ('What was fitted comes back (a Booster or the scikit-learn-API class); '
             'model_type="booster" gives the Booster.')


def foreign_parent(call: Call, integration: str) -> bool:
    """True when ``call`` joined an outer call of another integration (an sklearn Pipeline
    holding an XGBClassifier): the outer one logs, so this one stays silent."""
    return call.parent is not None and call.parent.integration != integration


def native_hooks(integration: str, fn_name: str, log_inputs: Callable[[Call, Any], None],
                 make_callback: Callable[[Tracker, bool], Any],
                 finish: Callable[[Call, Any], None] | None) -> dict[str, Any]:
    """``before``/``after`` for a library's native ``train`` or ``cv`` (``fn_name``).

    ``before`` logs the call's params and inputs (unless it runs inside the library's own
    sklearn-API ``fit``, which logs those itself) and puts the per-iteration callback first in
    a new callback list; ``after`` calls ``finish(call, booster)`` for a native ``train``, and
    for ``cv`` (``finish`` None) logs the rounds the returned result keeps (:func:`finish_cv`).
    Inside another integration's call (an sklearn Pipeline) both stay silent.
    """
    cv = finish is None

    def before(call: Call) -> tuple[tuple[Any, ...], dict[str, Any]] | None:
        if foreign_parent(call, integration):
            return None
        fn = getattr(sys.modules[integration], fn_name)  # the patched callable: its signature
        if call.parent is None:
            log_inputs(call, fn)
        tracker = Tracker(call.run, deferred=cv)
        call.state["tracker"] = tracker
        return with_callback(fn, call.args, call.kwargs, make_callback(tracker, cv))

    def after(call: Call, result: Any) -> None:
        if call.parent is not None or foreign_parent(call, integration):
            return
        if finish is not None:
            finish(call, result)
        elif "tracker" in call.state:
            finish_cv(call.state["tracker"], result)

    return {"before": before, "after": after}


def finish_cv(tracker: "Tracker", result: Any) -> None:
    """Log the cross-validation rounds the result keeps. With early stopping, ``cv`` returns
    the rounds up to the best one only (XGBoost's frame, LightGBM's lists): the rounds trained
    after it are not logged, and ``best_iteration``/``stopped_iteration``/``best_<key>`` are."""
    columns = list(result.values()) if isinstance(result, Mapping) else None
    kept = len(columns[0]) if columns else len(result)
    trained = 0 if tracker.last_step is None else tracker.last_step + 1
    tracker.publish(kept)
    if 0 < kept < trained:
        log_early_stopping(tracker.run, tracker, kept - 1)


def bind(fn: Any, args: Sequence[Any], kwargs: Mapping[str, Any]) -> inspect.BoundArguments:
    """The call's arguments by name (``fn`` is the patched callable: wrapt keeps its signature)."""
    return inspect.signature(fn).bind(*args, **kwargs)


def settings_of(fn: Any, args: Sequence[Any], kwargs: Mapping[str, Any],
                exclude: Iterable[str]) -> dict[str, Any]:
    """The ``train``/``cv`` arguments that are settings, defaults included (as MLflow logs them)."""
    bound = bind(fn, args, kwargs)
    bound.apply_defaults()
    skip = set(exclude)
    return {k: v for k, v in bound.arguments.items() if k not in skip}


def booster_params(params: Any) -> dict[str, Any]:
    """A params dict, or XGBoost's list of pairs (repeated keys such as ``eval_metric`` are
    gathered into a list)."""
    if params is None:
        return {}
    if isinstance(params, Mapping):
        return dict(params)
    out: dict[str, Any] = {}
    for key, value in params:
        if key in out:
            previous = out[key]
            out[key] = [*previous, value] if isinstance(previous, list) else [previous, value]
        else:
            out[key] = value
    return out


def with_callback(fn: Any, args: Sequence[Any], kwargs: Mapping[str, Any],
                  ours: Any) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """The call's arguments with ``callbacks`` replaced by a NEW list, ours first.

    First, because XGBoost stops calling callbacks at the first that asks to stop (``any()``),
    and LightGBM's early stopping raises from its callback: the iteration that triggers the stop
    must still be logged. The user's list is never mutated.
    """
    bound = bind(fn, args, kwargs)
    user = bound.arguments.get("callbacks")
    bound.arguments["callbacks"] = [ours, *(user or [])]
    return tuple(bound.args), dict(bound.kwargs)


def log_params(run: Any, params: Mapping[str, Any]) -> None:
    """Log params; a function (custom objective or metric) is logged by its name, not by its
    repr, whose memory address would differ between two calls of the same code."""
    _common.log_params(run, {k: getattr(v, "__qualname__", v) if callable(v) else v
                             for k, v in params.items()})


def fingerprintable(data: Any) -> bool:
    return data is not None and type(data).__module__.split(".")[0] in _FINGERPRINTED


def fingerprint(data: Any) -> Any:
    """A fingerprint taken now (for XGBoost's DMatrix, built long before ``train``), or None."""
    if not fingerprintable(data):
        return None
    from autolog._datasets import fingerprint as _fingerprint

    return _fingerprint(data)


def log_datasets(run: Any, datasets: Iterable[tuple[Any, str, str]]) -> None:
    """Record each ``(data or fingerprint, context, name)``; data of other kinds is skipped."""
    from autolog import _tracking
    from autolog.entities import Dataset

    seen: set[int] = set()
    entities = []
    for data, context, name in datasets:
        if data is None or id(data) in seen:
            continue
        seen.add(id(data))
        found = data if isinstance(data, Dataset) else fingerprint(data)
        if found is not None:
            values = {n: getattr(found, n) for n in Dataset.__slots__}
            entities.append(Dataset(**{**values, "name": name, "context": context}))
    if entities:
        # _common.log_dataset takes raw data only; a precomputed fingerprint goes straight in.
        _tracking.get_store(run.store_uri).log_inputs(run.info.run_id, entities)


def head_copy(data: Any, rows: int = 5) -> Any:
    """A small independent copy of the first rows: the user may change the data afterwards."""
    if not fingerprintable(data):
        return None
    part = _common.head(data, rows)
    if part is None:
        return None
    if hasattr(part, "toarray"):  # scipy sparse: an example is dense
        return part.toarray()
    return part.copy() if hasattr(part, "copy") else part


class Tracker:
    """The per-iteration metric history of one training call.

    ``record`` is the training-path call: a key lookup and a deque append per metric. It keeps
    the values in memory too, for the ``best_<key>`` metrics after early stopping.
    """

    __slots__ = ("run", "rows", "last_step", "_keys", "deferred")

    def __init__(self, run: Any, deferred: bool = False) -> None:
        self.run = run
        self.rows: dict[int, dict[str, float]] = {}
        self.last_step: int | None = None
        self._keys: dict[Any, str] = {}
        # Kept, not logged, until the call returns and says which rounds count (cv).
        self.deferred = deferred

    def key(self, *parts: Any) -> str:
        """The metric key for a (data, metric[, suffix]) tuple, sanitized once and cached."""
        key = self._keys.get(parts)
        if key is None:
            key = _common.sanitize_key(parts[0] if len(parts) == 1 else "".join(map(str, parts)))
            self._keys[parts] = key
        return key

    def record(self, step: int, metrics: dict[str, float]) -> None:
        self.last_step = step
        if metrics:
            self.rows[step] = metrics
            if not self.deferred:
                _common.log_metrics(self.run, metrics, step=step)

    def publish(self, rounds: int) -> None:
        """Log the deferred rows of the first ``rounds`` rounds."""
        for step in sorted(self.rows):
            if step < rounds:
                _common.log_metrics(self.run, self.rows[step], step=step)


def log_early_stopping(run: Any, tracker: Tracker | None, best_iteration: int) -> None:
    """``best_iteration`` and ``stopped_iteration`` (0-based; the last iteration the callback
    saw) and ``best_<key>`` for each metric at the best iteration, as separate keys: the
    histories keep one point per trained iteration."""
    metrics: dict[str, float] = {"best_iteration": best_iteration}
    if tracker is not None and tracker.last_step is not None:
        # Not the booster's round count: XGBoost's save_best and LightGBM's train() keep only
        # the trees up to the best iteration.
        metrics["stopped_iteration"] = tracker.last_step
    row = tracker.rows.get(best_iteration) if tracker is not None else None
    for key, value in (row or {}).items():
        metrics[f"best_{key}"] = value
    _common.log_metrics(run, metrics, step=0)


def log_importance(run: Any, integration: str,
                   importances: Mapping[str, tuple[Sequence[str], Sequence[Any]]]) -> None:
    """``feature_importance_<type>.json`` and ``.png`` per type; per-class values (a list per
    feature) give ``{feature: [class 0, class 1, ...]}`` and a grouped bar chart."""
    for kind, (names, values) in importances.items():
        if values and isinstance(values[0], (list, tuple)):
            _log_per_class(run, integration, kind, names, values)
        else:
            _common.log_feature_importance(run, integration, names, values, suffix=f"_{kind}",
                                           title=f"Feature importance ({kind})")


def _log_per_class(run: Any, integration: str, kind: str, names: Sequence[str],
                   values: Sequence[Sequence[float]]) -> None:
    payload = {str(n): [float(x) for x in v] for n, v in zip(names, values)}
    _common.write_json(run, integration, f"feature_importance_{kind}.json", payload)

    def build() -> Mapping[str, Any]:
        from autolog.plots import spec

        totals = {n: sum(abs(x) for x in v) for n, v in payload.items()}
        top = sorted(payload, key=lambda n: totals[n], reverse=True)[:30]
        n_classes = max((len(payload[n]) for n in top), default=0)
        groups = [{"name": f"class {k}",
                   "values": [payload[n][k] if k < len(payload[n]) else None for n in top]}
                  for k in range(n_classes)]
        return spec.bars(top, [totals[n] for n in top], f"Feature importance ({kind})",
                         x_label="importance", groups=groups)

    _common.log_plot(run, integration, f"feature_importance_{kind}.png", build)


def log_model(call: Call, integration: str, model: Any, example: Any,
              predict: Callable[[Any], Any]) -> None:
    """Log ``model`` as ``model`` with a signature inferred now (5 rows, on the training
    thread, from the model as trained) and the optional input example."""
    settings = call.settings
    if not settings.get("log_models", True):
        return
    signature = None
    if settings.get("log_model_signatures", True) and example is not None:
        from autolog.models import infer_signature

        try:
            output = predict(example)
        except Exception:  # noqa: BLE001 - the library refusing 5 rows still leaves the inputs
            output = None
        signature = infer_signature(example, output)
    _common.log_model(call.run, integration, model, "model",
                      input_example=example if settings.get("log_input_examples") else None,
                      signature=signature, flavor=integration)


def jsonable_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """The hyper-parameters that survive JSON (callables and objects are left out)."""
    def ok(value: Any) -> bool:
        if value is None or isinstance(value, (bool, int, float, str)):
            return True
        if isinstance(value, (list, tuple)):
            return all(ok(v) for v in value)
        if isinstance(value, dict):
            return all(isinstance(k, str) and ok(v) for k, v in value.items())
        return False

    return {k: (list(v) if isinstance(v, tuple) else v) for k, v in params.items() if ok(v)}


def import_class(path: str) -> Any:
    """``"xgboost.sklearn.XGBClassifier"`` -> the class."""
    import importlib

    module, _, name = path.rpartition(".")
    return getattr(importlib.import_module(module), name)
