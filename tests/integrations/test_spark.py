"""The Spark MLlib integration against real pyspark on a real local Spark (AUTOLOG_STRICT=1).

One ``local[1]`` session serves every test (``spark_session`` in conftest); DataFrames are a
few dozen rows and iterations few, so that the whole file stays well under two minutes.
"""

from __future__ import annotations

import csv
import io
import json
import os
import random
import re
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

import autolog
from autolog.errors import AutologWarning
from tests.conftest import require
from tests.integrations._reading import artifacts, only_run
from tests.integrations.conftest import SPARK_WARNINGS

require("pyspark")

from pyspark.ml import Pipeline, PipelineModel  # noqa: E402
from pyspark.ml.base import Estimator, Transformer  # noqa: E402
from pyspark.ml.classification import LogisticRegression  # noqa: E402
from pyspark.ml.evaluation import (BinaryClassificationEvaluator, Evaluator,  # noqa: E402
                                   RegressionEvaluator)
from pyspark.ml.feature import StandardScaler, StringIndexer, VectorAssembler  # noqa: E402
from pyspark.ml.regression import LinearRegression, LinearRegressionModel  # noqa: E402
from pyspark.ml.tuning import (CrossValidator, CrossValidatorModel,  # noqa: E402
                               ParamGridBuilder, TrainValidationSplit)

from autolog.integrations.spark import evaluation, fit, flavor, native_writer  # noqa: E402

# pyspark's ResourceWarnings (see the conftest); as marks they also cover the first test, which
# starts the session (the conftest adds them for the tests after it).
pytestmark = [pytest.mark.usefixtures("spark_session"),
              *(pytest.mark.filterwarnings(line) for line in SPARK_WARNINGS)]


@pytest.fixture(scope="module")
def frames(spark_session):
    rng = random.Random(0)
    rows = []
    for _ in range(48):
        a, b = rng.gauss(0, 1), rng.gauss(0, 1)
        rows.append((a, b, float(a - b + rng.gauss(0, 0.5) > 0), 2 * a - b + rng.gauss(0, 0.1)))
    df = spark_session.createDataFrame(rows, ["a", "b", "label", "y"])
    return df, df.limit(16)


def classifier_pipeline(max_iter: int = 3) -> tuple[Pipeline, LogisticRegression]:
    lr = LogisticRegression(featuresCol="scaled", maxIter=max_iter)
    return Pipeline(stages=[VectorAssembler(inputCols=["a", "b"], outputCol="features"),
                            StandardScaler(inputCol="features", outputCol="scaled"), lr]), lr


def regressor() -> Pipeline:
    return Pipeline(stages=[VectorAssembler(inputCols=["a", "b"], outputCol="features"),
                            LinearRegression(labelCol="y", maxIter=2)])


def runs():
    autolog.flush()
    return autolog.search_runs(output_format="list")


def job_ids(spark_session) -> list[int]:
    # No test sets a job group: every job, autolog's writer thread included, is in "no group".
    return list(spark_session.sparkContext.statusTracker().getJobIdsForGroup())


# -- a Pipeline fit ---------------------------------------------------------------------------------

def test_pipeline_fit_logs_params_tags_fingerprint_and_a_loadable_native_model(frames):
    train_df, _ = frames
    autolog.spark.autolog()
    pipeline, lr = classifier_pipeline()
    model = pipeline.fit(train_df)

    run = only_run()
    assert run.info.status == "FINISHED" and run.info.run_name == "Pipeline"
    assert run.data.tags["estimator_name"] == "Pipeline"
    assert run.data.tags["estimator_class"] == "pyspark.ml.pipeline.Pipeline"
    assert run.data.tags["autolog.integration"] == "spark"
    params = run.data.params
    assert params["stages"] == "['VectorAssembler', 'StandardScaler', 'LogisticRegression']"
    assert params["VectorAssembler.inputCols"] == "['a', 'b']"
    assert params["StandardScaler.withStd"] == "True"
    assert params["LogisticRegression.maxIter"] == "3"
    assert params["LogisticRegression.featuresCol"] == "scaled"

    (dataset,) = run.inputs
    assert dataset.context == "train"
    assert dataset.columns == ("a", "b", "label", "y")
    assert dataset.dtypes == ("double",) * 4
    assert dataset.digest == fit.spark_dataset(train_df).digest
    assert fit.spark_dataset(train_df.filter("a > 0")).digest != dataset.digest

    assert "model" in artifacts(run)
    uri = f"runs:/{run.info.run_id}/model"
    info = autolog.models.get_model_info(uri)
    assert info.flavor == "spark"
    assert [c["name"] for c in info.signature.inputs] == ["a", "b", "y"]
    assert info.signature.outputs == ({"name": "prediction", "type": "double"},)
    assert (Path(run.info.artifact_uri) / "model" / "sparkml" / "stages").is_dir()

    loaded = autolog.spark.load_model(uri)
    assert type(loaded) is PipelineModel
    assert loaded.stages[-1].coefficients == model.stages[-1].coefficients
    assert loaded.stages[-1].intercept == model.stages[-1].intercept


def test_fit_inside_a_user_run_logs_there_with_numbered_models(frames):
    train_df, _ = frames
    autolog.spark.autolog(log_datasets=False)
    with autolog.start_run(run_name="mine") as mine:
        regressor().fit(train_df)
        regressor().fit(train_df)
    run = only_run()
    assert run.info.run_id == mine.info.run_id
    assert {"model", "model-2"} <= artifacts(run)
    assert run.inputs == ()


def test_feature_estimators_alone_and_fits_over_several_maps_start_no_run(frames):
    train_df, _ = frames
    autolog.spark.autolog()
    StringIndexer(inputCol="label", outputCol="indexed").fit(train_df)
    features = VectorAssembler(inputCols=["a", "b"], outputCol="features").transform(train_df)
    lr = LinearRegression(labelCol="y", maxIter=1)
    models = lr.fit(features, [{lr.regParam: 0.0}, {lr.regParam: 1.0}])
    assert len(models) == 2 and models[0].coefficients != models[1].coefficients
    assert runs() == []


# -- evaluator metrics after training ---------------------------------------------------------------

def test_regression_evaluator_metrics_are_logged_into_the_fit_run(frames):
    train_df, test_df = frames
    autolog.spark.autolog()
    model = regressor().fit(train_df)
    predictions = model.transform(test_df)
    rmse = RegressionEvaluator(labelCol="y", metricName="rmse")
    first = rmse.evaluate(predictions)
    r2 = rmse.evaluate(predictions, {rmse.metricName: "r2"})
    again = rmse.evaluate(model.transform(train_df))
    # Not a prediction of an autologged model: nothing logged.
    rmse.evaluate(train_df.withColumnRenamed("a", "prediction"))

    run = only_run()
    metrics = run.data.metrics
    assert metrics["RegressionEvaluator_rmse"] == pytest.approx(first)
    assert metrics["RegressionEvaluator_r2"] == pytest.approx(r2)
    assert metrics["RegressionEvaluator_rmse-2"] == pytest.approx(again)
    assert set(metrics) == {"RegressionEvaluator_rmse", "RegressionEvaluator_r2",
                            "RegressionEvaluator_rmse-2"}
    info = json.loads(Path(run.info.artifact_uri, "metric_info.json").read_text())
    assert info["RegressionEvaluator_rmse"].endswith("evaluate(predictions) on test_df")
    assert info["RegressionEvaluator_rmse-2"].endswith("on train_df")
    contexts = sorted((d.context, d.name) for d in run.inputs)
    assert ("eval", "test_df") in contexts and ("train", contexts[-1][1]) in contexts


# -- tuning ------------------------------------------------------------------------------------------

def test_cross_validator_4_maps_3_folds_parent_and_best_child_runs(frames):
    train_df, _ = frames
    autolog.spark.autolog(max_tuning_runs=3)
    lr = LogisticRegression(maxIter=2)
    assembler = VectorAssembler(inputCols=["a", "b"], outputCol="features")
    grid = ParamGridBuilder().addGrid(lr.regParam, [0.0, 0.5]).addGrid(lr.maxIter, [1, 2]).build()
    cv = CrossValidator(estimator=lr, estimatorParamMaps=grid, numFolds=3, seed=1,
                        evaluator=BinaryClassificationEvaluator())
    model = cv.fit(assembler.transform(train_df))

    all_runs = runs()
    (parent,) = [r for r in all_runs if "autolog.parentRunId" not in r.data.tags]
    children = [r for r in all_runs if r is not parent]
    assert len(children) == 3
    assert parent.info.run_name == "CrossValidator"
    p = parent.data.params
    assert p["numFolds"] == "3" and p["estimator"] == "LogisticRegression"
    assert p["evaluator"] == "BinaryClassificationEvaluator"
    assert p["LogisticRegression.maxIter"] == "2"
    assert p["BinaryClassificationEvaluator.metricName"] == "areaUnderROC"
    assert "estimatorParamMaps" not in p
    avg = model.avgMetrics
    best = max(range(4), key=lambda i: (avg[i], -i))
    assert p["best_LogisticRegression.regParam"] == str(grid[best][lr.regParam])
    assert p["best_LogisticRegression.maxIter"] == str(grid[best][lr.maxIter])
    assert parent.data.metrics["best_avg_areaUnderROC"] == pytest.approx(avg[best])

    ranked = sorted(range(4), key=lambda i: -avg[i])[:3]
    by_name = {c.info.run_name: c for c in children}
    assert set(by_name) == {f"CrossValidator-candidate-{i}" for i in ranked}
    for i in ranked:
        child = by_name[f"CrossValidator-candidate-{i}"]
        assert child.data.tags["mlflow.parentRunId"] == parent.info.run_id
        assert child.info.status == "FINISHED"
        assert child.data.params["regParam"] == str(grid[i][lr.regParam])
        assert child.data.params["maxIter"] == str(grid[i][lr.maxIter])
        assert child.data.metrics["avg_areaUnderROC"] == pytest.approx(avg[i])
        assert child.data.metrics["std_areaUnderROC"] == pytest.approx(model.stdMetrics[i])

    rows = list(csv.DictReader(io.StringIO(
        Path(parent.info.artifact_uri, "search_results.csv").read_text())))
    assert len(rows) == 4
    assert [float(r["avg_areaUnderROC"]) for r in rows] == pytest.approx(avg)
    assert json.loads(rows[1]["params"]) == {"LogisticRegression.regParam": 0.0,
                                             "LogisticRegression.maxIter": 2}
    assert json.loads(Path(parent.info.artifact_uri, "best_parameters.json").read_text()) == \
        json.loads(rows[best]["params"])
    loaded = autolog.load_model(f"runs:/{parent.info.run_id}/model")
    assert type(loaded) is CrossValidatorModel
    assert loaded.avgMetrics == pytest.approx(avg)


def test_train_validation_split_with_pool_threads_logs_one_parent_and_its_children(frames):
    train_df, _ = frames
    autolog.spark.autolog()
    pipeline, lr = classifier_pipeline(max_iter=1)
    grid = ParamGridBuilder().addGrid(lr.regParam, [0.0, 0.1, 1.0, 2.0]).build()
    # parallelism=2: pyspark fits the candidates on pool threads, where the nesting ContextVar
    # is not set; they must still not log runs of their own.
    tvs = TrainValidationSplit(estimator=pipeline, estimatorParamMaps=grid, seed=2,
                               evaluator=BinaryClassificationEvaluator(), parallelism=2)
    model = tvs.fit(train_df)

    all_runs = runs()
    assert len(all_runs) == 5
    (parent,) = [r for r in all_runs if "autolog.parentRunId" not in r.data.tags]
    assert parent.data.params["Pipeline.stages"] == \
        "['VectorAssembler', 'StandardScaler', 'LogisticRegression']"
    for child in all_runs:
        if child is parent:
            continue
        i = int(child.info.run_name.rsplit("-", 1)[1])
        assert child.data.params["stages"] == parent.data.params["Pipeline.stages"]
        assert child.data.params["LogisticRegression.regParam"] == str(grid[i][lr.regParam])
        assert child.data.metrics == {"areaUnderROC": pytest.approx(model.validationMetrics[i])}
    assert parent.data.metrics["best_areaUnderROC"] == pytest.approx(max(model.validationMetrics))


# -- no Spark work beyond the fit and the model save ------------------------------------------------

def _jobs_of(spark_session, action) -> int:
    before = max(job_ids(spark_session), default=-1)
    action()
    autolog.flush()
    return len([j for j in job_ids(spark_session) if j > before])


def test_autolog_runs_no_spark_job_beyond_the_fit_itself(spark_session, frames, tmp_path):
    train_df, _ = frames
    pipeline, _ = classifier_pipeline(max_iter=2)
    model = None

    def fitting() -> None:
        nonlocal model
        model = pipeline.fit(train_df)

    off = _jobs_of(spark_session, fitting)
    assert off > 0
    autolog.spark.autolog(log_models=False)
    assert _jobs_of(spark_session, fitting) == off
    # Spark's own writer runs jobs; autolog's writer of the same format runs none.
    assert _jobs_of(spark_session, lambda: model.write().save(str(tmp_path / "by-hand"))) > 0
    autolog.spark.autolog()
    assert _jobs_of(spark_session, fitting) == off
    assert len(runs()) == 2
    assert sum("model" in artifacts(r) for r in runs()) == 1


# -- the patch contract -----------------------------------------------------------------------------

def test_disable_restores_the_original_methods(frames):
    import pyspark

    targets = [(Estimator, "fit"), (Transformer, "transform"), (Evaluator, "evaluate"),
               (pyspark.SparkContext, "stop")]
    originals = [owner.__dict__[attr] for owner, attr in targets]
    autolog.spark.autolog()
    assert all(owner.__dict__[attr] is not o for (owner, attr), o in zip(targets, originals))
    autolog.spark.autolog(disable=True)
    assert [owner.__dict__[attr] for owner, attr in targets] == originals
    regressor().fit(frames[0])
    assert runs() == []


@pytest.fixture(scope="module")
def reference(frames):
    """The regressor fitted and scored without autolog, once for every fault injected."""
    train_df, test_df = frames
    model = regressor().fit(train_df)
    return model.stages[-1].coefficients, RegressionEvaluator(labelCol="y").evaluate(
        model.transform(test_df))


@pytest.mark.parametrize("step", [*fit.PRE_STEPS, *fit.POST_STEPS, "release", "evaluate",
                                  "model save"])
def test_a_failing_step_warns_once_and_leaves_the_fit_unchanged(frames, reference, monkeypatch,
                                                                step):
    train_df, test_df = frames
    release = fit.release

    def broken(*args, **kwargs):
        raise RuntimeError(f"injected into {step}")

    if step == "evaluate":
        monkeypatch.setattr(evaluation, "_metric_key", broken)
    elif step == "model save":
        # The native writer fails, then Spark's writer it hands the model to: one warning.
        monkeypatch.setattr(native_writer, "save", broken)
        monkeypatch.setattr(flavor, "_dfs_tmpdir", broken)
    else:
        monkeypatch.setattr(fit, step, broken)
    monkeypatch.setenv("AUTOLOG_STRICT", "0")
    # The model is saved only where the failure is about saving it: the saves cost seconds.
    autolog.spark.autolog(log_models=step in ("log_model", "model save"))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = regressor().fit(train_df)
        value = RegressionEvaluator(labelCol="y").evaluate(model.transform(test_df))
        autolog.flush()
    assert (model.stages[-1].coefficients, value) == reference
    ours = [w for w in caught if issubclass(w.category, AutologWarning)]
    assert len(ours) == 1, [str(w.message) for w in ours]
    assert "injected into" in str(ours[0].message) and "spark" in str(ours[0].message)
    (run,) = runs()
    assert run.info.status == "FINISHED"
    release()  # what the "release" fault left behind


def test_a_failed_fit_marks_its_run_failed_and_clears_the_thread_mark(spark_session, frames):
    train_df, _ = frames
    autolog.spark.autolog()
    bad = LinearRegression(labelCol="missing")
    with pytest.raises(Exception) as caught:
        bad.fit(VectorAssembler(inputCols=["a"], outputCol="features").transform(train_df))
    assert "missing" in str(caught.value)
    assert spark_session.sparkContext.getLocalProperty(fit.FIT_PROPERTY) is None
    (run,) = runs()
    assert run.info.status == "FAILED"
    regressor().fit(train_df)  # the next fit on this thread logs as usual
    assert len(runs()) == 2


# -- the model folder through a distributed file system ---------------------------------------------

def test_model_goes_through_the_dfs_staging_folder_when_one_is_set(frames, tmp_path, monkeypatch):
    staging = tmp_path / "dfs"
    staging.mkdir()
    monkeypatch.setenv(flavor.DFS_TMPDIR_ENV, f"file://{staging}")
    model = regressor().fit(frames[0])
    with autolog.start_run() as run:
        autolog.spark.log_model(model, "model")
    assert list(staging.iterdir()) == []  # staged copies are removed after the copy
    folder = Path(run.info.artifact_uri) / "model" / "sparkml"
    assert (folder / "metadata").is_dir() and not list(folder.rglob("*.crc"))
    loaded = autolog.spark.load_model(f"runs:/{run.info.run_id}/model")
    assert type(loaded.stages[-1]) is LinearRegressionModel
    assert loaded.stages[-1].coefficients == model.stages[-1].coefficients
    assert list(staging.iterdir()) == []
    assert os.environ[flavor.DFS_TMPDIR_ENV].startswith("file://")


# -- the example --------------------------------------------------------------------------------------

def test_example_pipeline_crossvalidator_keeps_its_model_through_spark_stop(tmp_path):
    root = Path(__file__).resolve().parents[2]
    tracking = tmp_path / "runs"
    env = {**os.environ, "AUTOLOG_TRACKING_URI": str(tracking), "AUTOLOG_STRICT": "1",
           "PYTHONPATH": str(root)}
    done = subprocess.run([sys.executable, "examples/spark_pipeline_crossvalidator.py"],
                          cwd=root, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert "AutologWarning" not in done.stderr and "Traceback" not in done.stderr, done.stderr
    run_id = re.search(r"^Run ID: ([0-9a-f]{32})$", done.stdout, re.M).group(1)
    test_auc = float(re.search(r"^test AUC: ([0-9.]+)$", done.stdout, re.M).group(1))

    autolog.set_tracking_uri(str(tracking))
    all_runs = autolog.search_runs(experiment_names=["spark_churn"], output_format="list")
    assert len(all_runs) == 5
    parent = next(r for r in all_runs if r.info.run_id == run_id)
    assert parent.info.status == "FINISHED"
    assert {"best_LogisticRegression.regParam", "best_LogisticRegression.elasticNetParam",
            "Pipeline.stages", "numFolds"} <= set(parent.data.params)
    assert parent.data.metrics["BinaryClassificationEvaluator_areaUnderROC"] == \
        pytest.approx(test_auc, abs=5e-4)
    # The script ended with spark.stop() right after the fit: the save queued on the writer
    # thread ran before Spark stopped, so the model is complete and loads.
    loaded = autolog.load_model(f"runs:/{run_id}/model")
    assert type(loaded) is CrossValidatorModel
    assert type(loaded.bestModel) is PipelineModel
