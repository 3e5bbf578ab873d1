"""Compare runs: find the best run of an experiment and load its model for inference.

The tutorial's comparison scenario with ``import mlflow`` replaced by ``import autolog``. It reads
the ``iris_classification`` experiment that ``examples/basic_tracking.py`` writes: run that first,
in the same directory (or with the same $AUTOLOG_TRACKING_URI).
"""

from __future__ import annotations

import sys

from sklearn.datasets import load_iris

import autolog
from autolog import Client

client = Client()

experiment = client.get_experiment_by_name("iris_classification")

if experiment is None:
    sys.exit(
        f"No experiment 'iris_classification' at {autolog.get_tracking_uri()}: "
        "run examples/basic_tracking.py first."
    )

# Every run of the experiment, best accuracy first
runs = autolog.search_runs(
    experiment_ids=[experiment.experiment_id], order_by=["metrics.accuracy DESC"]
)
print("All runs sorted by accuracy:")
columns = ["run_id", "metrics.accuracy", "params.n_estimators", "params.max_depth"]
print(runs[columns].to_string(index=False))

best_run = runs.iloc[0]
best_run_id = best_run["run_id"]
print(f"\nBest run ID: {best_run_id}")
print(f"Best accuracy: {best_run['metrics.accuracy']:.4f}")

# Load the model from the best run: the native scikit-learn estimator comes back
model_uri = f"runs:/{best_run_id}/random_forest_model"
loaded_model = autolog.sklearn.load_model(model_uri)
print(f"\nModel loaded from: {model_uri}")
print(f"Model type: {type(loaded_model).__name__}")
predictions = loaded_model.predict(load_iris().data[:5])
print(f"Predictions for the first 5 iris rows: {predictions.tolist()}")

# Params are strings, so compare n_estimators with a quoted value; metrics are numbers
filtered_runs = autolog.search_runs(
    experiment_ids=[experiment.experiment_id],
    filter_string="params.n_estimators = '100' AND metrics.accuracy > 0.9",
)
print("\nRuns with n_estimators=100 and accuracy > 0.9:")
print(filtered_runs[["run_id", "metrics.accuracy"]].to_string(index=False))
