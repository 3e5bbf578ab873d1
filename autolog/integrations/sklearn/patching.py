"""Where the scikit-learn patches go, and when.

``apply(sklearn)`` runs once ``sklearn`` itself is imported. Importing every submodule then
would cost a second of import time and import what the user never uses, so instead:

* a wrapt post-import hook per estimator-defining submodule patches the classes that module
  exports (and their bases), when that module is imported, or at once if it already is;
* ``BaseEstimator.__init_subclass__`` is wrapped so that every class created later, the
  user's own estimators included (MLflow skips those), is patched as it is created;
* ``sklearn.model_selection``'s cross-validation functions, ``sklearn.metrics``' metric
  functions and ``sklearn.utils.parallel`` get their own hooks.

Every patch goes through :func:`autolog.integrations._patch.patch`, on the class that defines
the method, so :func:`~autolog.integrations._patch.revert` restores all of it. Hooks run
inside the user's ``import`` or ``class`` statement: they check that the integration is
enabled, are idempotent, and never raise (a failure is a warning, kept in ``hook_errors``).
"""

from __future__ import annotations

import sys
import threading
import weakref
from typing import Any, Callable

from autolog import _log
from autolog.integrations import _config, _patch

NAME = "sklearn"
TRAINING = ("fit", "fit_transform", "fit_predict")
PREDICTING = ("predict", "predict_proba", "predict_log_proba", "transform")
SUBMODULES = (
    "sklearn.base", "sklearn.calibration", "sklearn.cluster", "sklearn.compose",
    "sklearn.covariance", "sklearn.cross_decomposition", "sklearn.decomposition",
    "sklearn.discriminant_analysis", "sklearn.dummy", "sklearn.ensemble",
    "sklearn.feature_extraction", "sklearn.feature_extraction.text", "sklearn.feature_selection",
    "sklearn.frozen", "sklearn.gaussian_process", "sklearn.impute", "sklearn.isotonic",
    "sklearn.kernel_approximation", "sklearn.kernel_ridge", "sklearn.linear_model",
    "sklearn.manifold", "sklearn.mixture", "sklearn.model_selection", "sklearn.multiclass",
    "sklearn.multioutput", "sklearn.naive_bayes", "sklearn.neighbors", "sklearn.neural_network",
    "sklearn.pipeline", "sklearn.preprocessing", "sklearn.random_projection",
    "sklearn.semi_supervised", "sklearn.svm", "sklearn.tree", "sklearn.metrics",
    "sklearn.utils.parallel",
)
CV_FUNCTIONS = ("cross_validate", "cross_val_score", "cross_val_predict", "learning_curve",
                "validation_curve", "permutation_test_score")
# Modules whose public functions score predictions; pairwise distances, scorers and displays
# are not metrics of a model and are left alone.
METRIC_MODULES = ("sklearn.metrics._classification", "sklearn.metrics._regression",
                  "sklearn.metrics._ranking", "sklearn.metrics.cluster._supervised",
                  "sklearn.metrics.cluster._unsupervised")
# sklearn-API estimators of frameworks that have their own integration: theirs patches them.
FOREIGN_PACKAGES = frozenset({"xgboost", "lightgbm", "catboost", "statsmodels", "torch",
                              "lightning", "pytorch_lightning", "keras", "tensorflow", "tf_keras"})

hook_errors: list[str] = []  # failures of hooks that must not raise; tests assert it is empty
_hooked: set[str] = set()
_lock = threading.RLock()


def _hook_failed(where: str, exc: BaseException) -> None:
    message = f"autolog: the {NAME} integration could not patch {where}: {exc!r}"
    hook_errors.append(message)
    _log.warn(message)


def install(sklearn_module: Any) -> None:
    """Arm the hooks (once per process) and patch what is already imported."""
    del sklearn_module
    import wrapt

    _install_subclass_hook()
    _patch_existing_subclasses()
    for name in SUBMODULES:
        with _lock:
            first = name not in _hooked
            _hooked.add(name)
        if first:
            # Fires at once if the module is already imported, else when it is.
            wrapt.register_post_import_hook(_on_import, name)
        elif name in sys.modules:
            # Re-enabled after a disable: the hook already fired, patch again.
            _on_import(sys.modules[name])


def _on_import(module: Any) -> None:
    """Post-import hook: patch what ``module`` defines. Never raises."""
    try:
        if not _config.is_enabled(NAME):
            return
        name = module.__name__
        for obj in list(vars(module).values()):
            if isinstance(obj, type) and obj.__module__.startswith("sklearn."):
                patch_class(obj)
        if name == "sklearn.model_selection":
            _patch_cv_functions(module)
        elif name == "sklearn.metrics":
            _patch_metric_functions(module)
        elif name == "sklearn.utils.parallel":
            _patch_parallel(module)
    except Exception as exc:  # noqa: BLE001
        _hook_failed(getattr(module, "__name__", repr(module)), exc)


def _eligible(klass: type) -> bool:
    top = (klass.__module__ or "").split(".")[0]
    return klass is not object and top not in FOREIGN_PACKAGES and top != "builtins"


def patch_class(cls: type) -> None:
    """Patch the training, prediction and ``score`` methods defined by ``cls`` and its bases."""
    from autolog.integrations.sklearn import fit
    from autolog.integrations.sklearn import post_training as post

    for klass in cls.__mro__:
        if not _eligible(klass):
            continue
        own = klass.__dict__
        for attr in TRAINING:
            if _patchable(own, attr):
                _patch.patch(NAME, klass, attr, before=fit.before_fit, after=fit.after_fit,
                             manage_run=False)
        for attr in PREDICTING:
            if _patchable(own, attr):
                _patch.patch(NAME, klass, attr, after=post.after_predict, manage_run=False)
        if _patchable(own, "score"):
            _patch.patch(NAME, klass, "score", after=post.after_score, manage_run=False)


def _patchable(own: Any, attr: str) -> bool:
    # A function, or sklearn's available_if descriptor (its ``fn`` is wrapped); a property
    # hiding a method (FeatureAgglomeration.fit_predict) is left alone.
    raw = own.get(attr)
    return raw is not None and (callable(raw) or callable(getattr(raw, "fn", None)))


def _patch_cv_functions(module: Any) -> None:
    from autolog.integrations.sklearn import search

    for name in CV_FUNCTIONS:
        if callable(getattr(module, name, None)):
            # patch() also patches the defining module, so the functions still pickle.
            _patch.patch(NAME, module, name, before=search.before_cv, after=search.after_cv,
                         manage_run=False, target=f"sklearn.model_selection.{name}")


def _patch_metric_functions(module: Any) -> None:
    import inspect

    from autolog.integrations.sklearn import post_training as post

    for name in getattr(module, "__all__", ()):
        fn = getattr(module, name, None)
        if (callable(fn) and not inspect.isclass(fn)
                and getattr(fn, "__module__", None) in METRIC_MODULES):
            _patch.patch(NAME, module, name, after=post.after_metric, manage_run=False,
                         target=f"sklearn.metrics.{name}")


# -- user classes --------------------------------------------------------------------------------

def _install_subclass_hook() -> None:
    """Wrap the ``__init_subclass__`` that BaseEstimator subclasses run when they are created."""
    from sklearn.base import BaseEstimator

    owner = next((k for k in BaseEstimator.__mro__[:-1] if "__init_subclass__" in k.__dict__),
                 BaseEstimator)
    original = owner.__dict__.get("__init_subclass__", object.__dict__["__init_subclass__"])
    if getattr(getattr(original, "__func__", None), "_autolog_sklearn", False):
        return

    def __init_subclass__(cls: type, **kwargs: Any) -> None:
        original.__get__(None, cls)(**kwargs)
        _on_new_class(cls)

    __init_subclass__._autolog_sklearn = True  # type: ignore[attr-defined]
    __init_subclass__.__doc__ = getattr(original, "__doc__", None)
    setattr(owner, "__init_subclass__", classmethod(__init_subclass__))
    # revert() puts the original classmethod back (equivalent to inheriting it, if it was).
    _patch.record(NAME, owner, "__init_subclass__", original)


def _patch_existing_subclasses() -> None:
    """Estimator classes created before autolog was enabled (the user's, typically)."""
    from sklearn.base import BaseEstimator

    seen: set[type] = set()
    stack = list(BaseEstimator.__subclasses__())
    while stack:
        cls = stack.pop()
        if cls in seen:
            continue
        seen.add(cls)
        stack.extend(cls.__subclasses__())
        if _eligible(cls):
            try:
                patch_class(cls)
            except Exception as exc:  # noqa: BLE001 - one odd class must not stop the rest
                _hook_failed(f"class {cls.__qualname__!r}", exc)


def _on_new_class(cls: type) -> None:
    """A class was just created: patch it if it is an estimator. Never raises."""
    try:
        if not _config.is_enabled(NAME):
            return
        from sklearn.base import BaseEstimator

        if issubclass(cls, BaseEstimator) and _eligible(cls):
            patch_class(cls)
    except Exception as exc:  # noqa: BLE001
        _hook_failed(f"class {getattr(cls, '__qualname__', cls)!r}", exc)


# -- joblib's threading backend -------------------------------------------------------------------
# The nesting state is a ContextVar, which a joblib worker thread does not inherit: a
# GridSearchCV with the threading backend would see its candidates' fits as outermost calls and
# log a run for each. Tasks dispatched by sklearn's Parallel from inside a logged call are
# marked, and run in the worker as nested calls. (Process workers never import autolog.)
_marked: "weakref.WeakSet[Any]" = weakref.WeakSet()
_silent = _patch.make_wrapper(NAME, "joblib task", manage_run=False)


def _parallel_call(wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...],
                   kwargs: dict[str, Any]) -> Any:
    if _patch.current_call() is None or not args or not _config.is_enabled(NAME):
        return wrapped(*args, **kwargs)
    try:
        # One job: joblib runs the tasks here, in this thread, which sees the nesting state
        # (a forest's 100 trees would each pay for the mark).
        sequential = instance._effective_n_jobs() == 1  # joblib's own, private: checked
    except Exception:  # noqa: BLE001 - an unknown joblib: mark, as always
        sequential = False
    if sequential:
        return wrapped(*args, **kwargs)

    def marking(items: Any) -> Any:
        for item in items:
            try:
                _marked.add(item[0])
            except Exception:  # noqa: BLE001 - an unmarkable task just runs unmarked
                pass
            yield item

    return wrapped(marking(args[0]), *args[1:], **kwargs)


def _task_call(wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...],
               kwargs: dict[str, Any]) -> Any:
    try:
        marked = instance in _marked and _patch.current_call() is None
    except Exception:  # noqa: BLE001
        marked = False
    if marked:
        return _silent(wrapped, instance, args, kwargs)
    return wrapped(*args, **kwargs)


def _patch_parallel(module: Any) -> None:
    for owner_name, attr, fn in (("Parallel", "__call__", _parallel_call),
                                 ("_FuncWrapper", "__call__", _task_call)):
        owner = getattr(module, owner_name, None)
        raw = owner.__dict__.get(attr) if owner is not None else None
        if raw is None or isinstance(raw, _patch._Wrapper):
            continue
        setattr(owner, attr, _patch._Wrapper(raw, fn))
        _patch.record(NAME, owner, attr, raw)
