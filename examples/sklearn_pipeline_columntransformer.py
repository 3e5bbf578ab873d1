"""Autologging a Pipeline with a ColumnTransformer on a pandas DataFrame.

One run for the whole pipeline: every step's params (``prep__num__with_mean``,
``model__C``, ...), training metrics, feature importances under the transformed columns' real
names (``num__age``, ``cat__sex_female``, ...), the data's fingerprint with its column names,
and the pipeline as ``model`` with a signature of the DataFrame's columns. ``pipe.score`` on the
test set is logged as ``Pipeline_score_X_test``.

Run: ``python examples/sklearn_pipeline_columntransformer.py``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

import autolog

autolog.autolog(log_input_examples=True)

# A small synthetic "passengers" table: numeric and categorical columns, some values missing.
rng = np.random.default_rng(0)
n = 400
X = pd.DataFrame({
    "age": rng.normal(35, 12, n).round(),
    "fare": rng.lognormal(3, 1, n).round(2),
    "sex": rng.choice(["female", "male"], n),
    "embarked": rng.choice(["C", "Q", "S"], n, p=[0.2, 0.1, 0.7]),
})
X.loc[rng.random(n) < 0.1, "age"] = np.nan
logit = 1.5 * (X["sex"] == "female") + 0.01 * X["fare"] - 0.02 * X["age"].fillna(35) - 0.3
y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=0)

pipe = Pipeline([
    ("prep", ColumnTransformer([
        ("num", Pipeline([("impute", SimpleImputer(strategy="median")),
                          ("scale", StandardScaler())]), ["age", "fare"]),
        ("cat", OneHotEncoder(handle_unknown="ignore"), ["sex", "embarked"]),
    ])),
    ("model", LogisticRegression(C=0.5, max_iter=500)),
])
pipe.fit(X_train, y_train)
print(f"test accuracy {pipe.score(X_test, y_test):.3f}")

run = autolog.last_active_run()
print(f"logged run {run.info.run_id}: {len(run.data.params)} params, metrics {sorted(run.data.metrics)}")
