"""Runs the browser tests need beyond the tutorial's examples: a drawn confusion matrix (a plot
spec), ROC curves and importance bars, an HTML artifact, a long metric, and hostile names, tags
and files. Run as a script with $AUTOLOG_TRACKING_URI set (tests/ui/conftest.py does)."""

from __future__ import annotations

import json
import math

import autolog

HOSTILE = '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2">'
HOSTILE_FILE = '<img src=x onerror="window.__pwned = 5">.txt'
JS_LINK = "javascript:window.__pwned = 3"

autolog.set_experiment("ui_showcase")
with autolog.start_run(run_name="plots_and_files"):
    autolog.log_params({"model": "forest", "depth": 4})
    for step in range(2000):
        autolog.log_metric("loss", 1.0 / (1 + step) + 0.01 * math.sin(step), step=step)
    autolog.log_metric("accuracy", 0.91)
    autolog.log_text(json.dumps({
        "format": "autolog.plot/1", "kind": "confusion_matrix", "title": "Confusion matrix",
        "x_label": "Predicted label", "y_label": "True label",
        "labels": ["setosa", "versicolor", "virginica"],
        "matrix": [[10, 0, 0], [0, 8, 1], [0, 2, 9]],
    }), "training_confusion_matrix.png.plotspec.json")
    autolog.log_text(json.dumps({
        "format": "autolog.plot/1", "kind": "curves", "title": "ROC curve",
        "x_label": "False positive rate", "y_label": "True positive rate", "diagonal": True,
        "series": [{"name": "class 0 (AUC 0.98)", "x": [0, 0.02, 0.1, 1], "y": [0, 0.9, 0.97, 1]}],
    }), "training_roc_curve.png.plotspec.json")
    autolog.log_text(json.dumps({
        "format": "autolog.plot/1", "kind": "bars", "title": "Feature importance",
        "x_label": "importance", "y_label": "feature", "orientation": "horizontal",
        "labels": ["petal length", "petal width", "sepal length"], "values": [0.45, 0.4, 0.15],
    }), "feature_importance.png.plotspec.json")
    autolog.log_text("a,b,label\n1,2,x\n3,4,<b>y</b>\n", "tables/sample.csv")
    autolog.log_text("<html><body><h1 id='h'>report</h1><script>parent.__pwned = 4</script>"
                     "</body></html>", "report.html")
    autolog.log_text("hello", HOSTILE_FILE)

with autolog.start_run(run_name=HOSTILE):
    autolog.set_tag("homepage", JS_LINK)
    autolog.set_tag("note", HOSTILE)
    autolog.log_param("payload", HOSTILE)
    autolog.log_metric("accuracy", 0.5)
    autolog.set_tag("mlflow.note.content", HOSTILE)
print("seeded")
