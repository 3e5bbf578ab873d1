"""The ``spark`` model flavor: a fitted ``pyspark.ml`` model in Spark's own format.

The model folder holds ``sparkml/``, written by the model's ``MLWriter`` and read back by its
class's ``load``, so ``load_model`` returns the native ``PipelineModel`` (or
``LogisticRegressionModel``, ``CrossValidatorModel``, ...). Spark's writer runs on the cluster:
with a ``local`` master it writes straight into the (local) staging folder ``save_model`` hands
the flavor; with any other master the executors cannot see the driver's disk, so the model is
written to a temporary folder on Spark's default file system (``AUTOLOG_SPARK_DFS_TMPDIR``,
default ``/tmp/autolog-spark``) and copied to the local folder through Hadoop's FileSystem API,
as MLflow's ``dfs_tmpdir`` does. Loading does the reverse.

Most models never reach Spark's writer: :mod:`.native_writer` writes the same folder on the
driver without a Spark job (Spark's writer costs a few jobs per stage), with Spark's writer
still used for any stage it does not support, and for the whole model if it fails (under
``AUTOLOG_STRICT=1`` its failure is raised instead, so that tests see it); either way with the
params the model had when it was fitted.

``snapshot`` takes what the save needs on the training path without calling the JVM where it
can (:func:`.native_writer.freeze`: the params as they are now; fitted data never changes), and
``model.copy()`` otherwise; the save itself runs on autolog's writer thread.
"""

from __future__ import annotations

import importlib
import logging
import os
import shutil
import uuid
from typing import Any

from autolog.models._flavors import Flavor

MODEL_DIR = "sparkml"
DFS_TMPDIR_ENV = "AUTOLOG_SPARK_DFS_TMPDIR"
DEFAULT_DFS_TMPDIR = "/tmp/autolog-spark"

logger = logging.getLogger("autolog")


class Snapshot:
    """A copy of a fitted model, taken on the training path and saved later."""

    __slots__ = ("model",)

    def __init__(self, model: Any) -> None:
        self.model = model


def _freeze(model: Any) -> Any:
    """The native writer's frozen copy of ``model``, or None when Spark's writer must save it."""
    from autolog.integrations.spark import native_writer

    try:
        return native_writer.freeze(model)
    except Exception as exc:  # noqa: BLE001 - Spark's writer takes over
        _native_failed(exc)
        return None


def snapshot(model: Any) -> Any:
    frozen = _freeze(model)
    if frozen is not None:
        return frozen
    try:
        return Snapshot(model.copy())
    except AssertionError:
        # pyspark's CrossValidatorModel/TrainValidationSplitModel.copy() assert that sub-models
        # were collected; a fitted model's data never changes, only its params could.
        return Snapshot(model)


def _context(start: bool) -> Any:
    """The active SparkContext; loading starts a session if there is none (as MLflow does),
    saving never does (a stopped context means the model cannot be written any more)."""
    from pyspark import SparkContext

    sc = SparkContext._active_spark_context
    if sc is None:
        if not start:
            raise RuntimeError("no active SparkContext: Spark was stopped before the model "
                               "could be saved")
        from pyspark.sql import SparkSession

        sc = SparkSession.builder.getOrCreate().sparkContext
    return sc


def _dfs_tmpdir(sc: Any) -> str | None:
    """Where Spark must write first, or None when it can write the local folder itself."""
    configured = os.environ.get(DFS_TMPDIR_ENV)
    if configured:
        return configured.rstrip("/")
    return None if sc.master.startswith("local") else DEFAULT_DFS_TMPDIR


def _hadoop_path(sc: Any, uri: str) -> tuple[Any, Any]:
    path = sc._jvm.org.apache.hadoop.fs.Path(uri)
    return path, path.getFileSystem(sc._jsc.hadoopConfiguration())


def _local_uri(path: str) -> str:
    # An explicit scheme: a bare path would resolve against the default file system (HDFS on a
    # cluster) even with a local master.
    return "file://" + os.path.abspath(path)


def _native_failed(exc: Exception) -> None:
    from autolog.integrations import _config
    from autolog.integrations.spark.native_writer import NotNative

    # A part Spark's writer must write is expected; any other failure is a bug of ours.
    if not isinstance(exc, NotNative) and _config.strict():
        raise exc
    logger.info("autolog: Spark's own writer saves this model (%s: %s)", type(exc).__name__, exc)


def _save(model: Any, folder: str) -> dict[str, Any]:
    from autolog.integrations.spark import native_writer

    target = os.path.join(folder, MODEL_DIR)
    frozen = model if isinstance(model, native_writer.Frozen) else None
    if frozen is None and not isinstance(model, Snapshot):
        frozen = _freeze(model)  # saved without a snapshot: frozen now
    live = frozen.model if frozen else model.model if isinstance(model, Snapshot) else model
    to_write = live
    if frozen is not None:
        try:
            native_writer.save(frozen, target, _spark_write)
        except Exception as exc:  # noqa: BLE001 - Spark's writer takes over
            shutil.rmtree(target, ignore_errors=True)
            _native_failed(exc)
            to_write = _fitted_model(frozen)
        else:
            return _flavor_meta(live)
    _spark_write(to_write, target)
    return _flavor_meta(live)


def _fitted_model(frozen: Any) -> Any:
    """What Spark's writer saves in the native writer's place: the model with the params it was
    fitted with, though the user may have changed some since (the save runs later, on autolog's
    writer thread)."""
    from autolog.integrations import _config
    from autolog.integrations.spark import native_writer

    try:
        return native_writer.fitted(frozen)
    except Exception:  # noqa: BLE001 - the current params rather than no model at all
        if _config.strict():
            raise
        logger.info("autolog: the Spark model is saved with its current params", exc_info=True)
        return frozen.model


def _flavor_meta(live: Any) -> dict[str, Any]:
    cls = type(live)
    return {"model_dir": MODEL_DIR, "spark_class": f"{cls.__module__}.{cls.__qualname__}"}


def _spark_write(live: Any, target: str) -> None:
    """Spark's own writer: straight into ``target`` with a local master, through the DFS
    staging folder otherwise."""
    sc = _context(start=False)
    tmpdir = _dfs_tmpdir(sc)
    if tmpdir is None:
        live.write().save(_local_uri(target))
    else:
        staged = f"{tmpdir}/{uuid.uuid4().hex}"
        src, fs = _hadoop_path(sc, staged)
        try:
            live.write().save(staged)
            dst, _ = _hadoop_path(sc, _local_uri(target))
            # useRawLocalFileSystem=True: no .crc side files in the model folder.
            fs.copyToLocalFile(False, src, dst, True)
        finally:
            fs.delete(src, True)


def _model_class(metadata: dict[str, Any]) -> Any:
    qualified = metadata.get("spark_class") or metadata["model_class"]
    module, _, name = qualified.rpartition(".")
    return getattr(importlib.import_module(module), name)


def _load(folder: str, metadata: dict[str, Any]) -> Any:
    cls = _model_class(metadata)
    sc = _context(start=True)
    local = os.path.join(folder, metadata.get("model_dir", MODEL_DIR))
    tmpdir = _dfs_tmpdir(sc)
    if tmpdir is None:
        return cls.load(_local_uri(local))
    staged = f"{tmpdir}/{uuid.uuid4().hex}"
    dst, fs = _hadoop_path(sc, staged)
    src, _ = _hadoop_path(sc, _local_uri(local))
    try:
        fs.copyFromLocalFile(False, True, src, dst)
        return cls.load(staged)  # reads everything into the driver: the copy can go after
    finally:
        fs.delete(dst, True)


FLAVOR = Flavor(name="spark", save=_save, load=_load, requirements=("pyspark",),
                snapshot=snapshot)
