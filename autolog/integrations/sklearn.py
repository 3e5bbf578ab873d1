"""scikit-learn integration (work in progress: flavor and model functions only)."""

from __future__ import annotations

from typing import Any

from autolog.integrations import configure
from autolog.models._pickle import pickle_flavor

NAME = "sklearn"
FLAVOR = pickle_flavor(NAME, ("scikit-learn",))


def autolog(*, disable: bool = False, exclusive: bool = False, silent: bool = False,
            log_models: bool = True, log_input_examples: bool = False,
            log_model_signatures: bool = True, log_datasets: bool = True,
            log_post_training_metrics: bool = True, max_tuning_runs: int | None = 5,
            extra_tags: dict[str, str] | None = None,
            disable_for_unsupported_versions: bool = False) -> None:
    """Enable (or disable) autologging of scikit-learn fits."""
    configure(NAME, dict(locals()))


def apply(module: Any) -> None:
    """Install the scikit-learn patches (called when sklearn is imported)."""


def log_model(model: Any, name: str = "model", input_example: Any = None, signature: Any = None,
              **kwargs: Any) -> Any:
    """Log a scikit-learn model into the active run (``mlflow.sklearn.log_model``)."""
    from autolog.models import log_model as _log_model

    return _log_model(model, name, input_example=input_example, signature=signature,
                      flavor=NAME, **kwargs)


def load_model(model_uri: str, **kwargs: Any) -> Any:
    """Load a logged scikit-learn model (``mlflow.sklearn.load_model``)."""
    from autolog.models import load_model as _load_model

    return _load_model(model_uri, **kwargs)
