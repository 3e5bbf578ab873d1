"""statsmodels integration: one run per outermost ``fit`` of any statsmodels model.

``fit`` is patched on every class that defines it (``RegressionModel.fit`` serves OLS, WLS and
GLS; ``MLEModel.fit`` serves SARIMAX; ``ARIMA.fit`` calls it inside), so whichever class the
user fitted, the outermost call logs and the nested ones pass through. ``import statsmodels``
alone defines no model: :func:`apply` registers post-import hooks on the submodules that do, and
each hook patches the model classes loaded so far, so enabling autolog imports nothing.

What one fit records:

* params: ``model_class``, ``formula`` (formula API), ``endog_names``, ``exog_names``, the ``fit``
  arguments (explicit and defaults) under their own names, and the model's construction settings
  (``order``, ``seasonal_order``, ``family``, ``trend``, ...) under theirs, prefixed ``model.``
  only where a name is also a ``fit`` argument;
* metrics: each of :data:`METRICS` that the results object offers as a finite number (an
  attribute that raises or warns is skipped, and statsmodels' NaN/inf mean "not defined for
  this model": QuantReg's ``rsquared``, ARIMA's ``df_resid``);
* artifacts ``model_summary.txt`` and ``coefficients.csv``; the results as ``model`` (statsmodels'
  own pickle format, optionally without the training data); fingerprints of the data. The
  summary (statsmodels' ``summary()``, which costs more than a small fit) and the coefficient
  table are recorded as ``model_summary`` and ``model_coefficients`` plot specs and rendered
  from the logged model when first read (:mod:`autolog.plots.reports`); with
  ``plots="eager"``/``False`` or without a logged model with its data, the text is written on
  the writer thread.

On the training path only cheap things happen: params and metrics are read from the model and
results (inside ``warnings.catch_warnings``, which is safe only on the user's thread), and the
results are snapshot as a protocol-5 pickle whose arrays stay out of band, so the training data
is referenced, not copied. The writer thread builds the coefficient table, fingerprints the
data, saves the model and then records the summary, from an unpickled copy of that snapshot,
which no user code touches. Reading the results lives in :mod:`.results`.

Fits that statsmodels runs inside its own functions (``adfuller``, ``variance_inflation_factor``,
a null model for ``llnull``) are not the user's and start no run.
"""

from __future__ import annotations

import contextvars
import inspect
import os
import pickle
import sys
import threading
from typing import Any

from autolog import _log
from autolog.integrations import _common, _config, configure
from autolog.integrations.statsmodels import results as _results
from autolog.integrations._patch import Call, is_patched, open_managed_run, patch, safe_call
from autolog.models._flavors import Flavor
from autolog.models import flavor_functions

NAME = "statsmodels"
MODEL_FILE = "model.statsmodels"  # MLflow's file name for this flavor
SUMMARY_FILE = "model_summary.txt"
COEFFICIENTS_FILE = "coefficients.csv"

METRICS = _results.METRICS
COEFFICIENT_COLUMNS = _results.COEFFICIENT_COLUMNS

# The submodules that define a model class with its own ``fit`` (statsmodels 0.14/0.15). A hook
# on any of them patches every model class loaded so far, so this list only has to name modules
# through which a model class can first arrive; a missing name costs nothing but a late patch.
_MODEL_MODULES = (
    "statsmodels.base.model",
    "statsmodels.base._penalized",
    "statsmodels.discrete.conditional_models",
    "statsmodels.discrete.count_model",
    "statsmodels.discrete.discrete_model",
    "statsmodels.discrete.truncated_model",
    "statsmodels.duration.hazard_regression",
    "statsmodels.gam.generalized_additive_model",
    "statsmodels.genmod.bayes_mixed_glm",
    "statsmodels.genmod.generalized_estimating_equations",
    "statsmodels.genmod.generalized_linear_model",
    "statsmodels.genmod.qif",
    "statsmodels.miscmodels.nonlinls",
    "statsmodels.miscmodels.ordinal_model",
    "statsmodels.multivariate.factor",
    "statsmodels.multivariate.manova",
    "statsmodels.multivariate.multivariate_ols",
    "statsmodels.othermod.betareg",
    "statsmodels.regression.dimred",
    "statsmodels.regression.feasible_gls",
    "statsmodels.regression.linear_model",
    "statsmodels.regression.mixed_linear_model",
    "statsmodels.regression.process_regression",
    "statsmodels.regression.quantile_regression",
    "statsmodels.regression.recursive_ls",
    "statsmodels.regression.rolling",
    "statsmodels.robust.resistant_linear_model",
    "statsmodels.robust.robust_linear_model",
    "statsmodels.tsa.ar_model",
    "statsmodels.tsa.ardl.model",
    "statsmodels.tsa.arima.model",
    "statsmodels.tsa.exponential_smoothing.ets",
    "statsmodels.tsa.forecasting.stl",
    "statsmodels.tsa.forecasting.theta",
    "statsmodels.tsa.holtwinters.model",
    "statsmodels.tsa.regime_switching.markov_switching",
    "statsmodels.tsa.statespace.dynamic_factor_mq",
    "statsmodels.tsa.statespace.mlemodel",
    "statsmodels.tsa.statespace.sarimax",
    "statsmodels.tsa.vector_ar.svar_model",
    "statsmodels.tsa.vector_ar.var_model",
    "statsmodels.tsa.vector_ar.vecm",
)
# Model-like classes outside statsmodels.base.model.Model's tree (and the mixin that penalized
# models put in front of their base class's fit).
_EXTRA_CLASSES = (
    ("statsmodels.base._penalized", "PenalizedMixin"),
    ("statsmodels.regression.rolling", "RollingWLS"),
    ("statsmodels.tsa.forecasting.stl", "STLForecast"),
    ("statsmodels.tsa.forecasting.theta", "ThetaModel"),
)

_hooked: set[str] = set()
_lock = threading.RLock()


def autolog(*, disable: bool = False, exclusive: bool = False, silent: bool = False,
            log_models: bool = True, log_input_examples: bool = False,
            log_model_signatures: bool = True, log_datasets: bool = True,
            disable_for_unsupported_versions: bool = False,
            extra_tags: dict[str, str] | None = None,
            log_models_without_data: bool = False,
            plots: str | bool = "lazy") -> None:
    """Enable (or disable) autologging of statsmodels fits.

    Args:
        disable: turn the integration off and restore the original ``fit`` methods.
        exclusive: do not log into a run the user started.
        silent: no warnings from autolog itself.
        log_models: log the fitted results as ``model``.
        log_input_examples: save the first rows of the exog (or of the formula's data frame)
            with the model, for models whose ``predict`` takes exog.
        log_model_signatures: record the model's input/output signature, likewise.
        log_datasets: record fingerprints of endog/exog (or of the formula's data frame).
        disable_for_unsupported_versions: stay off outside the tested statsmodels versions.
        extra_tags: tags added to every run this integration starts.
        log_models_without_data: save the model after statsmodels' ``remove_data()`` (on a
            copy: the user's results keep their data), which makes the file small but drops
            what needs the data (residuals, some forecasts).
        plots: how ``model_summary.txt`` and ``coefficients.csv`` are made. ``"lazy"``
            (default) records them as specs, rendered from the logged model (``summary()``,
            the coefficient table) the first time someone reads them through autolog, then
            cached; ``"eager"`` renders the text
            on the writer thread, for browsing the artifact folder directly; ``False`` (no
            specs) also writes the text. Without a model to render from (``log_models=False``,
            ``log_models_without_data=True``) the text is always written at fit time.

    Raises:
        InvalidInputError: ``plots`` is not "lazy", "eager" or False.
    """
    from autolog.plots import check_mode

    plots = check_mode(plots)
    configure(NAME, dict(locals()))


# -- patching ------------------------------------------------------------------------------------

def apply(module: Any) -> None:
    """Arm the patches when ``statsmodels`` is imported: hooks on the model submodules (wrapt
    runs a hook at once for a module already imported), and a pass over what is loaded now."""
    import wrapt

    with _lock:
        pending = [name for name in _MODEL_MODULES if name not in _hooked]
        _hooked.update(pending)
    for name in pending:
        wrapt.register_post_import_hook(_on_import, name)
    # A hook fires once per module per process; after a disable/enable cycle the modules already
    # imported need this pass.
    _patch_loaded()


def _on_import(module: Any) -> None:
    # Runs inside the user's `import` statement: it must never raise, whatever happens.
    try:
        if _config.is_enabled(NAME):
            _patch_loaded()
    except Exception as exc:  # noqa: BLE001
        message = f"autolog: could not patch statsmodels models in {module.__name__}: {exc!r}"
        _log.warn(message)


def _model_classes() -> list[type]:
    roots: list[type] = []
    base = sys.modules.get("statsmodels.base.model")
    if base is not None:
        roots.append(base.Model)
    for module_name, class_name in _EXTRA_CLASSES:
        cls = getattr(sys.modules.get(module_name), class_name, None)
        if isinstance(cls, type):
            roots.append(cls)
    seen: dict[type, None] = {}
    stack = list(roots)
    while stack:
        cls = stack.pop()
        if cls not in seen:
            seen[cls] = None
            stack.extend(cls.__subclasses__())
    return list(seen)


def _patch_loaded() -> None:
    """Patch ``fit`` on every loaded statsmodels class that defines it (idempotent)."""
    with _lock:
        for cls in _model_classes():
            fn = cls.__dict__.get("fit")
            # Only statsmodels' own classes: a user's subclass reaches a patched base ``fit``.
            if (inspect.isfunction(fn) and cls.__module__.startswith("statsmodels.")
                    and not is_patched(cls, "fit")):
                # manage_run=False: ``before`` starts the run itself, once it knows the fit is
                # the user's and not one that statsmodels runs internally.
                patch(NAME, cls, "fit", before=_make_before(fn), after=_after, manage_run=False)


def _called_by_statsmodels() -> bool:
    """Whether the patched ``fit`` running now was called from statsmodels' own code.

    statsmodels fits models inside functions and lazy attributes (``adfuller``,
    ``variance_inflation_factor``, ``het_breuschpagan``, ``grangercausalitytests``,
    ``results.llnull`` when ``summary()`` needs it...). Logged, each would be a run the user
    never asked for, dozens for one ``adfuller``. Frames of autolog and wrapt between here and
    the caller are skipped.
    """
    frame = sys._getframe(1)
    while frame is not None:
        module = frame.f_globals.get("__name__", "")
        if not (module.startswith("autolog.") or module.startswith("wrapt")):
            return str(module).startswith("statsmodels.")
        frame = frame.f_back  # type: ignore[assignment]
    return False


def _make_before(fn: Any) -> Any:
    signature: list[inspect.Signature] = []  # computed at the first call, not at import

    def before(call: Call) -> None:
        if _called_by_statsmodels():
            call.state["internal"] = True
            return
        if call.run is None:  # no run of the user's is active: this fit gets its own
            open_managed_run(call)
        if not signature:
            signature.append(inspect.signature(fn))
        _log_params(call, signature[0])

    return before


def _after(call: Call, results: Any) -> None:
    # fit(return_params=True) and friends return arrays: only results objects are logged.
    if (call.run is None or call.state.get("internal") or results is None
            or not type(results).__module__.startswith("statsmodels.")):
        return
    run, settings = call.run, call.settings
    metrics = safe_call(NAME, "metrics", _results.metrics, results)
    if metrics:
        _common.log_metrics(run, metrics)
    snap = safe_call(NAME, "snapshot", _snapshot, results,
                     bool(settings.get("log_models_without_data")))
    live = results if snap is None else None  # without a snapshot, the writer reads the original
    # The writer runs the rest inside a copy of this context, where this call is the current
    # one, so that a fit statsmodels runs while rendering the summary passes straight through.
    context = contextvars.copy_context()

    def task() -> None:
        try:
            context.run(_background, run, settings, snap, live, call.managed)
        finally:
            _BACKLOG.leave()

    _BACKLOG.enter(run)
    try:
        _common.in_background(call, NAME, "statsmodels artifacts", task)
    except BaseException:
        _BACKLOG.leave()
        raise


class _Backlog:
    """Counts the fits whose artifacts are still queued on the writer thread.

    Rendering a summary and saving a model take the writer longer than a small fit takes the
    user (tens of ms against a few), and each queued snapshot holds its fit's arrays. So once
    ``limit`` fits are queued, the next one flushes the store (which wakes the writer and
    returns when all of them are written): a loop of fits runs at the writer's pace with
    bounded memory. After a flush nothing is queued, so the count restarts at zero, which also
    repairs a count that a fork copied without its queue.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._pending = 0
        self._lock = threading.Lock()

    def enter(self, run: Any) -> None:
        with self._lock:
            full = self._pending >= self.limit
        if full:
            from autolog import _tracking

            _tracking.get_store(run.store_uri).flush(raise_errors=False)
            with self._lock:
                self._pending = 0
        with self._lock:
            self._pending += 1

    def leave(self) -> None:
        with self._lock:
            self._pending = max(0, self._pending - 1)


_BACKLOG = _Backlog(limit=8)


def _background(run: Any, settings: dict[str, Any], snap: "_Snapshot | None", live: Any,
                fresh: bool = False) -> None:
    """The writer thread's part: everything that reads the results at leisure.

    It reads an unpickled copy, which shares only read-only use of the arrays with the user's
    results (the live object is the fallback when the results could not be pickled). numpy's
    floating-point warnings are silenced with ``np.errstate``, which is per thread; the
    ``warnings`` filters are process-wide, so they are not touched here.
    """
    import numpy as np

    results = snap.shared() if snap is not None else live
    with np.errstate(all="ignore"):
        saved = False
        if settings.get("log_models") and snap is not None:
            # First, while the copy is as fitted: the reports below fill its caches (residuals,
            # standard errors), which would otherwise be pickled into the model too.
            saved = bool(safe_call(NAME, "log_model", _save_model, run, settings, results, snap,
                                   fresh))
        if settings.get("log_datasets"):
            safe_call(NAME, "log_dataset", _log_datasets, run, results)
        # A lazy report is rendered from the saved model, so its spec is written only once the
        # model folder is there (and the data is in it).
        lazy = saved and snap is not None and not snap.remove_data and settings.get("plots", "lazy") == "lazy"
        safe_call(NAME, COEFFICIENTS_FILE, _write_coefficients, run, results, lazy, fresh)
        safe_call(NAME, SUMMARY_FILE, _write_summary, run, results, lazy, fresh)


# -- params --------------------------------------------------------------------------------------

def _log_params(call: Call, signature: inspect.Signature) -> None:
    model = call.instance
    fit_args = _results.fit_arguments(signature, model, call.args, call.kwargs)
    params: dict[str, str] = {"model_class": type(model).__name__}
    formula = getattr(model, "formula", None)
    if isinstance(formula, str):
        params["formula"] = formula
    for key in ("endog_names", "exog_names"):
        try:
            text = _results.names_text(getattr(model, key, None))
        except Exception:  # noqa: BLE001 - models without data names (Factor) have none
            text = None
        if text is not None:
            params[key] = text
    for key, value in _results.construction_settings(model).items():
        params[f"model.{key}" if key in fit_args else key] = value
    for key, value in fit_args.items():
        params.setdefault(key, value)
    _common.log_params(call.run, params)


def _write_file(run: Any, artifact_file: str, text: str) -> None:
    from autolog.store import artifacts

    artifacts.repository(run.info.artifact_uri).write_bytes(artifact_file, text.encode("utf-8"))


def _write_summary(run: Any, results: Any, lazy: bool = False, fresh: bool = False) -> None:
    """``model_summary.txt``: its spec (rendered on read from the saved ``model``) or the text."""
    if not lazy:
        text = _results.summary_text(results)
        if text is not None:
            _write_file(run, SUMMARY_FILE, text)
        return
    from autolog.plots import spec

    _write_report(run, SUMMARY_FILE, spec.model_summary(
        "model", NAME, title=f"{type(results.model).__name__} results"), fresh)


def _write_report(run: Any, artifact_file: str, report: dict[str, Any], fresh: bool = False) -> None:
    from autolog.plots import SPEC_SUFFIX, spec
    from autolog.store import artifacts

    repo = artifacts.repository(run.info.artifact_uri)
    # A second fit in the same run replaces the model: a report cached from the first one
    # must go (with its spec), or readers would keep getting it. A run this fit started
    # (``fresh``) has none.
    if not fresh:
        repo.delete(artifact_file)
    repo.write_bytes(artifact_file + SPEC_SUFFIX, spec.dumps(report))


def _write_coefficients(run: Any, results: Any, lazy: bool = False, fresh: bool = False) -> None:
    """``coefficients.csv``: its spec (rendered on read from the saved ``model``) or the table."""
    if lazy:
        from autolog.plots import spec

        _write_report(run, COEFFICIENTS_FILE, spec.model_coefficients(
            "model", NAME, title=f"{type(results.model).__name__} coefficients"), fresh)
        return
    text = _coefficients_csv(results)
    if text is not None:
        _write_file(run, COEFFICIENTS_FILE, text)


def _log_datasets(run: Any, results: Any) -> None:
    model = getattr(results, "model", None)
    data = getattr(model, "data", None)
    frame = getattr(data, "frame", None) if isinstance(getattr(model, "formula", None), str) else None
    if frame is not None:  # the user's data frame, as the formula read it
        _common.log_dataset(run, frame, "train", name="data")
        return
    for role in ("endog", "exog"):
        values = getattr(data, f"orig_{role}", None)
        if values is None:
            values = getattr(model, role, None)
        if values is not None:
            _common.log_dataset(run, values, "train", name=role)


def _save_model(run: Any, settings: dict[str, Any], results: Any, snap: "_Snapshot",
                fresh: bool = False) -> bool:
    from autolog.models import infer_signature, save_model

    example = signature = None
    if settings.get("log_input_examples") or settings.get("log_model_signatures"):
        example = _results.model_input(results)
        if example is not None and settings.get("log_model_signatures"):
            try:
                output = results.predict(example)
            except Exception:  # noqa: BLE001 - a signature with inputs only is still useful
                output = None
            signature = infer_signature(example, output)
        if not settings.get("log_input_examples"):
            example = None
    from autolog.store.artifacts import repository

    repo = repository(run.info.artifact_uri)
    if not fresh:  # a run this fit started holds no model of an earlier fit
        _clear_previous_model(repo)
    # Not _common.log_model: the snapshot already taken on the training path is the model (no
    # second pickle), and it carries the log_models_without_data choice.
    with repo.folder_to_log("model") as path:
        save_model(results, path, flavor=FLAVOR, snapshot=snap, signature=signature,
                   input_example=example, run_id=run.info.run_id, artifact_path="model")
    return True


def _clear_previous_model(repo: Any) -> None:
    """A second fit inside the user's run replaces the statsmodels model of the first (as the
    summary and coefficient files are replaced); any other model there is left alone."""
    import json

    from autolog.errors import NotFoundError

    try:
        meta = json.loads(repo.read_bytes("model/model.json"))
    except NotFoundError:
        return
    if meta.get("flavor") == NAME:
        repo.delete("model")


# -- the flavor ----------------------------------------------------------------------------------

class _Snapshot:
    """Fitted results as a protocol-5 pickle with out-of-band buffers: the object graph is
    serialised (a new, independent copy once loaded) while the big arrays (the training data,
    which statsmodels keeps by reference anyway) are shared, not copied."""

    __slots__ = ("payload", "buffers", "remove_data", "_copy")

    def __init__(self, payload: bytes, buffers: list[Any], remove_data: bool) -> None:
        self.payload = payload
        self.buffers = buffers
        self.remove_data = remove_data
        self._copy: Any = None

    def load(self) -> Any:
        """A new copy."""
        return pickle.loads(self.payload, buffers=self.buffers)

    def shared(self) -> Any:
        """One copy for the writer's readers and the model file (unpickled once)."""
        if self._copy is None:
            self._copy = self.load()
        return self._copy


def _snapshot(results: Any, remove_data: bool = False) -> _Snapshot:
    buffers: list[Any] = []
    payload = pickle.dumps(results, protocol=5, buffer_callback=buffers.append)
    return _Snapshot(payload, buffers, remove_data)


def _save(model: Any, folder: str) -> dict[str, Any]:
    snap = model if isinstance(model, _Snapshot) else _snapshot(model)
    # A copy: remove_data() below never touches the user's results (nor the writer's copy).
    results = snap.load() if snap.remove_data else snap.shared()
    removed = False
    if snap.remove_data and callable(getattr(results, "remove_data", None)):
        results.remove_data()
        removed = True
    with open(os.path.join(folder, MODEL_FILE), "wb") as fh:
        pickle.dump(results, fh, protocol=pickle.HIGHEST_PROTOCOL)  # as results.save() writes
    return {"model_file": MODEL_FILE, "remove_data": removed}


def _load(folder: str, metadata: dict[str, Any]) -> Any:
    from statsmodels.iolib.smpickle import load_pickle

    return load_pickle(os.path.join(folder, metadata.get("model_file", MODEL_FILE)))


def _coefficients_csv(results: Any) -> str | None:
    import numpy as np

    with np.errstate(all="ignore"):  # as at fit time: inference on a degenerate fit
        table = _results.coefficients(results)
    return None if table is None else _results.coefficients_csv(table)


FLAVOR = Flavor(name=NAME, save=_save, load=_load, requirements=("statsmodels",),
                snapshot=_snapshot, coefficients=_coefficients_csv)


log_model, load_model = flavor_functions(NAME, "statsmodels")
