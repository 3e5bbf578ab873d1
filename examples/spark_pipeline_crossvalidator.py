"""Spark MLlib under autolog: a Pipeline (VectorAssembler -> StandardScaler -> LogisticRegression)
tuned by a CrossValidator, then scored on held-out data.

One parent run records the pipeline's and the tuner's params, ``best_<param>`` of the winning
map, ``search_results.csv`` and the fitted ``CrossValidatorModel`` in Spark's own format; a child
run per param map carries its params and ``avg_areaUnderROC``; the evaluation on the test split
lands in the parent as ``BinaryClassificationEvaluator_areaUnderROC``. The model is saved on
autolog's writer thread (without a Spark job); ``spark.stop()`` at the end waits for it.

Run it with ``python examples/spark_pipeline_crossvalidator.py`` (needs ``pip install
"autolog[spark]"`` and Java 17); runs go to ``$AUTOLOG_TRACKING_URI`` (default ``./autolog-runs``).
Load the model back with ``autolog.load_model("runs:/<run id>/model")``.
"""

from __future__ import annotations

import random

import autolog


def make_rows(n: int = 240, seed: int = 7) -> list[tuple[float, float, float, float]]:
    """Synthetic churn: monthly spend, support calls, tenure in months, and whether they left."""
    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        spend, calls, tenure = rng.uniform(10, 120), float(rng.randint(0, 8)), rng.uniform(1, 72)
        score = 0.6 * calls - 0.05 * tenure + 0.01 * spend + rng.gauss(0, 1)
        rows.append((spend, calls, tenure, float(score > 0.5)))
    return rows


def main() -> None:
    autolog.autolog()  # Spark MLlib is patched when pyspark.ml is imported below
    from pyspark.ml import Pipeline
    from pyspark.ml.classification import LogisticRegression
    from pyspark.ml.evaluation import BinaryClassificationEvaluator
    from pyspark.ml.feature import StandardScaler, VectorAssembler
    from pyspark.ml.tuning import CrossValidator, ParamGridBuilder
    from pyspark.sql import SparkSession

    spark = (SparkSession.builder.master("local[1]").appName("autolog-example")
             .config("spark.ui.enabled", "false").config("spark.ui.showConsoleProgress", "false")
             .config("spark.sql.shuffle.partitions", "1").getOrCreate())
    spark.sparkContext.setLogLevel("ERROR")
    autolog.set_experiment("spark_churn")

    df = spark.createDataFrame(make_rows(), ["spend", "calls", "tenure", "label"])
    train_df, test_df = df.randomSplit([0.75, 0.25], seed=3)

    lr = LogisticRegression(featuresCol="scaled", maxIter=5)
    pipeline = Pipeline(stages=[
        VectorAssembler(inputCols=["spend", "calls", "tenure"], outputCol="features"),
        StandardScaler(inputCol="features", outputCol="scaled"),
        lr,
    ])
    grid = ParamGridBuilder().addGrid(lr.regParam, [0.0, 0.1]).addGrid(
        lr.elasticNetParam, [0.0, 1.0]).build()
    evaluator = BinaryClassificationEvaluator()
    cv = CrossValidator(estimator=pipeline, estimatorParamMaps=grid, evaluator=evaluator,
                        numFolds=2, seed=11)
    model = cv.fit(train_df)

    predictions = model.transform(test_df)
    auc = evaluator.evaluate(predictions)
    run = autolog.last_active_run()
    assert run is not None
    print(f"Run ID: {run.info.run_id}")
    print(f"cross-validated AUC per map: {[round(m, 3) for m in model.avgMetrics]}")
    print(f"test AUC: {auc:.3f}")
    spark.stop()  # autolog's queued model save runs first


if __name__ == "__main__":
    main()
