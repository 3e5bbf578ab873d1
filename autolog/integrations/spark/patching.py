"""Where the Spark patches go: four methods of pyspark's base classes, all through the patch
helper so that ``revert`` restores them.

* ``Estimator.fit``: the run of a fit (:mod:`.fit`). Wrapped once more so that the mark an
  outermost fit leaves on its thread (a Spark local property) is cleared whether the fit
  returns or raises: the helper's ``after`` hook runs on success only.
* ``Transformer.transform`` and ``Evaluator.evaluate``: post-training metrics (:mod:`.evaluation`).
* ``SparkContext.stop``: waits for autolog's queued writes first, since a model save queued on
  the writer thread needs the context.
"""

from __future__ import annotations

from typing import Any, Callable

from autolog.integrations import _patch

NAME = "spark"


def _fit_wrapper() -> Callable[..., Any]:
    from autolog.integrations.spark import fit

    logged = _patch.make_wrapper(NAME, "Estimator.fit", before=fit.before_fit, after=fit.after_fit,
                                 manage_run=False)

    def wrapper(wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...],
                kwargs: dict[str, Any]) -> Any:
        if _patch.current_call() is not None:
            return logged(wrapped, instance, args, kwargs)  # nested: it marks nothing
        try:
            return logged(wrapped, instance, args, kwargs)
        finally:
            _patch.safe_call(NAME, "Estimator.fit: release", fit.release)

    return wrapper


def _flush_before_stop(call: _patch.Call) -> None:
    from autolog import _tracking

    for store in list(_tracking._stores.values()):
        store.flush(raise_errors=False)


def install() -> None:
    import pyspark
    from pyspark.ml.base import Estimator, Transformer
    from pyspark.ml.evaluation import Evaluator

    from autolog.integrations.spark import evaluation

    raw = Estimator.__dict__["fit"]
    if not _patch.is_patched(Estimator, "fit"):
        setattr(Estimator, "fit", _patch._Wrapper(raw, _fit_wrapper()))
        _patch.record(NAME, Estimator, "fit", raw)
    _patch.patch(NAME, Transformer, "transform", after=evaluation.after_transform,
                 manage_run=False)
    _patch.patch(NAME, Evaluator, "evaluate", after=evaluation.after_evaluate, manage_run=False)
    _patch.patch(NAME, pyspark.SparkContext, "stop", before=_flush_before_stop, manage_run=False,
                 target="SparkContext.stop")
