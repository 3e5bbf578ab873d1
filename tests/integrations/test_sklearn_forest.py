"""Issue 10: a forest's training probabilities and importances, computed tree by tree without
joblib, are scikit-learn's own values bit for bit, and what a forest's run records uses them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import require
from tests.integrations._reading import only_run

sklearn = require("sklearn")
np = require("numpy")

import autolog  # noqa: E402
from autolog.integrations.sklearn import forest  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_blas_thread")


def _data(classes: int = 2):
    from sklearn.datasets import make_classification

    return make_classification(n_samples=120, n_features=6, n_informative=4, n_classes=classes,
                               random_state=0)


FORESTS = [
    lambda: __import__("sklearn.ensemble", fromlist=["x"]).RandomForestClassifier(
        n_estimators=15, random_state=0),
    lambda: __import__("sklearn.ensemble", fromlist=["x"]).ExtraTreesClassifier(
        n_estimators=15, random_state=0),
]


@pytest.mark.parametrize("classes", [2, 3])
@pytest.mark.parametrize("make", FORESTS, ids=["RandomForest", "ExtraTrees"])
def test_forest_probabilities_and_importances_equal_sklearns(make, classes):
    X, y = _data(classes)
    model = make().fit(X, y)
    np.testing.assert_array_equal(forest.predict_proba(model, X), model.predict_proba(X))
    np.testing.assert_array_equal(forest.feature_importances(model), model.feature_importances_)


def test_regressor_importances_and_other_estimators_use_their_own_methods():
    from sklearn.ensemble import GradientBoostingClassifier, RandomForestRegressor
    from sklearn.linear_model import LogisticRegression

    X, y = _data()
    regressor = RandomForestRegressor(n_estimators=10, random_state=0).fit(X, y)
    np.testing.assert_array_equal(forest.feature_importances(regressor),
                                  regressor.feature_importances_)
    boosted = GradientBoostingClassifier(n_estimators=5, random_state=0).fit(X, y)
    np.testing.assert_array_equal(forest.feature_importances(boosted), boosted.feature_importances_)
    np.testing.assert_array_equal(forest.predict_proba(boosted, X), boosted.predict_proba(X))
    linear = LogisticRegression().fit(X, y)
    assert forest.feature_importances(linear) is None


def test_a_single_node_forest_has_zero_importances_like_sklearns():
    from sklearn.ensemble import RandomForestClassifier

    X, y = _data()
    model = RandomForestClassifier(n_estimators=3, max_depth=1, max_leaf_nodes=2,
                                   min_samples_split=10_000, random_state=0).fit(X, y)
    np.testing.assert_array_equal(forest.feature_importances(model), model.feature_importances_)
    assert not forest.feature_importances(model).any()


def test_a_forests_run_records_sklearns_values():
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.metrics import log_loss, roc_auc_score

    X, y = _data()
    autolog.sklearn.autolog(log_models=False)
    model = RandomForestClassifier(n_estimators=15, random_state=0).fit(X, y)
    run = only_run()
    proba = model.predict_proba(X)
    assert run.data.metrics["training_log_loss"] == pytest.approx(log_loss(y, proba), abs=1e-9)
    assert run.data.metrics["training_roc_auc"] == pytest.approx(
        roc_auc_score(y, proba[:, 1]), abs=1e-9)
    stored = json.loads(Path(run.info.artifact_uri, "feature_importance.json").read_text())
    assert list(stored.values()) == model.feature_importances_.tolist()


def test_a_forests_signature_without_training_metrics_describes_its_predict():
    from sklearn.ensemble import RandomForestClassifier

    X, y = _data(3)
    autolog.sklearn.autolog(log_training_metrics=False)
    model = RandomForestClassifier(n_estimators=15, random_state=0).fit(X, y)
    run = only_run()
    meta = json.loads(Path(run.info.artifact_uri, "model", "model.json").read_text())
    expected = model.predict(X[:5])
    assert meta["signature"]["outputs"] == [{"type": "tensor", "dtype": str(expected.dtype), "shape": [-1]}]
    assert "training_accuracy_score" not in run.data.metrics
