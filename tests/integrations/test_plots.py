"""Integrations record pictures as plot specs: ``plots="lazy"`` (specs only, drawn on read),
``"eager"`` (specs and drawn files, on the writer thread), ``False`` (neither), on the global
switch and per integration; a whole autologged fit reaches the database in one transaction;
the classifier's training metrics equal scikit-learn's to 1e-9."""

from __future__ import annotations

import os
import warnings

import pytest

from tests.conftest import require

sklearn = require("sklearn")
np = require("numpy")

import autolog  # noqa: E402
from autolog import _tracking  # noqa: E402
from autolog.integrations.sklearn import metrics as cheap  # noqa: E402
from autolog.plots import SPEC_SUFFIX  # noqa: E402

from sklearn import metrics  # noqa: E402
from sklearn.compose import ColumnTransformer  # noqa: E402
from sklearn.datasets import load_breast_cancer, load_iris  # noqa: E402
from sklearn.ensemble import RandomForestClassifier  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.model_selection import GridSearchCV  # noqa: E402
from sklearn.pipeline import Pipeline  # noqa: E402
from sklearn.preprocessing import OneHotEncoder, StandardScaler  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_blas_thread")

PICTURES = {"training_confusion_matrix.png", "training_roc_curve.png",
            "training_precision_recall_curve.png", "feature_importance.png", "estimator.html"}


@pytest.fixture
def cancer():
    X, y = load_breast_cancer(return_X_y=True)
    return (X[:200] - X[:200].mean(axis=0)) / X[:200].std(axis=0), y[:200]  # scaled: converges


def only_run():
    autolog.flush()
    runs = autolog.search_runs(output_format="list")
    assert len(runs) == 1
    return runs[0]


def on_disk(run) -> set[str]:
    return set(os.listdir(run.info.artifact_uri))


def listed(run) -> set[str]:
    return {f.path for f in autolog.Client().list_artifacts(run.info.run_id)}


def test_lazy_by_default_records_specs_and_lists_pictures(cancer, tmp_path):
    require("matplotlib")
    autolog.autolog()
    LogisticRegression(max_iter=500).fit(*cancer)
    run = only_run()
    files = on_disk(run)
    assert {p + SPEC_SUFFIX for p in PICTURES} <= files
    assert not PICTURES & files  # nothing drawn at fit time
    assert PICTURES <= listed(run) and not any(p.endswith(SPEC_SUFFIX) for p in listed(run))
    local = autolog.Client().download_artifacts(run.info.run_id, "training_roc_curve.png", str(tmp_path))
    with open(local, "rb") as fh:
        assert fh.read(8) == b"\x89PNG\r\n\x1a\n"
    assert "training_roc_curve.png" in on_disk(run)  # cached beside its spec


def test_eager_draws_on_the_writer_thread_and_keeps_the_specs(cancer):
    require("matplotlib")
    autolog.sklearn.autolog(plots="eager")
    LogisticRegression(max_iter=500).fit(*cancer)
    files = on_disk(only_run())
    assert PICTURES <= files and {p + SPEC_SUFFIX for p in PICTURES} <= files
    with open(os.path.join(only_run().info.artifact_uri, "estimator.html")) as fh:
        assert "LogisticRegression" in fh.read()


@pytest.mark.parametrize("where", ["global", "sklearn"])
def test_plots_false_records_neither(cancer, where):
    if where == "global":
        autolog.autolog(plots=False)
    else:
        autolog.sklearn.autolog(plots=False)
    LogisticRegression(max_iter=500).fit(*cancer)
    run = only_run()
    assert not any(f.endswith(SPEC_SUFFIX) or f in PICTURES for f in on_disk(run))
    assert {"feature_importance.json", "model"} <= on_disk(run)  # the data files stay
    assert "training_roc_auc" in run.data.metrics


def test_per_integration_setting_is_checked():
    with pytest.raises(autolog.InvalidInputError, match="plots"):
        autolog.sklearn.autolog(plots="later")


def test_estimator_spec_shows_the_pipeline_structure_and_changed_params(tmp_path):
    X, y = load_iris(return_X_y=True, as_frame=True)
    X = X.assign(kind=np.where(y > 0, "<b>big</b>", "small"))
    model = Pipeline([
        ("prep", ColumnTransformer([("num", StandardScaler(), list(X.columns[:4])),
                                    ("cat", OneHotEncoder(handle_unknown="ignore"), ["kind"])])),
        ("clf", LogisticRegression(C=0.5, max_iter=300)),
    ])
    autolog.sklearn.autolog()
    model.fit(X, y)
    run = only_run()
    page = autolog.artifacts.load_text(f"runs:/{run.info.run_id}/estimator.html")
    assert page.index("ColumnTransformer") < page.index("StandardScaler") < page.index("LogisticRegression")
    assert "handle_unknown" in page and "max_iter" in page
    assert ">tol<" not in page  # a default value is not shown
    import json

    with open(os.path.join(run.info.artifact_uri, "estimator.html" + SPEC_SUFFIX)) as fh:
        root = json.load(fh)["root"]
    assert root["class"] == "Pipeline" and root["layout"] == "serial"
    prep = root["children"][0]
    assert (prep["name"], prep["layout"]) == ("prep", "parallel")
    assert [c["name"] for c in prep["children"]] == ["num", "cat"]
    assert root["children"][1]["params"] == {"C": "0.5", "max_iter": "300"}


def test_search_spec_shows_the_best_estimator():
    X, y = load_iris(return_X_y=True)
    autolog.sklearn.autolog(max_tuning_runs=0)
    GridSearchCV(RandomForestClassifier(n_estimators=5, random_state=0), {"max_depth": [1, 3]}, cv=2).fit(X, y)
    run = only_run()
    page = autolog.artifacts.load_text(f"runs:/{run.info.run_id}/estimator.html")
    assert "GridSearchCV" in page and "best_estimator_" in page and "max_depth" in page


def test_booster_importance_charts_are_specs(tmp_path):
    xgb = require("xgboost")
    require("matplotlib")
    rng = np.random.default_rng(0)
    X, y = rng.random((200, 5)), rng.integers(0, 2, 200)
    autolog.xgboost.autolog()
    xgb.train({"objective": "binary:logistic"}, xgb.DMatrix(X, label=y), num_boost_round=5)
    run = only_run()
    assert "feature_importance_weight.png" + SPEC_SUFFIX in on_disk(run)
    assert "feature_importance_weight.png" not in on_disk(run)
    assert "feature_importance_weight.png" in listed(run)
    local = autolog.Client().download_artifacts(run.info.run_id, "feature_importance_weight.png", str(tmp_path))
    assert os.path.getsize(local) > 1000


def test_a_whole_fit_is_one_transaction(cancer):
    sa = require("sqlalchemy")
    autolog.sklearn.autolog(log_models=False)
    LogisticRegression(max_iter=500).fit(*cancer)  # warm: imports, experiment cache
    store = _tracking.get_store()
    store.interval = 60.0  # no timed wake-up in the middle of the fit
    store.flush()
    commits = []

    def count(conn):
        commits.append(1)

    engine = store.inner._engine
    sa.event.listen(engine, "commit", count)
    try:
        LogisticRegression(max_iter=500).fit(*cancer)
        store.flush()
    finally:
        sa.event.remove(engine, "commit", count)
        store.interval = 0.5
    assert len(commits) == 1
    runs = autolog.search_runs(output_format="list")
    newest = max(runs, key=lambda r: r.info.start_time)
    assert newest.info.status == "FINISHED" and newest.data.params and newest.inputs


@pytest.mark.parametrize("case", ["binary", "multiclass", "weights", "strings"])
def test_training_metrics_equal_sklearn_to_1e_9(case):
    rng = np.random.default_rng(1)
    n = 500
    classes = np.array([0, 1]) if case == "binary" else np.array([0, 1, 2])
    if case == "strings":
        classes = np.array(["ant", "bee", "cat"])
    y = classes[rng.integers(0, classes.size, n)]
    pred = np.where(rng.random(n) < 0.8, y, classes[rng.integers(0, classes.size, n)])
    proba = rng.random((n, classes.size))
    proba /= proba.sum(axis=1, keepdims=True)
    w = rng.random(n) + 0.1 if case == "weights" else None
    got = cheap.classifier(y, pred, proba, classes, w).metrics
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        want = {
            "training_accuracy_score": metrics.accuracy_score(y, pred, sample_weight=w),
            "training_precision_score": metrics.precision_score(y, pred, average="weighted", sample_weight=w),
            "training_recall_score": metrics.recall_score(y, pred, average="weighted", sample_weight=w),
            "training_f1_score": metrics.f1_score(y, pred, average="weighted", sample_weight=w),
            "training_log_loss": metrics.log_loss(y, proba, sample_weight=w, labels=classes),
        }
        if classes.size == 2:
            want["training_roc_auc"] = metrics.roc_auc_score(y, proba[:, 1], sample_weight=w)
        elif w is None:
            want["training_roc_auc"] = metrics.roc_auc_score(y, proba, multi_class="ovo",
                                                             average="weighted", labels=classes)
    for key, value in want.items():
        assert got[key] == pytest.approx(value, rel=1e-9, abs=1e-12), key


def test_fitted_classifier_logs_sklearns_values(cancer):
    autolog.sklearn.autolog(log_models=False, plots=False)
    model = RandomForestClassifier(n_estimators=10, random_state=0).fit(*cancer)
    m = only_run().data.metrics
    X, y = cancer
    proba = model.predict_proba(X)
    pred = model.predict(X)
    assert m["training_accuracy_score"] == pytest.approx(metrics.accuracy_score(y, pred), rel=1e-9)
    assert m["training_f1_score"] == pytest.approx(metrics.f1_score(y, pred, average="weighted"), rel=1e-9)
    assert m["training_log_loss"] == pytest.approx(metrics.log_loss(y, proba), rel=1e-9)
    assert m["training_roc_auc"] == pytest.approx(metrics.roc_auc_score(y, proba[:, 1]), rel=1e-9)
