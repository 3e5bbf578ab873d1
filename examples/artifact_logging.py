"""Artifacts: plots, a JSON config and a whole directory of files saved with the run.

The tutorial's artifact scenario with ``import mlflow`` replaced by ``import autolog``. The
scratch files are written in a temporary folder rather than the current directory, so nothing is
left behind even if the script fails half-way.
"""

from __future__ import annotations

import json
import os
import tempfile

import matplotlib

matplotlib.use("Agg")  # files only, no window: also works on a machine without a display

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.datasets import load_iris  # noqa: E402
from sklearn.ensemble import RandomForestClassifier  # noqa: E402
from sklearn.metrics import ConfusionMatrixDisplay, confusion_matrix  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402

import autolog  # noqa: E402

autolog.set_experiment("artifact_example")

iris = load_iris()
X_train, X_test, y_train, y_test = train_test_split(
    iris.data, iris.target, test_size=0.2, random_state=42
)

with autolog.start_run(run_name="with_artifacts"), tempfile.TemporaryDirectory() as scratch:
    model = RandomForestClassifier(n_estimators=50, random_state=42)
    model.fit(X_train, y_train)
    y_pred = model.predict(X_test)

    # Confusion matrix plot, saved to a file and logged as an artifact
    cm = confusion_matrix(y_test, y_pred)
    fig, ax = plt.subplots(figsize=(8, 6))
    disp = ConfusionMatrixDisplay(confusion_matrix=cm, display_labels=iris.target_names)
    disp.plot(ax=ax)
    plt.title("Confusion Matrix")
    path = os.path.join(scratch, "confusion_matrix.png")
    plt.savefig(path, dpi=100, bbox_inches="tight")
    autolog.log_artifact(path)
    plt.close()

    # Feature importance plot
    fig, ax = plt.subplots(figsize=(10, 6))
    ax.barh(iris.feature_names, model.feature_importances_)
    ax.set_xlabel("Feature Importance")
    ax.set_title("Random Forest Feature Importances")
    plt.tight_layout()
    path = os.path.join(scratch, "feature_importance.png")
    plt.savefig(path, dpi=100)
    autolog.log_artifact(path)
    plt.close()

    # A JSON config file
    config = {
        "model_type": "RandomForestClassifier",
        "preprocessing": {"scaling": "none", "feature_selection": "none"},
        "training": {"cv_folds": 5, "stratified": True},
    }
    path = os.path.join(scratch, "config.json")
    with open(path, "w") as f:
        json.dump(config, f, indent=2)
    autolog.log_artifact(path)

    # An entire directory of artifacts
    samples = os.path.join(scratch, "data_samples")
    os.makedirs(samples)
    np.savetxt(os.path.join(samples, "X_train_sample.csv"), X_train[:10], delimiter=",")
    np.savetxt(os.path.join(samples, "X_test_sample.csv"), X_test[:10], delimiter=",")
    autolog.log_artifacts(samples, artifact_path="data_samples")

    print("Artifacts logged successfully!")
    print(f"Artifact folder: {autolog.get_artifact_uri()}")
