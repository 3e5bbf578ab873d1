"""Autologging a hyperparameter search: one added line records the whole GridSearchCV.

The parent run gets the search's params, ``best_<param>`` params, ``best_cv_score``,
``cv_results.csv``, the fitted search as ``model`` and its best estimator as
``best_estimator``; each candidate becomes a child run. The accuracy computed on the test set
afterwards lands in the same run as ``accuracy_score_X_test`` (called as
``metrics.accuracy_score``: a function imported by name before ``autolog()`` is the unpatched
original, as with MLflow; classes have no such limitation).

Run: ``python examples/sklearn_autolog_gridsearch.py`` (runs go to ``./autolog-runs``, or to
``$AUTOLOG_TRACKING_URI``).
"""

from __future__ import annotations

from sklearn import metrics
from sklearn.datasets import load_breast_cancer
from sklearn.ensemble import GradientBoostingClassifier
from sklearn.model_selection import GridSearchCV, train_test_split

import autolog

autolog.autolog()  # the one line

X, y = load_breast_cancer(return_X_y=True, as_frame=True)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=0)

search = GridSearchCV(
    GradientBoostingClassifier(random_state=0),
    param_grid={"n_estimators": [10, 20], "max_depth": [2, 3]},
    cv=3,
)
search.fit(X_train, y_train)

y_pred = search.predict(X_test)
print(f"best params {search.best_params_}, test accuracy {metrics.accuracy_score(y_test, y_pred):.3f}")

run = autolog.last_active_run()
print(f"logged run {run.info.run_id} ({run.info.run_name})")
