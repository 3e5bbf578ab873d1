"""Tags: label runs with who/what/where, then find runs with a ``search_runs`` filter.

The tutorial's tagging scenario with ``import mlflow`` replaced by ``import autolog``.
"""

from __future__ import annotations

from typing import Any

from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split

import autolog

autolog.set_experiment("tagged_experiments")

X, y = make_classification(n_samples=1000, n_features=20, random_state=42)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, random_state=42)


def run_experiment(model_name: str, developer: str, phase: str, **model_params: Any) -> float:
    """Run an experiment with metadata tags."""
    with autolog.start_run(run_name=f"{model_name}_{phase}"):
        autolog.set_tag("mlflow.runName", f"{model_name}_{phase}")
        autolog.set_tag("developer", developer)
        autolog.set_tag("phase", phase)
        autolog.set_tag("model_type", model_name)
        autolog.set_tag("environment", "development")
        autolog.set_tag("dataset", "synthetic_classification")

        for param, value in model_params.items():
            autolog.log_param(param, value)

        model = LogisticRegression(**model_params)
        model.fit(X_train, y_train)

        train_score = model.score(X_train, y_train)
        test_score = model.score(X_test, y_test)
        autolog.log_metric("train_accuracy", train_score)
        autolog.log_metric("test_accuracy", test_score)
        return test_score


run_experiment("logistic_regression", "alice", "baseline", C=1.0, max_iter=100)
run_experiment("logistic_regression", "alice", "tuning", C=0.1, max_iter=200)
run_experiment("logistic_regression", "bob", "validation", C=0.5, max_iter=150)

# Search for runs by tag (the filter is translated to SQL, not applied in Python)
runs = autolog.search_runs(
    experiment_names=["tagged_experiments"],
    filter_string="tags.phase = 'tuning' AND tags.developer = 'alice'",
)
print(runs[["run_id", "metrics.test_accuracy", "params.C"]].to_string(index=False))
