"""Basic tracking: params, metrics and a scikit-learn model with an input example.

The tutorial's first scenario with ``import mlflow`` replaced by ``import autolog``. Run it with
``python examples/basic_tracking.py``; it logs into ``./autolog-runs`` (or $AUTOLOG_TRACKING_URI)
and prints the run id and where the data is. ``autolog runs show <run id>`` shows what it stored.
"""

from __future__ import annotations

from sklearn.datasets import load_iris
from sklearn.ensemble import RandomForestClassifier
from sklearn.metrics import accuracy_score, f1_score
from sklearn.model_selection import train_test_split

import autolog

# Set the experiment name - creates it if it doesn't exist
autolog.set_experiment("iris_classification")

iris = load_iris()
X_train, X_test, y_train, y_test = train_test_split(
    iris.data, iris.target, test_size=0.2, random_state=42
)

n_estimators = 100
max_depth = 5
random_state = 42

# Everything logged inside this block goes to this run; it ends FINISHED (FAILED on an error).
with autolog.start_run(run_name="random_forest_baseline") as run:
    autolog.log_param("n_estimators", n_estimators)
    autolog.log_param("max_depth", max_depth)
    autolog.log_param("random_state", random_state)
    autolog.log_param("test_size", 0.2)

    model = RandomForestClassifier(
        n_estimators=n_estimators, max_depth=max_depth, random_state=random_state
    )
    model.fit(X_train, y_train)

    y_pred = model.predict(X_test)
    accuracy = accuracy_score(y_test, y_pred)
    f1 = f1_score(y_test, y_pred, average="weighted")

    autolog.log_metric("accuracy", accuracy)
    autolog.log_metric("f1_score", f1)

    # The model folder holds model.json (signature inferred from the example), the input
    # example, requirements.txt and the pickled estimator.
    autolog.sklearn.log_model(model, "random_forest_model", input_example=X_train[:5])

    print(f"Accuracy: {accuracy:.4f}")
    print(f"F1 Score: {f1:.4f}")

print(f"Run ID: {run.info.run_id}")
print(f"Tracking location: {autolog.get_tracking_uri()}")
print(f"See it with: autolog runs show {run.info.run_id}")
