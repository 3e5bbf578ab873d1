"""Drawing functions for the classifier plots: each takes numbers computed at fit time and
returns a ``draw(figure)`` for :func:`autolog.integrations._common.render_figure`, which runs it
on the writer thread with matplotlib's object API (never ``pyplot``)."""

from __future__ import annotations

from typing import Any, Callable


def confusion_matrix(labels: list[Any], counts: Any) -> Callable[[Any], None]:
    """Normalised by true label (each row sums to 1), blue scale, as MLflow draws it."""
    import numpy as np

    counts = np.asarray(counts, dtype=np.float64)
    totals = counts.sum(axis=1, keepdims=True)
    normalised = np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0)
    names = [str(label) for label in labels]

    def draw(figure: Any) -> None:
        ax = figure.add_subplot(1, 1, 1)
        image = ax.imshow(normalised, cmap="Blues", vmin=0.0, vmax=1.0)
        figure.colorbar(image, ax=ax)
        ticks = list(range(len(names)))
        ax.set_xticks(ticks, names, rotation=45 if len(names) > 6 else 0)
        ax.set_yticks(ticks, names)
        if len(names) <= 20:
            for i in ticks:
                for j in ticks:
                    value = normalised[i, j]
                    ax.text(j, i, f"{value:.2f}", ha="center", va="center",
                            color="white" if value > 0.5 else "black", fontsize=8)
        ax.set_xlabel("Predicted label")
        ax.set_ylabel("True label")
        ax.set_title("Training confusion matrix (normalised)")

    return draw


def roc_curve(fpr: Any, tpr: Any) -> Callable[[Any], None]:
    import numpy as np

    fpr, tpr = np.asarray(fpr), np.asarray(tpr)
    area = float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2)) if fpr.size > 1 else float("nan")

    def draw(figure: Any) -> None:
        ax = figure.add_subplot(1, 1, 1)
        ax.plot(fpr, tpr, label=f"ROC curve (AUC = {area:.3f})")
        ax.plot([0, 1], [0, 1], linestyle="--", color="grey", linewidth=0.8)
        ax.set_xlabel("False positive rate")
        ax.set_ylabel("True positive rate")
        ax.set_title("Training ROC curve")
        ax.legend(loc="lower right")

    return draw


def precision_recall_curve(recall: Any, precision: Any) -> Callable[[Any], None]:
    def draw(figure: Any) -> None:
        ax = figure.add_subplot(1, 1, 1)
        ax.step(recall, precision, where="post")
        ax.set_xlabel("Recall")
        ax.set_ylabel("Precision")
        ax.set_xlim(0, 1.01)
        ax.set_ylim(0, 1.05)
        ax.set_title("Training precision-recall curve")

    return draw
