"""XGBoost's scikit-learn API with an eval set and early stopping, autologged.

Run it, then look at the run: ``autolog ui`` or ``autolog.search_runs()``. One run named
``XGBClassifier`` holds the estimator's params, ``validation_0-logloss`` and
``validation_0-auc`` per boosting round, ``best_iteration``/``stopped_iteration`` and the
``best_*`` values, feature importance (JSON and bar charts), the data fingerprints and the model.
"""

from __future__ import annotations

import numpy as np
import xgboost as xgb
from sklearn.datasets import load_breast_cancer
from sklearn.model_selection import train_test_split

import autolog


def main() -> None:
    autolog.xgboost.autolog(log_input_examples=True)

    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    X_train, X_valid, y_train, y_valid = train_test_split(X, y, test_size=0.25, random_state=0)

    model = xgb.XGBClassifier(n_estimators=500, learning_rate=0.1, max_depth=3,
                              early_stopping_rounds=15, eval_metric=["logloss", "auc"],
                              n_jobs=2, random_state=0)
    model.fit(X_train, y_train, eval_set=[(X_valid, y_valid)], verbose=False)

    run = autolog.last_active_run()
    assert run is not None
    autolog.flush()
    logged = autolog.get_run(run.info.run_id)
    print(f"run {run.info.run_id}: best iteration {int(logged.data.metrics['best_iteration'])}, "
          f"stopped at {int(logged.data.metrics['stopped_iteration'])}, "
          f"best validation AUC {logged.data.metrics['best_validation_0-auc']:.4f}")

    # The logged model is an XGBClassifier again and predicts exactly as the trained one.
    loaded = autolog.load_model(f"runs:/{run.info.run_id}/model")
    assert np.array_equal(loaded.predict_proba(X_valid), model.predict_proba(X_valid))
    print(f"reloaded {type(loaded).__name__}: identical predictions on {len(X_valid)} rows")


if __name__ == "__main__":
    main()
