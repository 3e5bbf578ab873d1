"""autolog: one line, ``from autolog import autolog; autolog()``, and every fit records itself.

The tracking API follows MLflow's fluent API (same names, arguments and meaning). Importing
this package imports no ML framework, no pandas and no SQLAlchemy: those load when first used.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from autolog._api import (
    create_experiment,
    delete_experiment,
    delete_tag,
    flush,
    get_artifact_uri,
    get_experiment,
    get_experiment_by_name,
    get_run,
    log_artifact,
    log_artifacts,
    log_dict,
    log_figure,
    log_image,
    log_input,
    log_metric,
    log_metrics,
    log_param,
    log_params,
    log_text,
    search_experiments,
    search_runs,
    set_experiment,
    set_experiment_tag,
    set_tag,
    set_tags,
)
from autolog._runs import ActiveRun, active_run, end_run, last_active_run, start_run
from autolog._tracking import get_tracking_uri, set_tracking_uri
from autolog._version import __version__
from autolog.client import Client
from autolog.entities import RunStatus, ViewType
from autolog.errors import (
    AutologError,
    AutologWarning,
    FilterSyntaxError,
    InvalidInputError,
    NotFoundError,
    ParamConflictError,
    PlotError,
    RunStateError,
    StorageError,
)
from autolog.integrations import autolog

if TYPE_CHECKING:
    from autolog._environment import set_environment_logging
    from autolog._system_metrics import (
        disable_system_metrics_logging,
        enable_system_metrics_logging,
        set_system_metrics_sampling_interval,
    )
    from autolog.models import load_model, log_model

__all__ = [
    "ActiveRun",
    "AutologError",
    "AutologWarning",
    "Client",
    "FilterSyntaxError",
    "InvalidInputError",
    "NotFoundError",
    "ParamConflictError",
    "PlotError",
    "RunStateError",
    "RunStatus",
    "StorageError",
    "ViewType",
    "__version__",
    "active_run",
    "autolog",
    "create_experiment",
    "delete_experiment",
    "delete_tag",
    "disable_system_metrics_logging",
    "enable_system_metrics_logging",
    "end_run",
    "flush",
    "get_artifact_uri",
    "get_experiment",
    "get_experiment_by_name",
    "get_run",
    "get_tracking_uri",
    "last_active_run",
    "load_model",
    "log_artifact",
    "log_artifacts",
    "log_dict",
    "log_figure",
    "log_image",
    "log_input",
    "log_metric",
    "log_metrics",
    "log_model",
    "log_param",
    "log_params",
    "log_text",
    "search_experiments",
    "search_runs",
    "set_experiment",
    "set_environment_logging",
    "set_experiment_tag",
    "set_system_metrics_sampling_interval",
    "set_tag",
    "set_tags",
    "set_tracking_uri",
    "start_run",
]

# ``autolog.sklearn`` etc. after a plain ``import autolog``, as ``mlflow.sklearn`` works; the
# integration module is imported on first access only (it imports no framework either).
_SUBMODULES = {
    "sklearn": "autolog.integrations.sklearn",
    "xgboost": "autolog.integrations.xgboost",
    "lightgbm": "autolog.integrations.lightgbm",
    "statsmodels": "autolog.integrations.statsmodels",
    "torch": "autolog.integrations.torch",
    "pytorch": "autolog.integrations.torch",
    "lightning": "autolog.integrations.lightning",
    "keras": "autolog.integrations.keras",
    "spark": "autolog.integrations.spark",
    "models": "autolog.models",
    "entities": "autolog.entities",
    "tracking": "autolog.tracking",
    "artifacts": "autolog.artifacts",
}


# Model functions load autolog.models (and tempfile, shutil, json) on first use; the system
# metrics and environment switches their modules.
_LAZY_FUNCTIONS = {
    "log_model": "autolog.models", "load_model": "autolog.models",
    "enable_system_metrics_logging": "autolog._system_metrics",
    "disable_system_metrics_logging": "autolog._system_metrics",
    "set_system_metrics_sampling_interval": "autolog._system_metrics",
    "set_environment_logging": "autolog._environment",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY_FUNCTIONS:
        value = getattr(importlib.import_module(_LAZY_FUNCTIONS[name]), name)
        globals()[name] = value
        return value
    target = _SUBMODULES.get(name)
    if target is None:
        raise AttributeError(f"module 'autolog' has no attribute {name!r}")
    module = importlib.import_module(target)
    globals()[name] = module
    return module
