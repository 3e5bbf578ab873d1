"""Issue 9, item 11: clusterers and other estimators whose score() needs no y get training_score."""

from __future__ import annotations

import pytest

from tests.conftest import require
from tests.integrations._reading import only_run

sklearn = require("sklearn")
np = require("numpy")

import autolog  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_blas_thread")


@pytest.mark.parametrize("make", [
    lambda: __import__("sklearn.cluster", fromlist=["KMeans"]).KMeans(n_clusters=2, n_init=2, random_state=0),
    lambda: __import__("sklearn.mixture", fromlist=["GaussianMixture"]).GaussianMixture(2, random_state=0),
    lambda: __import__("sklearn.decomposition", fromlist=["PCA"]).PCA(n_components=1),
], ids=["KMeans", "GaussianMixture", "PCA"])
def test_unsupervised_estimators_get_training_score(make):
    X = np.random.default_rng(0).normal(size=(40, 2))
    autolog.autolog()
    model = make().fit(X)
    run = only_run()
    assert run.data.metrics["training_score"] == pytest.approx(model.score(X))
