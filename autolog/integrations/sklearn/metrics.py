"""Training metrics computed with plain numpy, equal to ``sklearn.metrics``' but much cheaper.

Why not call ``sklearn.metrics``: each of its functions re-validates its inputs, and the
classifier set MLflow logs (accuracy, weighted precision/recall/F1, log loss, one-vs-one ROC
AUC) costs about 12 ms on iris, more than the fit itself. Here one confusion matrix gives
accuracy, precision, recall and F1; one sort per class pair gives the ROC AUC; the numbers for
the plots come out of the same passes. ``tests/integrations/test_sklearn.py`` checks every
value against ``sklearn.metrics``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import combinations
from typing import Any

import numpy as np


@dataclass
class ClassifierReport:
    """The numbers a classifier fit records: metrics, and what the plots are drawn from."""

    metrics: dict[str, float] = field(default_factory=dict)
    labels: list[Any] = field(default_factory=list)
    confusion: Any = None          # counts, rows = true label, columns = predicted label
    roc: tuple[Any, Any] | None = None        # (fpr, tpr), binary targets only
    pr: tuple[Any, Any] | None = None         # (recall, precision), binary targets only


def _weights(sample_weight: Any, n: int) -> Any:
    if sample_weight is None:
        return None
    w = np.asarray(sample_weight, dtype=np.float64).reshape(-1)
    return w if w.shape[0] == n else None


def _ravel(y: Any) -> Any:
    arr = np.asarray(y)
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    return arr


def _binary_curve(truth: Any, score: Any, weight: Any) -> tuple[Any, Any]:
    """Cumulative (false positives, true positives) at each distinct threshold, high to low:
    scikit-learn's ``_binary_clf_curve``. (Plain ufuncs, no ``np.r_``/``np.diff``: on the
    small arrays of a training set their Python overhead is most of the cost.)"""
    order = np.argsort(score, kind="mergesort")[::-1]
    score = score[order]
    truth = truth[order].astype(np.float64)
    ends = np.flatnonzero(score[1:] != score[:-1])
    ends = np.append(ends, truth.size - 1)
    if weight is None:
        tps = np.cumsum(truth)[ends]
        fps = (ends + 1.0) - tps  # counts: exact, as the cumulative sum of 1 - truth
    else:
        w = weight[order]
        tps = np.cumsum(truth * w)[ends]
        fps = np.cumsum((1.0 - truth) * w)[ends]
    return fps, tps


def _from_zero(values: Any) -> Any:
    out = np.empty(values.shape[0] + 1)
    out[0] = 0.0
    out[1:] = values
    return out


def _auc(truth: Any, score: Any, weight: Any = None) -> tuple[float, Any, Any]:
    fps, tps = _binary_curve(truth, score, weight)
    tps = _from_zero(tps)
    fps = _from_zero(fps)
    if fps[-1] <= 0 or tps[-1] <= 0:
        return float("nan"), fps, tps
    fpr, tpr = fps / fps[-1], tps / tps[-1]
    # The trapezoidal rule, as sklearn.metrics.auc (np.trapz was renamed across numpy versions).
    area = float(((fpr[1:] - fpr[:-1]) * (tpr[1:] + tpr[:-1])).sum() / 2)
    return area, fpr, tpr


def _precision_recall(truth: Any, score: Any, weight: Any) -> tuple[Any, Any]:
    fps, tps = _binary_curve(truth, score, weight)
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(tps + fps > 0, tps / (tps + fps), 1.0)
    recall = tps / tps[-1] if tps[-1] > 0 else np.ones_like(tps)
    # scikit-learn's order: recall decreasing, ending at (recall 0, precision 1).
    return np.r_[recall[::-1], 0.0], np.r_[precision[::-1], 1.0]


def classifier(y: Any, pred: Any, proba: Any = None, classes: Any = None,
               sample_weight: Any = None, pos_label: Any = None, curves: bool = True) -> ClassifierReport:
    """MLflow's ``training_*`` classifier metrics and the confusion matrix / ROC / PR numbers.

    Precision, recall and F1 are support-weighted averages (``average="weighted"``), or of
    ``pos_label`` alone when it is given (``average="binary"``); undefined ratios count as 0.
    """
    report = ClassifierReport()
    y, pred = _ravel(y), _ravel(pred)
    if y.ndim != 1 or pred.ndim != 1 or y.shape[0] != pred.shape[0]:
        return report  # multilabel / multioutput targets: no single-label metrics
    n = y.shape[0]
    w = _weights(sample_weight, n)
    labels, codes = np.unique(np.concatenate([y, pred]), return_inverse=True)
    n_labels = labels.shape[0]
    yi, pi = codes[:n], codes[n:]
    cm = np.bincount(yi * n_labels + pi, weights=w, minlength=n_labels * n_labels)
    cm = cm.reshape(n_labels, n_labels).astype(np.float64)
    total = cm.sum()
    tp = np.diag(cm)
    predicted = cm.sum(axis=0)
    support = cm.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(predicted > 0, tp / predicted, 0.0)
        recall = np.where(support > 0, tp / support, 0.0)
        denom = 2 * tp + (predicted - tp) + (support - tp)
        f1 = np.where(denom > 0, 2 * tp / denom, 0.0)
    m = report.metrics
    m["training_accuracy_score"] = float(tp.sum() / total) if total > 0 else float("nan")
    if pos_label is not None and pos_label in set(labels.tolist()):
        k = labels.tolist().index(pos_label)
        m["training_precision_score"] = float(precision[k])
        m["training_recall_score"] = float(recall[k])
        m["training_f1_score"] = float(f1[k])
    elif support.sum() > 0:
        m["training_precision_score"] = float(np.average(precision, weights=support))
        m["training_recall_score"] = float(np.average(recall, weights=support))
        m["training_f1_score"] = float(np.average(f1, weights=support))
    report.labels = labels.tolist()
    report.confusion = cm
    if proba is None or classes is None:
        return report
    proba = np.asarray(proba, dtype=np.float64)
    classes = np.asarray(classes)
    if proba.ndim != 2 or proba.shape != (n, classes.shape[0]):
        return report
    column = {c: i for i, c in enumerate(classes.tolist())}
    try:
        true_col = np.fromiter((column[v] for v in y.tolist()), dtype=np.int64, count=n)
    except KeyError:
        return report  # a label the model never saw: log loss is undefined
    eps = np.finfo(proba.dtype).eps
    picked = np.clip(proba[np.arange(n), true_col], eps, 1 - eps)
    m["training_log_loss"] = float(np.average(-np.log(picked), weights=w))
    present = np.unique(true_col)
    if classes.shape[0] == 2 and present.shape[0] == 2:
        truth = true_col == 1
        auc, fpr, tpr = _auc(truth, proba[:, 1], w)
        m["training_roc_auc"] = auc
        if curves:
            report.roc = (fpr, tpr)
            report.pr = _precision_recall(truth, proba[:, 1], w)
    elif classes.shape[0] > 2 and present.shape[0] == classes.shape[0] and w is None:
        m["training_roc_auc"] = _ovo_weighted_auc(true_col, proba, present)
    return report


def _ovo_weighted_auc(true_col: Any, proba: Any, present: Any) -> float:
    """``roc_auc_score(multi_class="ovo", average="weighted")``: the mean over class pairs of
    the two one-against-the-other AUCs, weighted by the pair's share of samples."""
    scores, weights = [], []
    for a, b in combinations(present.tolist(), 2):
        a_mask = true_col == a
        ab = a_mask | (true_col == b)
        a_true = a_mask[ab]
        auc_a = _auc(a_true, proba[ab, a])[0]
        auc_b = _auc(~a_true, proba[ab, b])[0]
        scores.append((auc_a + auc_b) / 2)
        weights.append(ab.mean())
    return float(np.average(scores, weights=weights))


def regressor(y: Any, pred: Any, sample_weight: Any = None) -> dict[str, float]:
    """MLflow's ``training_*`` regressor metrics (outputs averaged uniformly)."""
    y = np.asarray(y, dtype=np.float64)
    pred = np.asarray(pred, dtype=np.float64)
    if y.ndim == 1:
        y = y.reshape(-1, 1)
    if pred.ndim == 1:
        pred = pred.reshape(-1, 1)
    if y.shape != pred.shape:
        return {}
    w = _weights(sample_weight, y.shape[0])
    err = y - pred
    mse = np.average(err ** 2, axis=0, weights=w)
    mae = np.average(np.abs(err), axis=0, weights=w)
    ww = np.ones(y.shape[0]) if w is None else w
    numerator = (ww[:, None] * err ** 2).sum(axis=0)
    centred = y - np.average(y, axis=0, weights=w)
    denominator = (ww[:, None] * centred ** 2).sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        r2 = np.where(denominator != 0, 1 - numerator / denominator,
                      np.where(numerator == 0, 1.0, 0.0))
    mean_mse = float(np.mean(mse))
    return {
        "training_mean_squared_error": mean_mse,
        "training_root_mean_squared_error": float(np.sqrt(mean_mse)),
        "training_mean_absolute_error": float(np.mean(mae)),
        "training_r2_score": float(np.mean(r2)),
    }


def clusterer(X: Any, labels: Any, sample_size: int = 1000) -> dict[str, float]:
    """Silhouette (on a fixed sample of at most ``sample_size`` rows), Calinski-Harabasz and
    Davies-Bouldin scores; empty when there are fewer than 2 clusters or as many as rows."""
    from sklearn import metrics

    labels = np.asarray(labels).reshape(-1)
    n = labels.shape[0]
    if n != getattr(X, "shape", (len(X),))[0]:
        return {}  # labels of features (FeatureAgglomeration), not of samples
    n_clusters = np.unique(labels).shape[0]
    if n_clusters < 2 or n_clusters >= n:
        return {}
    out: dict[str, float] = {}
    size = sample_size if n > sample_size else None
    out["training_silhouette_score"] = float(
        metrics.silhouette_score(X, labels, sample_size=size, random_state=0))
    if not hasattr(X, "tocsr"):  # the two others need dense input
        out["training_calinski_harabasz_score"] = float(metrics.calinski_harabasz_score(X, labels))
        out["training_davies_bouldin_score"] = float(metrics.davies_bouldin_score(X, labels))
    return out
