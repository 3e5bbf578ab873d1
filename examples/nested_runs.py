"""Nested runs three levels deep: a hyperparameter search, one child per setting, one grandchild
per cross-validation fold.

The tutorial's nested scenario with ``import mlflow`` replaced by ``import autolog``; fewer trees
per forest than the tutorial so that it runs in a few seconds. Each nested run records its parent
in the ``autolog.parentRunId`` tag (searchable: ``tags.`autolog.parentRunId` = '<id>'``).
"""

from __future__ import annotations

import numpy as np
from sklearn.datasets import load_iris
from sklearn.ensemble import RandomForestClassifier
from sklearn.metrics import accuracy_score
from sklearn.model_selection import KFold

import autolog

autolog.set_experiment("nested_cv_experiment")

iris = load_iris()
X, y = iris.data, iris.target

n_estimators_options = [5, 10, 20]
kf = KFold(n_splits=5, shuffle=True, random_state=42)

# Parent run for the entire hyperparameter search
with autolog.start_run(run_name="hyperparameter_search") as parent_run:
    autolog.set_tag("run_type", "hyperparameter_search")
    autolog.log_param("cv_folds", 5)
    autolog.log_param("n_estimators_options", n_estimators_options)

    best_accuracy = 0.0
    best_n_estimators = None

    for n_estimators in n_estimators_options:
        # Child run for each hyperparameter configuration
        with autolog.start_run(run_name=f"n_estimators_{n_estimators}", nested=True):
            autolog.log_param("n_estimators", n_estimators)
            fold_accuracies = []

            for fold_idx, (train_idx, val_idx) in enumerate(kf.split(X)):
                # Grandchild run for each fold
                with autolog.start_run(run_name=f"fold_{fold_idx}", nested=True):
                    model = RandomForestClassifier(n_estimators=n_estimators, random_state=42)
                    model.fit(X[train_idx], y[train_idx])
                    accuracy = accuracy_score(y[val_idx], model.predict(X[val_idx]))
                    fold_accuracies.append(accuracy)
                    autolog.log_metric("fold_accuracy", accuracy)

            mean_accuracy = float(np.mean(fold_accuracies))
            autolog.log_metric("mean_cv_accuracy", mean_accuracy)
            autolog.log_metric("std_cv_accuracy", float(np.std(fold_accuracies)))

            if mean_accuracy > best_accuracy:
                best_accuracy = mean_accuracy
                best_n_estimators = n_estimators

    # Best results go to the parent run
    autolog.log_metric("best_cv_accuracy", best_accuracy)
    autolog.log_param("best_n_estimators", best_n_estimators)

    print(f"Parent run ID: {parent_run.info.run_id}")
    print(f"Best n_estimators: {best_n_estimators}")
    print(f"Best CV accuracy: {best_accuracy:.4f}")
