"""LightGBM's native ``train`` with a validation set and early stopping, autologged.

One run named ``lightgbm.train`` holds the booster params and ``train`` settings, ``train-l2``,
``valid-l2`` and ``valid-l1`` per boosting round, ``best_iteration``/``stopped_iteration``
(0-based) with the ``best_*`` values, split and gain feature importance, the data fingerprints
and the model in LightGBM's text format.
"""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
from sklearn.datasets import load_diabetes
from sklearn.model_selection import train_test_split

import autolog


def main() -> None:
    autolog.lightgbm.autolog()

    X, y = load_diabetes(return_X_y=True, as_frame=True)
    X_train, X_valid, y_train, y_valid = train_test_split(X, y, test_size=0.25, random_state=0)
    train_set = lgb.Dataset(X_train, y_train)
    valid_set = lgb.Dataset(X_valid, y_valid, reference=train_set)

    params = {"objective": "regression", "metric": ["l2", "l1"], "learning_rate": 0.05,
              "num_leaves": 15, "min_data_in_leaf": 10, "num_threads": 2, "verbose": -1,
              "seed": 0}
    # first_metric_only: stop on valid-l2, the first metric.
    booster = lgb.train({**params, "first_metric_only": True}, train_set, num_boost_round=1000,
                        valid_sets=[train_set, valid_set], valid_names=["train", "valid"],
                        callbacks=[lgb.early_stopping(20, verbose=False)])

    run = autolog.last_active_run()
    assert run is not None
    autolog.flush()
    metrics = autolog.get_run(run.info.run_id).data.metrics
    print(f"run {run.info.run_id}: best iteration {int(metrics['best_iteration'])}, "
          f"stopped at {int(metrics['stopped_iteration'])}, "
          f"best valid l2 {metrics['best_valid-l2']:.1f}")

    loaded = autolog.load_model(f"runs:/{run.info.run_id}/model")
    assert np.array_equal(loaded.predict(X_valid), booster.predict(X_valid))
    print(f"reloaded {type(loaded).__name__}: identical predictions on {len(X_valid)} rows")


if __name__ == "__main__":
    main()
