"""Saving a fitted ``pyspark.ml`` model in Spark's own on-disk format without a Spark job.

Spark's ``MLWriter`` writes each stage's metadata and fitted data through DataFrame writes: a
few Spark jobs per stage, most of what saving a model costs on a small cluster. The folder
written here is the one Spark writes (same layout, same metadata, same parquet schema), so
``PipelineModel.load`` and each class's ``load`` read it natively; nothing goes to the cluster:

* ``metadata/part-00000``: the JSON line Spark's ``DefaultParamsWriter`` renders, taken from the
  JVM (``DefaultParamsWriter.getMetadataToSave``, no job) for Java stages, or composed as Spark
  composes it for ``PipelineModel``/``Pipeline`` and the tuners' models;
* ``data/``: the fitted values as one parquet row (:mod:`.native_data`).

What is written natively: ``PipelineModel`` and ``Pipeline`` of Java stages; params-only Java
stages (those Spark writes with ``DefaultParamsWriter``: ``VectorAssembler``, estimators,
evaluators, ...); the models of :data:`.native_data.DATA`; ``CrossValidatorModel`` and
``TrainValidationSplitModel`` (estimator, evaluator, param maps, metrics, best model; not
sub-models, which Spark's writer skips by default too). Any other stage, at the top or inside a
pipeline or a tuner, is written by Spark's own writer in its place (``spark_save``). What Spark
lays out differently (a pipeline with a Python stage, a param map holding a stage) raises
:class:`NotNative`, and the caller hands the whole model to Spark's writer, as :func:`fitted`
gives it back: with the params of the fit, not those the user may have set since.

The snapshot (:func:`freeze`) calls no JVM: a fitted model's values never change, only its
params can, so it keeps a copy of each part's Python-side params (the values Spark's Python
writer would transfer to the JVM before writing) and the save writes those.
"""

from __future__ import annotations

import copy
import json
import os
import time
from typing import Any, Callable, Iterator

from autolog.integrations.spark import native_data

PARAMS_ONLY_WRITER = "org.apache.spark.ml.util.DefaultParamsWriter"
TUNERS = {"CrossValidatorModel": ("org.apache.spark.ml.tuning.CrossValidatorModel", "avgMetrics"),
          "TrainValidationSplitModel": ("org.apache.spark.ml.tuning.TrainValidationSplitModel",
                                        "validationMetrics")}
TUNER_VERSIONS = ("4.0.",)
SpSave = Callable[[Any, str], None]


class NotNative(Exception):
    """A part of the model that this module cannot write as Spark would."""


class Frozen:
    """A fitted model with its params as they were when it was fitted."""

    __slots__ = ("model", "params", "metrics")

    def __init__(self, model: Any) -> None:
        self.model = model
        self.params: dict[int, tuple[dict[Any, Any], dict[Any, Any]]] = {}
        self.metrics: list[float] = []


def _is_pipeline(obj: Any, cls: str) -> bool:
    from pyspark import ml

    return type(obj) is getattr(ml, cls)


def _is_java(obj: Any) -> bool:
    from pyspark.ml.wrapper import JavaParams

    return isinstance(obj, JavaParams) and getattr(obj, "_java_obj", None) is not None


def _stages(obj: Any) -> Iterator[Any]:
    """Every object whose metadata the folder of ``obj`` holds, ``obj`` first."""
    yield obj
    if _is_pipeline(obj, "PipelineModel") or _is_pipeline(obj, "Pipeline"):
        for stage in obj.getStages() if _is_pipeline(obj, "Pipeline") else obj.stages:
            yield from _stages(stage)
    elif type(obj).__name__ in TUNERS:
        for part in (obj.getEvaluator(), obj.getEstimator(), obj.bestModel):
            yield from _stages(part)


def freeze(model: Any) -> Frozen:
    """The snapshot of ``model``: its params and those of every part, as they are now."""
    top = type(model).__name__
    frozen = Frozen(model)
    for obj in _stages(model):
        frozen.params[id(obj)] = (dict(obj._paramMap), dict(obj._defaultParamMap))
    if top in TUNERS:
        frozen.metrics = [float(v) for v in getattr(model, TUNERS[top][1])]
    return frozen


# -- metadata --------------------------------------------------------------------------------------

def _write_metadata(folder: str, text: str) -> None:
    meta = os.path.join(folder, "metadata")
    os.makedirs(meta)
    with open(os.path.join(meta, "part-00000"), "w") as fh:
        fh.write(text + "\n")
    open(os.path.join(meta, "_SUCCESS"), "w").close()


def _composed(cls: str, uid: str, params: list[tuple[str, str]], defaults: list[tuple[str, str]],
              extra: list[tuple[str, str]], spark_version: str) -> str:
    """A metadata line as ``DefaultParamsWriter.getMetadataToSave`` renders it; values are JSON."""
    def obj(pairs: list[tuple[str, str]]) -> str:
        return "{" + ",".join(f"{json.dumps(k)}:{v}" for k, v in pairs) + "}"

    head = [("class", json.dumps(cls)), ("timestamp", str(int(time.time() * 1000))),
            ("sparkVersion", json.dumps(spark_version)), ("uid", json.dumps(uid)),
            ("paramMap", obj(params)), ("defaultParamMap", obj(defaults))]
    return obj(head + extra)


def _same(java: Any, value: Any) -> bool:
    if isinstance(value, bool) or isinstance(java, bool):
        return value is java
    if isinstance(value, (int, float)):
        return isinstance(java, (int, float)) and float(java) == float(value)
    if isinstance(value, (list, tuple)):
        return (isinstance(java, list) and len(java) == len(value)
                and all(_same(j, v) for j, v in zip(java, value)))
    return isinstance(value, str) and java == value


def _agrees(metadata: dict[str, Any], obj: Any) -> bool:
    """Whether the JVM object already holds every Python-side param value (set and default)."""
    for section in ("paramMap", "defaultParamMap"):
        java, mapping = metadata[section], getattr(obj, f"_{section}")
        if any(p.name not in java or not _same(java[p.name], v) for p, v in mapping.items()):
            return False
    return True


class _Handles:
    """What every save asks the JVM for, asked once per SparkContext: each py4j lookup is a round
    trip (about a quarter of a millisecond), and they were most of a save's 30 ms."""

    __slots__ = ("sc", "jvm", "jsc", "version", "metadata", "none", "writer_of")

    def __init__(self, sc: Any) -> None:
        self.sc, self.jvm = sc, sc._jvm
        self.jsc, self.version = sc._jsc.sc(), sc.version
        self.metadata = self.jvm.org.apache.spark.ml.util.DefaultParamsWriter.getMetadataToSave
        self.none = self.jvm.scala.Option.empty()
        self.writer_of: dict[str, str] = {}  # a stage's Java class -> its MLWriter's class


_handles: _Handles | None = None  # of the current SparkContext (one at a time per process)


def _handles_of(sc: Any) -> _Handles:
    global _handles
    if _handles is None or _handles.sc is not sc:
        _handles = _Handles(sc)
    return _handles


class _Writer:
    def __init__(self, frozen: Frozen, spark_save: SpSave) -> None:
        from pyspark import SparkContext

        sc = SparkContext._active_spark_context
        if sc is None:
            raise RuntimeError("no active SparkContext")
        self.frozen, self.spark_save = frozen, spark_save
        self.handles = _handles_of(sc)
        self.jvm: Any = self.handles.jvm
        self.version = self.handles.version

    def _as_fitted(self, obj: Any) -> Any:
        """``obj`` with the params it had when frozen (a copy if they changed since)."""
        params, defaults = self.frozen.params[id(obj)]
        if obj._paramMap == params and obj._defaultParamMap == defaults:
            return obj
        copy = obj.copy()
        copy._paramMap, copy._defaultParamMap = dict(params), dict(defaults)
        java = getattr(copy, "_java_obj", None)
        if java is not None:
            # The JVM copy holds the params set since the fit: unset those the fit had not set
            # (the transfer before writing sets the others back to their fitted values).
            kept = {p.name for p in params}
            for name in json.loads(self._render(java))["paramMap"]:
                if name not in kept:
                    java.clear(java.getParam(name))
        return copy

    def _render(self, java: Any) -> str:
        h = self.handles
        return str(h.metadata(java, h.jsc, h.none, h.none))

    def _get(self, obj: Any, name: str) -> Any:
        """A container's param as it was when frozen (Python-side, as Spark's writer reads it)."""
        params, defaults = self.frozen.params.get(id(obj), (obj._paramMap, obj._defaultParamMap))
        for mapping in (params, defaults):
            for param, value in mapping.items():
                if param.name == name:
                    return value
        return obj.getOrDefault(name)

    def _java_metadata(self, obj: Any) -> str:
        text = self._render(obj._java_obj)
        if not _agrees(json.loads(text), obj):
            # What Spark's Python writer does first; skipped when it would change nothing.
            obj._transfer_params_to_java()
            text = self._render(obj._java_obj)
        return text

    def fitted(self, obj: Any) -> Any:
        """``obj`` with every part's params as frozen, for Spark's own writer: ``obj`` itself
        when no part changed since, else a copy (same uid) holding copies of the changed parts.
        A tuner's sub-models (never frozen) are kept as they are."""
        if _is_pipeline(obj, "PipelineModel"):
            stages = [self.fitted(s) for s in obj.stages]
            if _same_parts(stages, obj.stages):
                return obj
            container = copy.copy(obj)  # not obj.copy(): PipelineModel.copy() draws a new uid
            container.stages = stages
            return container
        if _is_pipeline(obj, "Pipeline") or type(obj).__name__ in TUNERS:
            return self._fitted_container(obj)
        return self._as_fitted(obj) if id(obj) in self.frozen.params else obj

    def _fitted_container(self, obj: Any) -> Any:
        """A Pipeline (a tuner's estimator) or a tuner's model, its params and parts as frozen."""
        params, defaults = self.frozen.params.get(id(obj), (obj._paramMap, obj._defaultParamMap))
        names = ["stages"] if _is_pipeline(obj, "Pipeline") else ["estimator", "evaluator"]
        before = {name: self._get(obj, name) for name in names}
        after = {name: [self.fitted(s) for s in value] if isinstance(value, list)
                 else self.fitted(value) for name, value in before.items()}
        best = getattr(obj, "bestModel", None)
        fitted_best = None if best is None else self.fitted(best)
        if (obj._paramMap == params and obj._defaultParamMap == defaults and fitted_best is best
                and all(_same_parts(after[name], before[name]) for name in names)):
            return obj
        container = copy.copy(obj)  # not obj.copy(): the tuners' copy() draws a new uid
        container._paramMap, container._defaultParamMap = dict(params), dict(defaults)
        container._set(**after)
        if best is not None:
            container.bestModel = fitted_best
        return container

    def write(self, obj: Any, folder: str) -> None:
        if _is_pipeline(obj, "PipelineModel") or _is_pipeline(obj, "Pipeline"):
            self._pipeline(obj, folder)
        elif type(obj).__name__ in TUNERS:
            self._tuner(obj, folder)
        else:
            self._stage(self._as_fitted(obj) if id(obj) in self.frozen.params else obj, folder)

    def _stage(self, obj: Any, folder: str) -> None:
        """A Java stage written here, or any other by Spark's writer (in its place)."""
        if not _is_java(obj):
            self.spark_save(obj, folder)
            return
        jobj = obj._java_obj
        java_class = jobj.getClass().getName()
        writer = self.handles.writer_of.get(java_class)
        if writer is None:
            writer = self.handles.writer_of[java_class] = jobj.write().getClass().getName()
        data = native_data.DATA.get(java_class)
        # Params-only stages (transformers, estimators, evaluators) use DefaultParamsWriter; a
        # model of DATA its own writer. Any other writer (or a changed one): Spark's.
        if writer != (data[0] if data else PARAMS_ONLY_WRITER):
            self.spark_save(obj, folder)
            return
        _write_metadata(folder, self._java_metadata(obj))
        if data is not None:
            native_data.write_data(obj, java_class, folder, self.version)

    def _pipeline(self, obj: Any, folder: str) -> None:
        model = _is_pipeline(obj, "PipelineModel")
        stages = obj.stages if model else self._get(obj, "stages")
        if not all(_is_java(s) or _is_pipeline(s, "PipelineModel") or _is_pipeline(s, "Pipeline")
                   for s in stages):
            raise NotNative("a stage in Python: Spark writes such pipelines its own way")
        uids = json.dumps([s.uid for s in stages], separators=(",", ":"))
        cls = "org.apache.spark.ml." + ("PipelineModel" if model else "Pipeline")
        _write_metadata(folder, _composed(cls, obj.uid, [("stageUids", uids)], [], [],
                                          self.version))
        width = len(str(len(stages)))  # Spark pads the index to the number of stages' width
        for i, stage in enumerate(stages):
            self.write(stage, os.path.join(folder, "stages", f"{i:0{width}d}_{stage.uid}"))

    def _param_maps(self, obj: Any) -> str:
        maps = []
        for param_map in self._get(obj, "estimatorParamMaps"):
            entries = []
            for param, value in param_map.items():
                owner = self._owner(self._get(obj, "estimator"), param.parent)
                pair = owner._make_java_param_pair(param, value)
                entries.append({"parent": param.parent, "name": param.name,
                                "value": str(pair.param().jsonEncode(pair.value())),
                                "isJson": "true"})
            maps.append(entries)
        return json.dumps(maps, separators=(",", ":"))

    def _owner(self, estimator: Any, uid: str) -> Any:
        for stage in _stages(estimator):
            if stage.uid == uid and _is_java(stage):
                return stage
        raise NotNative(f"a tuned param of {uid}, not a Java stage of the estimator")

    def _tuner(self, obj: Any, folder: str) -> None:
        from pyspark.ml.param import Params

        name = type(obj).__name__
        if not self.version.startswith(TUNER_VERSIONS):
            # Composed here, not rendered by the JVM: only for the Spark versions tested.
            raise NotNative(f"a tuner's model under Spark {self.version}")
        if getattr(obj, "subModels", None):
            raise NotNative("sub-models, which Spark's writer saves when they were collected")
        if any(isinstance(v, Params) for m in self._get(obj, "estimatorParamMaps")
               for v in m.values()):
            raise NotNative("a param map holding a stage")
        cls = TUNERS[name][0]
        seed_default = _java_hash(cls)
        if name == "CrossValidatorModel":
            specific = [("numFolds", str(int(self._get(obj, "numFolds")))),
                        ("foldCol", json.dumps(self._get(obj, "foldCol")))]
            defaults = [("seed", str(seed_default)), ("numFolds", "3"), ("foldCol", '""')]
        else:
            ratio = str(self.jvm.java.lang.Double.toString(float(self._get(obj, "trainRatio"))))
            specific, defaults = [("trainRatio", ratio)], [("seed", str(seed_default)),
                                                           ("trainRatio", "0.75")]
        params = [("seed", str(int(self._get(obj, "seed")))), *specific,
                  ("estimatorParamMaps", self._param_maps(obj))]
        values = (self.frozen.metrics if obj is self.frozen.model
                  else [float(v) for v in getattr(obj, TUNERS[name][1])])
        extra = [(TUNERS[name][1], json.dumps(values, separators=(",", ":"))),
                 ("persistSubModels", "false")]
        _write_metadata(folder, _composed(cls, obj.uid, params, defaults, extra, self.version))
        self.write(self._get(obj, "evaluator"), os.path.join(folder, "evaluator"))
        self.write(self._get(obj, "estimator"), os.path.join(folder, "estimator"))
        self.write(obj.bestModel, os.path.join(folder, "bestModel"))


def _same_parts(new: Any, old: Any) -> bool:
    if isinstance(old, list):
        return len(new) == len(old) and all(a is b for a, b in zip(new, old))
    return new is old


def _java_hash(text: str) -> int:
    """Java's ``String.hashCode`` (Spark's default seed of a class is its name's hash)."""
    h = 0
    for unit in text.encode("utf-16-be").hex(" ", 2).split():
        h = (31 * h + int(unit, 16)) & 0xFFFFFFFF
    return h - (1 << 32) if h >= 1 << 31 else h


def save(frozen: Frozen, folder: str, spark_save: SpSave) -> None:
    """Write ``frozen`` into the local ``folder`` as Spark's writer would.

    ``spark_save(stage, subfolder)`` writes a stage this module does not support with Spark's
    own writer.

    Raises:
        NotNative: a part cannot be written here; ``folder`` may hold part of the model.
    """
    _Writer(frozen, spark_save).write(frozen.model, folder)


def fitted(frozen: Frozen) -> Any:
    """The model of ``frozen`` as it was fitted (params included), for Spark's own writer when
    :func:`save` cannot write it.

    Raises:
        RuntimeError: no active SparkContext (a changed Java stage is copied in the JVM).
    """
    def unused(stage: Any, folder: str) -> None:
        raise AssertionError("fitted() writes nothing")

    return _Writer(frozen, unused).fitted(frozen.model)
