"""The scikit-learn integration against real scikit-learn: what each fit records, searches,
cross-validation functions, post-training metrics, every estimator, and the examples."""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
import threading
import warnings

import pytest

from tests.conftest import require

sklearn = require("sklearn")
np = require("numpy")

import autolog  # noqa: E402
from autolog.integrations import _patch  # noqa: E402
from autolog.store import artifacts as _artifacts  # noqa: E402
from autolog.integrations.sklearn import metrics as cheap  # noqa: E402
from autolog.integrations.sklearn import patching as _sklearn_patching  # noqa: E402

from sklearn import metrics  # noqa: E402
from sklearn.cluster import KMeans  # noqa: E402
from sklearn.compose import ColumnTransformer  # noqa: E402
from sklearn.datasets import load_breast_cancer, load_iris, make_regression  # noqa: E402
from sklearn.decomposition import PCA  # noqa: E402
from sklearn.ensemble import BaggingClassifier, RandomForestClassifier  # noqa: E402
from sklearn.feature_selection import SelectKBest  # noqa: E402
from sklearn.impute import SimpleImputer  # noqa: E402
from sklearn.linear_model import LogisticRegression, Ridge  # noqa: E402
import sklearn.model_selection as ms  # noqa: E402
from sklearn.model_selection import GridSearchCV, RandomizedSearchCV  # noqa: E402
from sklearn.pipeline import Pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.tree import DecisionTreeClassifier  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


pytestmark = pytest.mark.usefixtures("one_blas_thread")


@pytest.fixture(autouse=True)
def no_hook_errors():
    """Post-import hooks never raise; a failure there is recorded, and must not happen here."""
    _sklearn_patching.hook_errors.clear()
    yield
    assert _sklearn_patching.hook_errors == []


@pytest.fixture
def iris():
    X, y = load_iris(return_X_y=True)
    return X, y


@pytest.fixture
def iris_frame():
    data = load_iris(as_frame=True)
    return data.data, data.target


@pytest.fixture
def cancer():
    X, y = load_breast_cancer(return_X_y=True)
    return X[:200], y[:200]


def finished_runs():
    autolog.flush()
    return autolog.search_runs(output_format="list")


def only_run():
    runs = finished_runs()
    assert len(runs) == 1, [r.info.run_name for r in runs]
    return runs[0]


def artifact_paths(run_id, path=None):
    return {f.path for f in autolog.Client().list_artifacts(run_id, path)}


def read_artifact(run, name, mode="r"):
    # Through autolog, as a user reads it: pictures recorded as specs are drawn on this read.
    data = _artifacts.repository(run.info.artifact_uri).read_bytes(name)
    return data if "b" in mode else data.decode("utf-8")


# -- enabling ---------------------------------------------------------------------------------------

def run_python(code, env_extra=None, cwd=None):
    env = {**os.environ, "PYTHONPATH": ROOT, "MPLBACKEND": "Agg", **(env_extra or {})}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=env, cwd=cwd or ROOT, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_enabling_imports_no_sklearn_submodule_and_patches_on_import(tmp_path):
    out = run_python(
        "import sys, autolog\n"
        f"autolog.set_tracking_uri({str(tmp_path / 'r')!r})\n"
        "autolog.autolog()\n"
        "assert 'sklearn' not in sys.modules\n"
        "import sklearn\n"
        "print('linear_model' , 'sklearn.linear_model' in sys.modules)\n"
        "from sklearn.linear_model import LogisticRegression\n"
        "from autolog.integrations._patch import is_patched\n"
        "print('patched', is_patched(LogisticRegression, 'fit'))\n")
    assert "linear_model False" in out
    assert "patched True" in out


def test_sklearn_imported_before_autolog_is_patched(iris):
    # sklearn and its submodules are already imported in this process
    autolog.sklearn.autolog()
    assert _patch.is_patched(LogisticRegression, "fit")
    assert _patch.is_patched(sys.modules["sklearn.linear_model._logistic"].LogisticRegression, "fit")
    LogisticRegression(max_iter=200).fit(*iris)
    assert only_run().info.run_name == "LogisticRegression"


def test_disable_restores_every_original(iris):
    from sklearn.base import BaseEstimator

    init_subclass = {k: k.__dict__.get("__init_subclass__") for k in BaseEstimator.__mro__}
    r2 = metrics.r2_score
    autolog.sklearn.autolog()
    assert _patch.is_patched(LogisticRegression, "fit")
    assert metrics.r2_score is not r2
    autolog.sklearn.autolog(disable=True)
    assert not _patch.is_patched(LogisticRegression, "fit")
    assert not _patch.is_patched(Pipeline, "predict")
    assert metrics.r2_score is r2
    assert {k: k.__dict__.get("__init_subclass__") for k in BaseEstimator.__mro__} == init_subclass
    LogisticRegression(max_iter=200).fit(*iris)
    assert finished_runs() == []


# -- what a fit records -------------------------------------------------------------------------------

def test_classifier_fit_records_params_tags_metrics_artifacts_model(iris_frame):
    X, y = iris_frame
    autolog.sklearn.autolog(log_input_examples=True)
    model = LogisticRegression(max_iter=300, C=0.5).fit(X, y)
    run = only_run()
    assert run.info.status == "FINISHED"
    assert run.data.tags["autolog.integration"] == "sklearn"
    assert run.data.tags["estimator_name"] == "LogisticRegression"
    assert run.data.tags["estimator_class"] == "sklearn.linear_model._logistic.LogisticRegression"
    assert run.data.params == {k: str(v) for k, v in model.get_params(deep=True).items()}
    m = run.data.metrics
    pred, proba = model.predict(X), model.predict_proba(X)
    assert m["training_accuracy_score"] == pytest.approx(metrics.accuracy_score(y, pred))
    assert m["training_precision_score"] == pytest.approx(metrics.precision_score(y, pred, average="weighted"))
    assert m["training_recall_score"] == pytest.approx(metrics.recall_score(y, pred, average="weighted"))
    assert m["training_f1_score"] == pytest.approx(metrics.f1_score(y, pred, average="weighted"))
    assert m["training_log_loss"] == pytest.approx(metrics.log_loss(y, proba))
    assert m["training_roc_auc"] == pytest.approx(
        metrics.roc_auc_score(y, proba, multi_class="ovo", average="weighted"))
    assert m["training_score"] == pytest.approx(model.score(X, y))
    paths = artifact_paths(run.info.run_id)
    assert {"estimator.html", "feature_importance.json", "feature_importance.png",
            "training_confusion_matrix.png", "model"} <= paths
    assert "training_roc_curve.png" not in paths  # multiclass: no binary curves
    assert read_artifact(run, "training_confusion_matrix.png", "rb")[:8] == b"\x89PNG\r\n\x1a\n"
    assert "LogisticRegression" in read_artifact(run, "estimator.html")
    importance = json.loads(read_artifact(run, "feature_importance.json"))
    assert list(importance) == list(X.columns)  # real names
    assert importance["petal width (cm)"] == pytest.approx(float(np.abs(model.coef_).mean(axis=0)[3]))
    loaded = autolog.sklearn.load_model(f"runs:/{run.info.run_id}/model")
    np.testing.assert_array_equal(loaded.predict(X), pred)
    info = autolog.models.get_model_info(f"runs:/{run.info.run_id}/model")
    assert [s["name"] for s in info.signature.inputs] == list(X.columns)
    assert info.signature.outputs
    example = json.loads(read_artifact(run, "model/input_example.json"))
    assert example["columns"] == list(X.columns) and len(example["data"]) == 5
    (dataset,) = run.inputs
    assert dataset.context == "train" and dataset.shape == (150, 4)
    assert dataset.columns == tuple(X.columns)


def test_binary_classifier_logs_roc_and_precision_recall_curves(cancer):
    autolog.sklearn.autolog()
    model = RandomForestClassifier(n_estimators=5, random_state=0).fit(*cancer)
    run = only_run()
    assert {"training_roc_curve.png", "training_precision_recall_curve.png",
            "training_confusion_matrix.png"} <= artifact_paths(run.info.run_id)
    proba = model.predict_proba(cancer[0])[:, 1]
    # predictions derived from predict_proba (one pass over the forest) equal predict()'s
    assert run.data.metrics["training_accuracy_score"] == pytest.approx(
        metrics.accuracy_score(cancer[1], model.predict(cancer[0])))
    assert run.data.metrics["training_f1_score"] == pytest.approx(
        metrics.f1_score(cancer[1], model.predict(cancer[0]), average="weighted"))
    assert run.data.metrics["training_roc_auc"] == pytest.approx(metrics.roc_auc_score(cancer[1], proba))
    importance = json.loads(read_artifact(run, "feature_importance.json"))
    assert list(importance) == [f"feature_{i}" for i in range(30)]
    assert list(importance.values()) == pytest.approx(model.feature_importances_.tolist())


def test_same_data_gives_same_fingerprint(iris):
    autolog.sklearn.autolog()
    LogisticRegression(max_iter=200).fit(*iris)
    DecisionTreeClassifier(random_state=0).fit(*iris)
    digests = {r.inputs[0].digest for r in finished_runs()}
    assert len(digests) == 1


def test_regressor_metrics_match_sklearn():
    X, y = make_regression(n_samples=60, n_features=4, noise=3.0, random_state=0)
    w = np.linspace(0.5, 2.0, 60)
    autolog.sklearn.autolog()
    model = Ridge(alpha=0.3).fit(X, y, sample_weight=w)
    m = only_run().data.metrics
    pred = model.predict(X)
    assert m["training_mean_squared_error"] == pytest.approx(metrics.mean_squared_error(y, pred, sample_weight=w))
    assert m["training_root_mean_squared_error"] == pytest.approx(
        np.sqrt(metrics.mean_squared_error(y, pred, sample_weight=w)))
    assert m["training_mean_absolute_error"] == pytest.approx(metrics.mean_absolute_error(y, pred, sample_weight=w))
    assert m["training_r2_score"] == pytest.approx(metrics.r2_score(y, pred, sample_weight=w))
    assert m["training_score"] == pytest.approx(model.score(X, y, sample_weight=w))


@pytest.mark.parametrize("case", ["binary", "multiclass", "strings", "weights", "unseen", "pos_label"])
def test_cheap_classifier_metrics_equal_sklearn(case):
    rng = np.random.default_rng(0)
    n = 80
    classes = np.array([0, 1]) if case in ("binary", "pos_label") else np.array([0, 1, 2, 3])
    y = rng.choice(classes, n)
    pred = np.where(rng.random(n) < 0.7, y, rng.choice(classes, n))
    proba = rng.random((n, classes.size))
    proba /= proba.sum(axis=1, keepdims=True)
    w = rng.random(n) + 0.1 if case == "weights" else None
    if case == "strings":
        names = np.array(["ant", "bee", "cat", "dog"])
        y, pred, classes = names[y], names[pred], names
    if case == "unseen":
        pred[:3] = 7  # a label the truth never has
    pos = 1 if case == "pos_label" else None
    report = cheap.classifier(y, pred, proba, classes, w, pos_label=pos)
    m = report.metrics
    average = "binary" if pos is not None else "weighted"
    extra = {"pos_label": pos} if pos is not None else {}
    assert m["training_accuracy_score"] == pytest.approx(metrics.accuracy_score(y, pred, sample_weight=w))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # sklearn warns on undefined precision; we use 0 as it does
        for name, fn in (("precision", metrics.precision_score), ("recall", metrics.recall_score),
                         ("f1", metrics.f1_score)):
            assert m[f"training_{name}_score"] == pytest.approx(
                fn(y, pred, average=average, sample_weight=w, **extra)), name
    assert m["training_log_loss"] == pytest.approx(metrics.log_loss(y, proba, sample_weight=w, labels=classes))
    if classes.size == 2:
        assert m["training_roc_auc"] == pytest.approx(metrics.roc_auc_score(y, proba[:, 1]))
        fpr, tpr, _ = metrics.roc_curve(y, proba[:, 1], drop_intermediate=False)
        np.testing.assert_allclose(report.roc[0], fpr)
        np.testing.assert_allclose(report.roc[1], tpr)
    elif w is None:
        assert m["training_roc_auc"] == pytest.approx(
            metrics.roc_auc_score(y, proba, multi_class="ovo", average="weighted", labels=classes))
    labels = sorted(set(y.tolist()) | set(pred.tolist()))
    np.testing.assert_allclose(report.confusion, metrics.confusion_matrix(y, pred, labels=labels, sample_weight=w))


def test_cheap_regressor_metrics_multioutput_and_constant_target():
    rng = np.random.default_rng(1)
    y = rng.random((30, 2))
    y[:, 1] = 3.0  # constant output: R² is 1 if predicted exactly, else 0, as sklearn says
    pred = y + rng.normal(0, 0.1, y.shape)
    got = cheap.regressor(y, pred)
    assert got["training_r2_score"] == pytest.approx(metrics.r2_score(y, pred))
    assert got["training_mean_squared_error"] == pytest.approx(metrics.mean_squared_error(y, pred))
    assert got["training_mean_absolute_error"] == pytest.approx(metrics.mean_absolute_error(y, pred))


def test_clusterer_metrics_sampled_silhouette():
    rng = np.random.default_rng(0)
    X = np.concatenate([rng.normal(0, 1, (700, 2)), rng.normal(6, 1, (700, 2))])
    autolog.sklearn.autolog()
    model = KMeans(n_clusters=2, n_init=2, random_state=0).fit(X)
    m = only_run().data.metrics
    assert m["training_silhouette_score"] == pytest.approx(
        metrics.silhouette_score(X, model.labels_, sample_size=1000, random_state=0))
    assert m["training_calinski_harabasz_score"] == pytest.approx(
        metrics.calinski_harabasz_score(X, model.labels_))
    assert m["training_davies_bouldin_score"] == pytest.approx(metrics.davies_bouldin_score(X, model.labels_))


def test_fit_predict_and_fit_transform_give_one_run(iris):
    X, _ = iris
    autolog.sklearn.autolog()
    labels = KMeans(n_clusters=3, n_init=2, random_state=0).fit_predict(X)
    PCA(n_components=2).fit_transform(X)
    runs = finished_runs()
    assert sorted(r.info.run_name for r in runs) == ["KMeans", "PCA"]
    kmeans = next(r for r in runs if r.info.run_name == "KMeans")
    assert kmeans.data.metrics["training_silhouette_score"] == pytest.approx(metrics.silhouette_score(X, labels))


def test_standalone_transformers_get_no_run(iris):
    X, y = iris
    autolog.sklearn.autolog()
    StandardScaler().fit(X)
    StandardScaler().fit_transform(X)
    SimpleImputer().fit(X)
    SelectKBest(k=2).fit(X, y)
    ColumnTransformer([("s", StandardScaler(), [0, 1])]).fit(X)
    assert finished_runs() == []


def test_pipeline_with_column_transformer_is_one_run(iris_frame):
    X, y = iris_frame
    autolog.sklearn.autolog()
    pipe = Pipeline([
        ("prep", ColumnTransformer([("num", StandardScaler(), list(X.columns[:2]))],
                                   remainder="passthrough")),
        ("clf", LogisticRegression(max_iter=300)),
    ]).fit(X, y)
    run = only_run()
    assert run.info.run_name == "Pipeline"
    assert run.data.params["clf__max_iter"] == "300"
    assert "prep__num" in run.data.params and "steps" in run.data.params
    importance = json.loads(read_artifact(run, "feature_importance.json"))
    assert list(importance) == list(pipe[:-1].get_feature_names_out())
    assert "training_accuracy_score" in run.data.metrics


def test_meta_estimator_is_one_run(iris):
    autolog.sklearn.autolog()
    BaggingClassifier(DecisionTreeClassifier(), n_estimators=4, random_state=0).fit(*iris)
    assert only_run().info.run_name == "BaggingClassifier"


from sklearn.base import BaseEstimator, ClassifierMixin  # noqa: E402


class MajorityClassifier(ClassifierMixin, BaseEstimator):
    """A user's own estimator (MLflow does not log these); defined before autolog is enabled."""

    def __init__(self, bias=0.0):
        self.bias = bias

    def fit(self, X, y):
        values, counts = np.unique(y, return_counts=True)
        self.classes_ = values
        self.majority_ = values[np.argmax(counts)]
        return self

    def predict(self, X):
        return np.full(len(X), self.majority_)


def test_users_own_estimators_are_logged(iris):
    autolog.sklearn.autolog()

    class LateEstimator(BaseEstimator):  # created while autolog is on
        def __init__(self, k=3):
            self.k = k

        def fit(self, X, y=None):
            self.mean_ = np.asarray(X).mean(axis=0)
            return self

    MajorityClassifier(bias=0.5).fit(*iris)
    LateEstimator().fit(iris[0])
    runs = {r.info.run_name: r for r in finished_runs()}
    assert set(runs) == {"MajorityClassifier", "LateEstimator"}
    assert runs["MajorityClassifier"].data.params == {"bias": "0.5"}
    assert runs["MajorityClassifier"].data.metrics["training_accuracy_score"] == pytest.approx(1 / 3)
    assert runs["LateEstimator"].data.params == {"k": "3"}
    assert _patch.is_patched(LateEstimator, "fit")


def test_settings_are_read_at_call_time(iris):
    autolog.sklearn.autolog()
    LogisticRegression(max_iter=200).fit(*iris)
    autolog.sklearn.autolog(log_models=False, extra_tags={"team": "a"})
    LogisticRegression(max_iter=200).fit(*iris)
    first, second = sorted(finished_runs(), key=lambda r: r.info.start_time)
    assert "model" in artifact_paths(first.info.run_id)
    assert "model" not in artifact_paths(second.info.run_id)
    assert second.data.tags["team"] == "a"


# -- cross-validation functions -------------------------------------------------------------------
# Called through the module: like MLflow, a function imported by name before autolog() was
# enabled is the original (only classes are patched in place).

def test_cross_validate_is_one_run_with_fold_metrics(iris):
    autolog.sklearn.autolog()
    result = ms.cross_validate(LogisticRegression(max_iter=200), *iris, cv=3,
                            scoring=["accuracy", "f1_macro"], return_train_score=True)
    run = only_run()
    assert run.info.run_name == "LogisticRegression"
    assert run.data.params["max_iter"] == "200"
    client = autolog.Client()
    for key in ("test_accuracy", "test_f1_macro", "train_accuracy", "fit_time", "score_time"):
        history = client.get_metric_history(run.info.run_id, key)
        assert [m.step for m in sorted(history, key=lambda m: m.step)] == [0, 1, 2]
        assert [m.value for m in sorted(history, key=lambda m: m.step)] == pytest.approx(result[key].tolist())
        assert run.data.metrics[f"mean_{key}"] == pytest.approx(result[key].mean())
        assert run.data.metrics[f"std_{key}"] == pytest.approx(result[key].std())


def test_other_cv_functions_are_one_run_each(iris):
    X, y = iris
    autolog.sklearn.autolog()
    est = DecisionTreeClassifier(max_depth=2, random_state=0)
    scores = ms.cross_val_score(est, X, y, cv=3)
    ms.cross_val_predict(est, X, y, cv=3)
    ms.learning_curve(est, X, y, cv=3, train_sizes=[0.5, 1.0])
    ms.validation_curve(est, X, y, param_name="max_depth", param_range=[1, 2], cv=3)
    score, perms, pvalue = ms.permutation_test_score(est, X, y, cv=3, n_permutations=3, random_state=0)
    runs = finished_runs()
    functions = sorted(r.data.tags["autolog.sklearn.function"] for r in runs)
    assert functions == sorted(["cross_val_score", "cross_val_predict", "learning_curve",
                                "validation_curve", "permutation_test_score"])
    by = {r.data.tags["autolog.sklearn.function"]: r for r in runs}
    assert by["cross_val_score"].data.metrics["mean_test_score"] == pytest.approx(scores.mean())
    assert by["permutation_test_score"].data.metrics["pvalue"] == pytest.approx(pvalue)
    assert by["learning_curve"].data.metrics["train_size"] == 100.0  # last point: all of a split
    assert "mean_test_score" in by["validation_curve"].data.metrics
    for run in runs:
        assert run.data.params["max_depth"] == "2"


def test_cv_functions_still_pickle_as_themselves():
    autolog.sklearn.autolog()
    assert _patch.is_patched(ms, "cross_val_score")
    assert pickle.loads(pickle.dumps(ms.cross_val_score)) is ms.cross_val_score


# -- searches -------------------------------------------------------------------------------------

def _children(parent_id):
    return [r for r in finished_runs() if r.data.tags.get("autolog.parentRunId") == parent_id]


def test_grid_search_parent_and_child_runs(iris):
    X, y = iris
    autolog.sklearn.autolog(max_tuning_runs=3)
    grid = {"C": [0.01, 0.1, 1.0, 10.0], "fit_intercept": [True, False]}
    search = GridSearchCV(LogisticRegression(max_iter=300), grid, cv=3, return_train_score=True).fit(X, y)
    runs = finished_runs()
    parent = next(r for r in runs if "autolog.parentRunId" not in r.data.tags)
    assert parent.info.run_name == "GridSearchCV"
    params = parent.data.params
    assert "estimator" in params and "param_grid" in params and "estimator__C" not in params
    assert params["best_C"] == str(search.best_params_["C"])
    assert params["best_fit_intercept"] == str(search.best_params_["fit_intercept"])
    assert parent.data.metrics["best_cv_score"] == pytest.approx(search.best_score_)
    paths = artifact_paths(parent.info.run_id)
    assert {"cv_results.csv", "model", "best_estimator", "estimator.html"} <= paths
    csv_lines = read_artifact(parent, "cv_results.csv").strip().splitlines()
    assert len(csv_lines) == 1 + 8 and csv_lines[0].startswith("mean_fit_time")
    best = autolog.sklearn.load_model(f"runs:/{parent.info.run_id}/best_estimator")
    np.testing.assert_array_equal(best.predict(X), search.best_estimator_.predict(X))
    children = _children(parent.info.run_id)
    assert len(children) == 3 and len(runs) == 4
    ranks = sorted(c.data.metrics["rank_test_score"] for c in children)
    assert ranks == sorted(search.cv_results_["rank_test_score"])[:3]
    for child in children:
        assert child.info.status == "FINISHED"
        assert child.data.tags["estimator_name"] == "LogisticRegression"
        assert {"mean_test_score", "std_test_score", "mean_fit_time", "std_score_time",
                "mean_train_score"} <= set(child.data.metrics)
        assert child.data.params["max_iter"] == "300"
        i = [str(p["C"]) for p in search.cv_results_["params"]].index(child.data.params["C"])
        assert child.data.metrics["mean_test_score"] == pytest.approx(
            search.cv_results_["mean_test_score"][
                next(j for j, p in enumerate(search.cv_results_["params"])
                     if str(p["C"]) == child.data.params["C"]
                     and str(p["fit_intercept"]) == child.data.params["fit_intercept"])])
        del i


def test_randomized_search_multimetric_and_max_tuning_runs(iris):
    autolog.sklearn.autolog(max_tuning_runs=None)
    search = RandomizedSearchCV(DecisionTreeClassifier(random_state=0),
                                {"max_depth": [1, 2, 3, 4]}, n_iter=3, cv=3, random_state=0,
                                scoring={"acc": "accuracy", "f1": "f1_macro"}, refit="f1").fit(*iris)
    runs = finished_runs()
    parent = next(r for r in runs if "autolog.parentRunId" not in r.data.tags)
    assert parent.data.metrics["best_cv_score"] == pytest.approx(search.best_score_)
    children = _children(parent.info.run_id)
    assert len(children) == 3  # None: every candidate
    assert {"mean_test_acc", "mean_test_f1", "rank_test_f1", "rank_test_acc"} <= set(children[0].data.metrics)


def test_halving_search_and_zero_tuning_runs(iris):
    from sklearn.experimental import enable_halving_search_cv  # noqa: F401
    from sklearn.model_selection import HalvingGridSearchCV, HalvingRandomSearchCV

    autolog.sklearn.autolog(max_tuning_runs=0, log_models=False)
    HalvingGridSearchCV(DecisionTreeClassifier(random_state=0), {"max_depth": [1, 2, 3]},
                        cv=3, random_state=0).fit(*iris)
    HalvingRandomSearchCV(DecisionTreeClassifier(random_state=0), {"max_depth": [1, 2, 3]},
                          n_candidates=3, cv=3, random_state=0).fit(*iris)
    runs = finished_runs()
    assert sorted(r.info.run_name for r in runs) == ["HalvingGridSearchCV", "HalvingRandomSearchCV"]
    for run in runs:
        assert "best_max_depth" in run.data.params and "best_cv_score" in run.data.metrics


def test_max_tuning_runs_must_not_be_negative():
    with pytest.raises(autolog.InvalidInputError):
        autolog.sklearn.autolog(max_tuning_runs=-1)


# -- post-training metrics ------------------------------------------------------------------------

def test_post_training_metrics_go_to_the_fit_run(iris):
    X, y = iris
    X_train, y_train, X_test, y_test = X[::2], y[::2], X[1::2], y[1::2]
    autolog.sklearn.autolog()
    model = LogisticRegression(max_iter=300).fit(X_train, y_train)
    y_pred = model.predict(X_test)
    acc = metrics.accuracy_score(y_test, y_pred)
    metrics.accuracy_score(y_test, y_pred, normalize=False)
    f1 = metrics.f1_score(y_test, y_pred, average="macro")
    score = model.score(X_test, y_test)
    X_test = X_test[:40].copy()  # another object under the same name
    y_pred_2 = model.predict(X_test)
    acc2 = metrics.accuracy_score(y_test[:40], y_pred_2)
    with autolog.start_run() as user_run:  # the fit's run gets them, not the active one
        metrics.r2_score(y_test[:40], y_pred_2)
    fit_run = next(r for r in finished_runs() if r.info.run_id != user_run.info.run_id)
    m = fit_run.data.metrics
    assert m["accuracy_score_X_test"] == pytest.approx(acc)
    assert m["accuracy_score-2_X_test"] == pytest.approx(acc * len(y_test))
    assert m["f1_score_X_test"] == pytest.approx(f1)
    assert m["LogisticRegression_score_X_test"] == pytest.approx(score)
    assert m["accuracy_score-3_X_test-2"] == pytest.approx(acc2)
    assert "r2_score_X_test-2" in m
    assert autolog.get_run(user_run.info.run_id).data.metrics == {}
    info = json.loads(read_artifact(fit_run, "metric_info.json"))
    assert info["accuracy_score_X_test"] == "accuracy_score(y_true=y_test, y_pred=y_pred)"
    assert info["accuracy_score-2_X_test"] == "accuracy_score(y_true=y_test, y_pred=y_pred, normalize=False)"
    assert info["LogisticRegression_score_X_test"] == "LogisticRegression.score(X=X_test, y=y_test)"
    contexts = sorted(d.context for d in fit_run.inputs)
    assert contexts == ["eval", "eval", "train"]


def test_post_training_metrics_can_be_turned_off(iris):
    X, y = iris
    autolog.sklearn.autolog(log_post_training_metrics=False)
    model = LogisticRegression(max_iter=300).fit(X, y)
    metrics.accuracy_score(y, model.predict(X))
    model.score(X, y)
    assert not any(k.endswith("_X") for k in only_run().data.metrics)


def test_autolog_sets_no_attribute_on_the_estimator(iris):
    X, y = iris
    plain = LogisticRegression(max_iter=300).fit(X, y)
    autolog.sklearn.autolog()
    logged = LogisticRegression(max_iter=300).fit(X, y)
    logged.predict(X)
    assert vars(logged).keys() == vars(plain).keys()
    assert pickle.dumps(logged) == pickle.dumps(plain)


def test_patched_metric_functions_pickle_as_themselves(tmp_path):
    autolog.sklearn.autolog()
    assert _patch.is_patched(metrics, "r2_score")
    data = pickle.dumps(metrics.r2_score)
    assert pickle.loads(data) is metrics.r2_score
    path = tmp_path / "r2.pkl"
    path.write_bytes(data)
    out = run_python(
        "import pickle, sys, sklearn.metrics as m\n"
        f"fn = pickle.loads(open({str(path)!r}, 'rb').read())\n"
        "print(fn is m.r2_score, 'autolog' in sys.modules)\n")
    assert out.split() == ["True", "False"]


# -- threads and processes ------------------------------------------------------------------------

def test_four_threads_fitting_at_once_get_four_runs(iris):
    X, y = iris
    autolog.sklearn.autolog(log_models=False)
    errors = []
    barrier = threading.Barrier(4)

    def work(c):
        try:
            barrier.wait()
            Pipeline([("s", StandardScaler()), ("clf", LogisticRegression(C=c, max_iter=200))]).fit(X, y)
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(c,)) for c in (0.1, 0.2, 0.3, 0.4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    runs = finished_runs()
    assert sorted(r.data.params["clf__C"] for r in runs) == ["0.1", "0.2", "0.3", "0.4"]
    assert all(r.info.status == "FINISHED" for r in runs)


def test_threading_backend_search_logs_one_parent(iris):
    import joblib

    autolog.sklearn.autolog(log_models=False, max_tuning_runs=0)
    with joblib.parallel_backend("threading", n_jobs=2):
        GridSearchCV(DecisionTreeClassifier(random_state=0), {"max_depth": [1, 2, 3]}, cv=3,
                     n_jobs=2).fit(*iris)
        ms.cross_val_score(DecisionTreeClassifier(random_state=0), *iris, cv=3, n_jobs=2)
    assert sorted(r.info.run_name for r in finished_runs()) == ["DecisionTreeClassifier", "GridSearchCV"]


# -- every estimator -----------------------------------------------------------------------------

def _instances():
    from sklearn.utils import all_estimators

    for name, cls in all_estimators():
        if name in ("IsotonicRegression", "FrozenEstimator"):
            continue  # 1-d input only / wraps an already fitted estimator
        try:
            tags = cls().__sklearn_tags__()
        except Exception:  # noqa: BLE001
            continue  # needs a constructor argument (meta-estimators): covered elsewhere
        inputs = tags.input_tags
        if (not inputs.two_d_array or inputs.pairwise or inputs.string or inputs.dict
                or inputs.categorical or not tags.target_tags.single_output):
            continue
        yield name, cls


def _kind(est):
    from sklearn.base import is_classifier, is_regressor

    return "classifier" if is_classifier(est) else "regressor" if is_regressor(est) else "other"


def _fit_and_output(cls, X, y):
    est = cls()
    if "random_state" in est.get_params():
        est.set_params(random_state=0)
    if not hasattr(est, "predict") and not hasattr(est, "transform") and hasattr(est, "fit_predict"):
        return est.fit_predict(X)
    est.fit(X, y)
    for method in ("predict", "transform"):
        if hasattr(est, method):
            out = getattr(est, method)(X)
            return out.toarray() if hasattr(out, "toarray") else out
    return None


EXCLUDED = ("sklearn.preprocessing", "sklearn.impute", "sklearn.feature_extraction",
            "sklearn.feature_selection")


def test_every_estimator_logs_one_run_and_predicts_the_same(monkeypatch):
    from autolog.integrations.sklearn import fit as _sklearn_fit

    # Files (plots, estimator.html) are covered above; skipping them keeps this test fast.
    for step in ("log_plots", "log_feature_importance", "log_estimator_html"):
        monkeypatch.setattr(_sklearn_fit, step, lambda call: None)
    rng = np.random.default_rng(0)
    X = rng.random((24, 4)) + 0.1  # positive, for the estimators that need it
    targets = {"classifier": np.array([0, 1, 2] * 8), "other": np.array([0, 1, 2] * 8),
               "regressor": X @ np.array([1.0, -2.0, 0.5, 0.0]) + rng.normal(0, 0.01, 24)}
    plain = {}
    with warnings.catch_warnings():
        # tiny data: convergence, deprecation and numerical warnings from scikit-learn itself
        warnings.simplefilter("ignore")
        classes = dict(_instances())
        for name, cls in classes.items():
            try:
                plain[name] = _fit_and_output(cls, X, targets[_kind(cls())])
            except Exception:  # noqa: BLE001 - needs special inputs: not for this test
                continue
        autolog.sklearn.autolog(log_models=False, log_datasets=False)
        warnings.simplefilter("error", autolog.AutologWarning)
        for name, cls in classes.items():
            if name in plain:
                logged = _fit_and_output(cls, X, targets[_kind(cls())])
                if plain[name] is not None:
                    np.testing.assert_allclose(np.asarray(logged, dtype=float),
                                               np.asarray(plain[name], dtype=float),
                                               rtol=1e-6, atol=1e-8, err_msg=name)
    runs = finished_runs()
    names = [r.info.run_name for r in runs]
    for name in plain:
        if classes[name].__module__.startswith(EXCLUDED):
            assert name not in names
            continue
        assert names.count(name) == 1, name
        run = next(r for r in runs if r.info.run_name == name)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # deprecated estimators warn when constructed
            params = classes[name]().get_params(deep=True)
        if "random_state" in params:
            params["random_state"] = 0
        assert run.data.params == {k: str(v) for k, v in params.items()}, name
    assert len(plain) > 120, len(plain)


# -- examples ------------------------------------------------------------------------------------

def _run_example(script, tmp_path):
    store = tmp_path / "example-runs"
    env = {**os.environ, "AUTOLOG_TRACKING_URI": str(store), "MPLBACKEND": "Agg",
           "AUTOLOG_STRICT": "1", "PYTHONPATH": ROOT}
    proc = subprocess.run([sys.executable, os.path.join(ROOT, "examples", script)],
                          capture_output=True, text=True, env=env, cwd=tmp_path, timeout=180)
    assert proc.returncode == 0, proc.stderr
    autolog.set_tracking_uri(str(store))
    return autolog.search_runs(output_format="list")


def test_example_gridsearch(tmp_path):
    runs = _run_example("sklearn_autolog_gridsearch.py", tmp_path)
    parent = next(r for r in runs if "autolog.parentRunId" not in r.data.tags)
    assert parent.data.tags["estimator_name"] == "GridSearchCV"
    assert "best_n_estimators" in parent.data.params and "best_cv_score" in parent.data.metrics
    assert {"cv_results.csv", "best_estimator", "model", "training_roc_curve.png"} <= artifact_paths(
        parent.info.run_id)
    assert len(runs) == 1 + 4
    assert any(k.startswith("accuracy_score_X_test") for k in parent.data.metrics)


def test_example_pipeline_column_transformer(tmp_path):
    runs = _run_example("sklearn_pipeline_columntransformer.py", tmp_path)
    (run,) = runs
    assert run.data.tags["estimator_name"] == "Pipeline"
    assert run.inputs[0].columns is not None
    assert "Pipeline_score_X_test" in run.data.metrics
    importance = json.loads(read_artifact(run, "feature_importance.json"))
    assert any(name.startswith("num__") for name in importance)
    model = autolog.sklearn.load_model(f"runs:/{run.info.run_id}/model")
    assert type(model).__name__ == "Pipeline"


def test_two_fits_in_one_user_run(iris):
    autolog.sklearn.autolog()
    with autolog.start_run() as run:
        LogisticRegression(max_iter=300, C=1.0).fit(*iris)
        LogisticRegression(max_iter=300, C=2.0).fit(*iris)
    (logged,) = finished_runs()
    assert logged.info.run_id == run.info.run_id
    assert logged.data.params["C"] == "1.0"  # the first value stays; no error
    assert {"model", "model-2"} <= artifact_paths(run.info.run_id)
