"""What a ``pyspark.ml`` fit records: the ``before``/``after`` hooks of ``Estimator.fit``.

Each thing recorded is one *step*, a function of this module looked up by name at call time and
run through ``safe_call``, so a failing step is reported once and the others still run (the
fault-injection test replaces each in turn). Nothing here makes Spark run a job: params are
read on the Python side, the dataset fingerprint comes from the schema and the logical plan,
the signature from the schemas (each JVM stage's ``transformSchema``), and the model snapshot
without a JVM call and saved on autolog's writer thread, with no job for the supported classes
(:mod:`.native_writer`).

Fits that pyspark runs on its own pool threads for a logged fit (a tuner's candidates,
OneVsRest's classifiers) are recognised by a Spark *local property* that the logged fit sets
on its thread: pyspark copies local properties into those threads (``inheritable_thread_target``),
whereas the nesting ``ContextVar`` does not cross threads. The property is cleared when the
outermost fit returns or raises (see :func:`release`).
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import sys
import threading
from typing import Any

from autolog.integrations import _common
from autolog.integrations._patch import Call, open_managed_run, safe_call
from autolog.integrations.spark import params as _params

NAME = "spark"
FIT_PROPERTY = "autolog.spark.fit"
# Feature transformers' estimators (StringIndexer, ...) fitted on their own are data
# preparation, not models: no run, as in MLflow. Inside a Pipeline they are part of its run.
EXCLUDED_MODULES = ("pyspark.ml.feature",)
PRE_STEPS = ("log_params", "log_tags", "log_dataset")
POST_STEPS = ("log_tuning_results", "register_model", "log_model")
_EXPRESSION_ID = re.compile(r"#\d+L?")  # a#12: numbered per session, not part of the query

logger = logging.getLogger("autolog")
_local = threading.local()


def _step(call: Call, name: str) -> Any:
    # Looked up by name at call time so that a test can replace a step.
    return safe_call(NAME, f"{call.target}: {name}", getattr(sys.modules[__name__], name), call)


def qualified_name(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def fit_arguments(call: Call) -> tuple[Any, Any]:
    """(dataset, params) of ``Estimator.fit(dataset, params=None)``."""
    args, kwargs = call.args, call.kwargs
    dataset = args[0] if args else kwargs.get("dataset")
    params = args[1] if len(args) > 1 else kwargs.get("params")
    return dataset, params


def spark_context() -> Any:
    """The classic SparkContext, or None (Spark Connect has no JVM on this side)."""
    module = sys.modules.get("pyspark.core.context") or sys.modules.get("pyspark.context")
    cls = getattr(module, "SparkContext", None)
    return getattr(cls, "_active_spark_context", None)


def _marker() -> str:
    return f"{os.getpid()}-{threading.get_ident()}"


def _inner_fit() -> bool:
    """Whether this thread runs a fit pyspark started for a logged fit in another thread."""
    sc = spark_context()
    if sc is None:
        return False
    value = sc.getLocalProperty(FIT_PROPERTY)
    return value is not None and value != _marker()


def _mark() -> None:
    # Any value already there is this thread's own (another thread's would make this an inner
    # fit): one left by a release that failed, so it is simply replaced.
    sc = spark_context()
    if sc is not None:
        _local.marked = sc
        sc.setLocalProperty(FIT_PROPERTY, _marker())


def release() -> None:
    """Clear the mark of this thread's outermost fit (a no-op if it set none)."""
    sc = getattr(_local, "marked", None)
    if sc is not None:
        _local.marked = None
        sc.setLocalProperty(FIT_PROPERTY, None)  # None removes the property


# -- the hooks ------------------------------------------------------------------------------------

def before_fit(call: Call) -> None:
    estimator = call.instance
    dataset, params = fit_arguments(call)
    # fit(df, [map, ...]) fits one model per map (MLflow skips it too); its fits stay silent.
    if (estimator is None or dataset is None or isinstance(params, (list, tuple))
            or type(estimator).__module__.startswith(EXCLUDED_MODULES) or _inner_fit()):
        call.state["skip"] = True
        return None
    _mark()
    call.state.update(estimator=estimator.copy(params) if params else estimator, dataset=dataset)
    if call.run is None:
        open_managed_run(call, type(estimator).__name__)
    for name in PRE_STEPS:
        _step(call, name)
    return None


def after_fit(call: Call, result: Any) -> None:
    if call.state.get("skip") or call.run is None:
        return
    call.state["result"] = result
    for name in POST_STEPS:
        _step(call, name)


# -- steps before training ------------------------------------------------------------------------

def flat_params(call: Call) -> dict[str, Any]:
    state = call.state
    if "flat" not in state:
        names = _params.stage_names(state["estimator"])
        state["names"] = names
        state["flat"] = _params.flatten(state["estimator"], names)
    return state["flat"]  # type: ignore[no-any-return]


def log_params(call: Call) -> None:
    _common.log_params(call.run, flat_params(call))


def log_tags(call: Call) -> None:
    cls = type(call.instance)
    _common.set_tags(call.run, {"estimator_name": cls.__name__, "estimator_class": qualified_name(cls)})


def spark_dataset(df: Any, context: str = "train", name: str | None = None) -> Any:
    """A fingerprint of a DataFrame from its schema and logical plan: no Spark job runs.

    The digest identifies the query (source, filters, projections), not the bytes it reads:
    two in-memory DataFrames of the same schema built the same way share it.
    """
    from autolog.entities import Dataset

    schema = df.schema
    plan = _EXPRESSION_ID.sub("", df._jdf.queryExecution().logical().toString())
    digest = hashlib.sha256(schema.json().encode() + b"\n" + plan.encode()).hexdigest()[:16]
    return Dataset(name=name or f"dataset_{digest[:8]}", digest=digest, context=context,
                   columns=tuple(f.name for f in schema.fields),
                   dtypes=tuple(f.dataType.simpleString() for f in schema.fields))


def log_spark_dataset(run: Any, df: Any, context: str, name: str | None = None) -> None:
    _common._store(run).log_inputs(run.info.run_id, [spark_dataset(df, context, name)])


def log_dataset(call: Call) -> None:
    if call.settings.get("log_datasets", True):
        log_spark_dataset(call.run, call.state["dataset"], "train")


# -- steps after training -------------------------------------------------------------------------

def log_tuning_results(call: Call) -> None:
    from autolog.integrations.spark import tuning

    if tuning.is_tuner(call.state["estimator"]):
        tuning.log_results(call, flat_params(call), call.state["names"])


def register_model(call: Call) -> None:
    if call.settings.get("log_post_training_metrics", True):
        from autolog.integrations.spark import evaluation

        evaluation.register_model(call.state["result"], call.run)


def writable(model: Any) -> bool:
    """Whether Spark's writer can save ``model`` (every stage of a PipelineModel included)."""
    from pyspark.ml.util import MLWritable

    stages = getattr(model, "stages", None)
    if isinstance(stages, list):
        return all(writable(s) for s in stages)
    return isinstance(model, MLWritable)


def _java_stages(model: Any) -> list[Any] | None:
    """The JVM stages ``model.transform`` runs, in order; None if one is not a Java stage."""
    from pyspark.ml import PipelineModel
    from pyspark.ml.wrapper import JavaParams

    from autolog.integrations.spark import tuning

    if tuning.is_tuned_model(model):
        return _java_stages(model.bestModel)
    if isinstance(model, PipelineModel):
        stages: list[Any] = []
        for stage in model.stages:
            inner = _java_stages(stage)
            if inner is None:
                return None
            stages += inner
        return stages
    return [model] if isinstance(model, JavaParams) and getattr(model, "_java_obj", None) else None


def output_schema(model: Any, df: Any) -> Any:
    """The schema of ``model.transform(df)``: each JVM stage's ``transformSchema`` (one call
    each, a tenth of what building the transformed DataFrame costs), or ``transform`` itself
    where a stage is Python. A fitted model's JVM params are those of its fit."""
    from pyspark.sql.types import _parse_datatype_json_string

    stages = _java_stages(model)
    if stages is None:
        return model.transform(df).schema
    schema = df._jdf.schema()
    for stage in stages:
        schema = stage._java_obj.transformSchema(schema)
    return _parse_datatype_json_string(schema.json())


def signature(call: Call, model: Any) -> Any:
    """Inputs: the training DataFrame's columns but the label and weight (unless a stage reads
    them); outputs: the prediction column the model adds (or every column it adds). Both from
    schemas: no DataFrame is built."""
    from autolog.models import ModelSignature

    df = call.state["dataset"]
    flat = flat_params(call)

    def values(suffix: str) -> set[str]:
        out: set[str] = set()
        for key, value in flat.items():
            if key == suffix or key.endswith("." + suffix):
                out.update(value if isinstance(value, (list, tuple)) else [value])
        return out

    targets = values("labelCol") | values("weightCol")
    read = values("inputCol") | values("inputCols") | values("featuresCol")
    schema = df.schema
    inputs = [{"name": f.name, "type": f.dataType.simpleString()} for f in schema.fields
              if f.name not in targets - read]
    known = set(schema.names)
    added = [f for f in output_schema(model, df).fields if f.name not in known]
    predictions = [k for k in flat if k == "predictionCol" or k.endswith(".predictionCol")]
    chosen = [f for f in added if predictions and f.name == flat[predictions[-1]]] or added
    outputs = [{"name": f.name, "type": f.dataType.simpleString()} for f in chosen]
    return ModelSignature(tuple(inputs), tuple(outputs))


def log_model(call: Call) -> None:
    settings = call.settings
    model = call.state["result"]
    if not settings.get("log_models", True):
        return
    if not writable(model):
        logger.info("autolog: %s has no Spark writer; the model is not logged", type(model).__name__)
        return
    from autolog.integrations.sklearn.fit import _model_name  # per-run names, shared

    sig = signature(call, model) if settings.get("log_model_signatures", True) else None
    _common.log_model(call.run, NAME, model, _model_name(call.run, "model"), signature=sig,
                      flavor=NAME)
