"""The job-free writer of Spark's model format against Spark's own writer and readers.

Each supported model is written twice, by Spark's ``MLWriter`` and by
:mod:`autolog.integrations.spark.native_writer`; the two folders must hold the same files, the
same metadata (but the timestamps) and the same parquet data (schema, Catalyst schema in the
footer, rows), and Spark's own ``load`` must give back a model that transforms as the original.
Shares the ``local[1]`` session of the conftest.
"""

from __future__ import annotations

import glob
import json
import os
import random
import warnings
from pathlib import Path

import pytest

import autolog
from autolog.errors import AutologWarning
from tests.conftest import require
from tests.integrations._reading import only_run
from tests.integrations.conftest import SPARK_WARNINGS

require("pyspark")
require("pyarrow")

import pyarrow.parquet as pq  # noqa: E402
from pyspark.ml import Pipeline, PipelineModel, Transformer  # noqa: E402
from pyspark.ml.classification import LogisticRegression  # noqa: E402
from pyspark.ml.evaluation import BinaryClassificationEvaluator  # noqa: E402
from pyspark.ml.feature import (StandardScaler, StringIndexer,  # noqa: E402
                                VectorAssembler)
from pyspark.ml.param.shared import HasInputCol, HasOutputCol  # noqa: E402
from pyspark.ml.regression import LinearRegression  # noqa: E402
from pyspark.ml.tuning import (CrossValidator, CrossValidatorModel,  # noqa: E402
                               ParamGridBuilder, TrainValidationSplit)
from pyspark.ml.util import DefaultParamsReadable, DefaultParamsWritable  # noqa: E402

from autolog.integrations.spark import flavor, native_data, native_writer  # noqa: E402

pytestmark = [pytest.mark.usefixtures("spark_session"),
              *(pytest.mark.filterwarnings(line) for line in SPARK_WARNINGS)]


@pytest.fixture(scope="module")
def frame(spark_session):
    rng = random.Random(1)
    rows = []
    for i in range(40):
        a, b = rng.gauss(0, 1), rng.gauss(0, 1)
        rows.append((a, b, float(a - b + rng.gauss(0, 0.5) > 0), 2 * a - b, ["x", "y", "z"][i % 3],
                     float(i % 3)))
    return spark_session.createDataFrame(rows, ["a", "b", "label", "y", "cat", "klass"]).cache()


class Doubler(Transformer, HasInputCol, HasOutputCol, DefaultParamsReadable,
              DefaultParamsWritable):
    """A stage in Python: Spark's writer saves a pipeline holding one, not the native writer."""

    def __init__(self) -> None:
        super().__init__()
        self._set(inputCol="a", outputCol="a2")

    def _transform(self, df):
        from pyspark.sql import functions as F

        return df.withColumn(self.getOutputCol(), F.col(self.getInputCol()) * 2)


def assembler() -> VectorAssembler:
    return VectorAssembler(inputCols=["a", "b"], outputCol="features")


def classifier() -> tuple[Pipeline, LogisticRegression]:
    lr = LogisticRegression(featuresCol="scaled", maxIter=3, tol=1e-5)
    scaler = StandardScaler(inputCol="features", outputCol="scaled", withMean=True)
    return Pipeline(stages=[assembler(), scaler, lr]), lr


def _pipeline(df):
    return classifier()[0].fit(df)


def _regression(df):
    return Pipeline(stages=[assembler(), LinearRegression(labelCol="y", maxIter=2)]).fit(df)


def _multinomial_alone(df):
    # A model at the top level, a matrix of several rows, a vector param set on it.
    lr = LogisticRegression(labelCol="klass", family="multinomial", maxIter=3, regParam=0.01)
    return lr.fit(assembler().transform(df))


def _grid(lr):
    return ParamGridBuilder().addGrid(lr.regParam, [0.0, 0.1]).addGrid(lr.maxIter, [1, 3]).build()


def _cross_validator(df):
    pipeline, lr = classifier()
    return CrossValidator(estimator=pipeline, estimatorParamMaps=_grid(lr), numFolds=2, seed=3,
                          evaluator=BinaryClassificationEvaluator()).fit(df)


def _train_validation_split(df):
    lr = LogisticRegression(maxIter=2)
    tvs = TrainValidationSplit(estimator=lr, estimatorParamMaps=_grid(lr), trainRatio=0.6,
                               evaluator=BinaryClassificationEvaluator())
    return tvs.fit(assembler().transform(df))


BUILDERS = [_pipeline, _regression, _multinomial_alone, _cross_validator, _train_validation_split]


def job_ids(spark_session) -> list[int]:
    return list(spark_session.sparkContext.statusTracker().getJobIdsForGroup())


def native_save(spark_session, model, folder: Path) -> int:
    """Save ``model`` with the native writer; the number of Spark jobs that ran meanwhile."""
    before = max(job_ids(spark_session), default=-1)
    native_writer.save(native_writer.freeze(model), str(folder), flavor._spark_write)
    return len([j for j in job_ids(spark_session) if j > before])


def contents(folder: Path) -> dict[str, object]:
    """Every part of a model folder, comparable between writers: file names differ by a uuid."""
    out: dict[str, object] = {}
    for path in sorted(glob.glob(f"{folder}/**", recursive=True)):
        rel = os.path.relpath(path, folder)
        name = os.path.basename(path)
        if name == "_SUCCESS":
            out[rel] = Path(path).read_bytes()
        elif name.startswith("part-") and "/metadata/" in f"/{rel}":
            meta = json.loads(Path(path).read_text())
            assert isinstance(meta.pop("timestamp"), int)
            maps = meta["paramMap"].get("estimatorParamMaps")
            if maps:  # the order within a map is that of a JVM hash map: readers ignore it
                meta["paramMap"]["estimatorParamMaps"] = [
                    sorted(m, key=lambda e: (e["parent"], e["name"])) for m in maps]
            out[os.path.dirname(rel)] = meta
        elif name.endswith(".parquet"):
            md = pq.read_metadata(path)
            footer = json.loads(md.metadata[native_data.SCHEMA_KEY.encode()])
            out[os.path.dirname(rel)] = (pq.read_schema(path).remove_metadata(), footer,
                                         md.metadata[native_data.VERSION_KEY.encode()],
                                         pq.read_table(path).to_pylist())
    return out


def output(model, df) -> list:
    return [r.asDict() for r in model.transform(df).drop("features").collect()]


def params(model) -> dict[str, object]:
    return {p.name: v for p, v in model.extractParamMap().items()}


@pytest.mark.parametrize("build", BUILDERS, ids=lambda b: b.__name__.strip("_"))
def test_native_folder_equals_sparks_and_loads_with_sparks_reader(spark_session, frame, tmp_path,
                                                                    build):
    model = build(frame)
    model.write().save(str(tmp_path / "spark"))
    assert native_save(spark_session, model, tmp_path / "ours") == 0

    theirs, ours = contents(tmp_path / "spark"), contents(tmp_path / "ours")
    assert ours == theirs
    assert any(k.endswith("data") for k in ours) and "metadata" in ours

    loaded = type(model).load(str(tmp_path / "ours"))
    assert type(loaded) is type(model)
    pipeline = isinstance(getattr(model, "bestModel", model), PipelineModel)
    df = frame if pipeline else assembler().transform(frame)
    assert output(loaded, df) == output(model, df)
    originals = getattr(model, "stages", None) or [getattr(model, "bestModel", model)]
    again = getattr(loaded, "stages", None) or [getattr(loaded, "bestModel", loaded)]
    for before, after in zip(originals, again):
        assert params(after) == params(before)
    for metrics in ("avgMetrics", "validationMetrics"):
        if hasattr(model, metrics):
            assert getattr(loaded, metrics) == pytest.approx(getattr(model, metrics))


def test_an_unsupported_stage_is_written_by_sparks_writer_in_its_place(spark_session, frame,
                                                                       tmp_path):
    # StringIndexerModel has data native_data does not know: Spark's writer writes that stage.
    model = Pipeline(stages=[StringIndexer(inputCol="cat", outputCol="cat_index"),
                             VectorAssembler(inputCols=["a", "cat_index"], outputCol="features"),
                             LogisticRegression(maxIter=2)]).fit(frame)
    model.write().save(str(tmp_path / "spark"))
    assert native_save(spark_session, model, tmp_path / "ours") > 0
    assert contents(tmp_path / "ours") == contents(tmp_path / "spark")
    indexer = next((tmp_path / "ours" / "stages").glob("0_*"))
    assert next((indexer / "metadata").glob("part-*")).name.endswith("-c000.txt")
    assembler_meta = next((tmp_path / "ours" / "stages").glob("1_*")) / "metadata"
    assert sorted(p.name for p in assembler_meta.iterdir()) == ["_SUCCESS", "part-00000"]
    loaded = PipelineModel.load(str(tmp_path / "ours"))
    assert output(loaded, frame) == output(model, frame)


def test_the_params_saved_are_those_of_the_fit_even_if_changed_before_the_save(spark_session,
                                                                               frame, tmp_path):
    model = _pipeline(frame)
    frozen = native_writer.freeze(model)
    lr_model = model.stages[-1]
    lr_model.setThreshold(0.9)
    model.transform(frame)  # pushes 0.9 into the JVM object too
    native_writer.save(frozen, str(tmp_path / "ours"), flavor._spark_write)
    loaded = PipelineModel.load(str(tmp_path / "ours"))
    assert loaded.stages[-1].getThreshold() == 0.5
    assert lr_model.getThreshold() == 0.9  # the live model is left as the user set it


# -- through autolog -----------------------------------------------------------------------------

def test_autolog_saves_a_supported_model_without_a_spark_job(spark_session, frame):
    pipeline, _ = classifier()
    before = max(job_ids(spark_session), default=-1)
    pipeline.fit(frame)
    fit_jobs = len([j for j in job_ids(spark_session) if j > before])
    autolog.spark.autolog()
    before = max(job_ids(spark_session), default=-1)
    model = pipeline.fit(frame)
    autolog.flush()
    assert len([j for j in job_ids(spark_session) if j > before]) == fit_jobs
    run = only_run()
    folder = Path(run.info.artifact_uri) / "model" / "sparkml"
    assert sorted(p.name for p in (folder / "metadata").iterdir()) == ["_SUCCESS", "part-00000"]
    loaded = autolog.spark.load_model(f"runs:/{run.info.run_id}/model")
    assert output(loaded, frame) == output(model, frame)


def test_a_failing_native_writer_hands_the_model_to_sparks_writer(spark_session, frame,
                                                                   monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("injected into the native writer")

    monkeypatch.setattr(native_data, "write_data", broken)
    monkeypatch.setenv("AUTOLOG_STRICT", "0")
    autolog.spark.autolog()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = _regression(frame)
        autolog.flush()
    assert [w for w in caught if issubclass(w.category, AutologWarning)] == []
    run = only_run()
    folder = Path(run.info.artifact_uri) / "model" / "sparkml"
    # Spark's writer's file names: the whole model was written again by Spark.
    assert next((folder / "metadata").glob("part-*")).name.endswith("-c000.txt")
    loaded = autolog.spark.load_model(f"runs:/{run.info.run_id}/model")
    assert loaded.stages[-1].coefficients == model.stages[-1].coefficients


def test_under_strict_mode_a_native_writer_bug_is_not_hidden(frame, monkeypatch, tmp_path):
    def broken(*args, **kwargs):
        raise RuntimeError("injected into the native writer")

    monkeypatch.setattr(native_data, "write_data", broken)
    model = _regression(frame)
    with pytest.raises(RuntimeError, match="injected into the native writer"):
        flavor._save(model, str(tmp_path))
    assert not (tmp_path / flavor.MODEL_DIR).exists()


def _tuner_with_sub_models(df):
    lr = LogisticRegression(maxIter=1)
    return lr, CrossValidator(estimator=lr, numFolds=2, collectSubModels=True,
                              estimatorParamMaps=ParamGridBuilder().addGrid(lr.regParam, [0.0, 1.0])
                              .build(), evaluator=BinaryClassificationEvaluator()
                              ).fit(assembler().transform(df))


def test_a_tuner_with_sub_models_is_left_to_sparks_writer(frame, tmp_path):
    _, model = _tuner_with_sub_models(frame)
    with pytest.raises(native_writer.NotNative, match="sub-models"):
        native_writer.save(native_writer.freeze(model), str(tmp_path / "ours"),
                           flavor._spark_write)
    flavor._save(model, str(tmp_path / "flavor"))  # an expected hand-over, even when strict
    folder = tmp_path / "flavor" / flavor.MODEL_DIR
    assert (folder / "subModels").is_dir()
    assert next((folder / "metadata").glob("part-*")).name.endswith("-c000.txt")


def test_a_pipeline_sparks_writer_saves_keeps_the_params_of_the_fit(spark_session, frame,
                                                                    tmp_path):
    model = Pipeline(stages=[Doubler(),
                             VectorAssembler(inputCols=["a2", "b"], outputCol="features"),
                             LogisticRegression(maxIter=2)]).fit(frame)
    expected = output(model, frame)
    frozen = native_writer.freeze(model)
    with pytest.raises(native_writer.NotNative, match="a stage in Python"):
        native_writer.save(frozen, str(tmp_path / "probe"), flavor._spark_write)
    # Changed after the fit, before autolog's writer saves the model:
    model.stages[0].set(model.stages[0].outputCol, "renamed")
    model.stages[-1].setThreshold(0.9)
    # A transform pushes the new threshold into the JVM object too.
    model.stages[-1].transform(model.stages[1].transform(Doubler().transform(frame)))
    flavor._save(frozen, str(tmp_path))
    loaded = PipelineModel.load(str(tmp_path / flavor.MODEL_DIR))
    assert loaded.uid == model.uid
    assert [s.uid for s in loaded.stages] == [s.uid for s in model.stages]
    assert loaded.stages[0].getOutputCol() == "a2" and loaded.stages[-1].getThreshold() == 0.5
    assert output(loaded, frame) == expected
    # The live model keeps what the user set.
    assert model.stages[0].getOutputCol() == "renamed" and model.stages[-1].getThreshold() == 0.9


def test_a_tuner_sparks_writer_saves_keeps_its_fitted_estimator_and_best_model(frame, tmp_path):
    lr, model = _tuner_with_sub_models(frame)
    frozen = native_writer.freeze(model)
    lr.setMaxIter(7)  # the user's estimator, reused after the search
    model.bestModel.setThreshold(0.9)
    flavor._save(frozen, str(tmp_path))
    folder = tmp_path / flavor.MODEL_DIR
    assert (folder / "subModels").is_dir()  # Spark's writer saved it
    loaded = CrossValidatorModel.load(str(folder))
    assert loaded.uid == model.uid and loaded.getEstimator().uid == lr.uid
    assert loaded.getEstimator().getMaxIter() == 1 and loaded.bestModel.getThreshold() == 0.5
    assert lr.getMaxIter() == 7 and model.bestModel.getThreshold() == 0.9
