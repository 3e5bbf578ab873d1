"""The bridge to MLflow stores: ``autolog import-mlflow SOURCE`` and ``autolog export-mlflow DEST``.

Sources: an MLflow database (``sqlite:///mlflow.db``, ``postgresql://...``), an ``mlruns``
folder (a path or ``file://``), or a tracking server (``http(s)://``). Destinations: an
``mlruns`` folder. Experiments are matched by name, run ids are kept, and a run already at the
destination is skipped, so running either command twice copies nothing twice. The source is
read and checked before anything is written: a damaged or foreign store leaves the
destination untouched. Tags MLflow and autolog name differently are renamed
(:mod:`autolog.bridge._records`), and params and tags whose key names a secret are masked.
"""

from __future__ import annotations

from typing import Any, Callable

from autolog.bridge._copy import Summary, export_mlflow, import_mlflow, open_source

__all__ = ["Summary", "export_mlflow", "import_mlflow", "open_source"]

Progress = Callable[[Any], None]
