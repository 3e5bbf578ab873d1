"""Spark MLlib integration: every ``pyspark.ml`` fit records itself, as
``mlflow.pyspark.ml.autolog()`` does, without making Spark do work the user did not ask for.

What an outermost ``Estimator.fit`` records (one run; in the active run if there is one):

* params of the estimator and of every nested stage, named as MLflow names them
  (:mod:`.params`); tags ``estimator_name`` and ``estimator_class``;
* the training DataFrame's fingerprint (schema + logical plan, no job);
* the fitted model as ``model``, in Spark's own format (the ``spark`` flavor,
  :mod:`.flavor`), with a signature from the schemas; ``autolog.load_model`` returns the native
  ``PipelineModel`` or model class;
* for ``CrossValidator``/``TrainValidationSplit``: ``best_<param>``, ``search_results.csv``,
  ``best_parameters.json`` and a child run for each of the best ``max_tuning_runs`` maps
  (:mod:`.tuning`);
* afterwards, ``evaluator.evaluate(model.transform(df))`` as ``<EvaluatorClass>_<metricName>``
  (:mod:`.evaluation`).

autolog runs no Spark job of its own: the model folder is written on the driver without one
(:mod:`.native_writer`) except for stages of classes it does not know, which Spark's writer
saves (their jobs are then the only ones autolog causes; none with ``log_models=False``). Saves
run on autolog's writer thread, and ``SparkContext.stop`` first waits for pending saves, so a
script ending with ``spark.stop()`` keeps its model.

Limitations: fits of ``pyspark.ml.feature`` estimators on their own, and ``fit(df, [maps])``,
start no run (as in MLflow). Spark Connect sessions get params and tags but no fingerprint.
Fits that pyspark runs on pool threads are recognised only in pinned-thread mode (pyspark's
default, ``PYSPARK_PIN_THREAD=true``).
"""

from __future__ import annotations

from typing import Any

from autolog.integrations import configure
from autolog.integrations.spark.flavor import FLAVOR
from autolog.models import flavor_functions

NAME = "spark"

__all__ = ["FLAVOR", "apply", "autolog", "load_model", "log_model"]


def autolog(*, disable: bool = False, exclusive: bool = False, silent: bool = False,
            log_models: bool = True, log_model_signatures: bool = True, log_datasets: bool = True,
            log_post_training_metrics: bool = True, max_tuning_runs: int | None = 5,
            extra_tags: dict[str, str] | None = None,
            disable_for_unsupported_versions: bool = False) -> None:
    """Enable (or disable) autologging of ``pyspark.ml`` fits.

    Settings are read at call time, so calling this again changes what already-patched methods
    do; flags not passed return to their defaults.

    Args:
        disable: turn the integration off and restore the original methods.
        exclusive: log nothing into runs the user started.
        silent: no warnings from autolog's own failures (they still go to the log).
        log_models: save the fitted model as ``model`` (Spark's format; the jobs of Spark's
            writer, for stages autolog cannot write itself, are the only
            ones autolog runs).
        log_model_signatures: record the model's input and output columns, from schemas.
        log_datasets: record the training (and evaluated) DataFrames' fingerprints.
        log_post_training_metrics: log ``evaluator.evaluate(model.transform(df))`` into the
            run of the model's fit.
        max_tuning_runs: how many of a tuner's best param maps become child runs (``None``: all;
            ``0``: none).
        extra_tags: tags added to every run autolog creates.
        disable_for_unsupported_versions: stay off outside the tested pyspark versions.

    Raises:
        InvalidInputError: ``max_tuning_runs`` is negative.
    """
    if max_tuning_runs is not None and max_tuning_runs < 0:
        from autolog.errors import InvalidInputError

        raise InvalidInputError("max_tuning_runs must be None or >= 0.")
    configure(NAME, dict(locals()))


def apply(module: Any) -> None:
    """Install the patches; called when ``pyspark.ml`` is imported (or at once)."""
    del module
    from autolog.integrations.spark import patching

    patching.install()


log_model, load_model = flavor_functions(NAME, "Spark MLlib")
