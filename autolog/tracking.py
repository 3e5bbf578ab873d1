"""MLflow's ``mlflow.tracking`` names: ``from autolog.tracking import MlflowClient`` works."""

from __future__ import annotations

from autolog.client import Client

MlflowClient = Client

__all__ = ["Client", "MlflowClient"]
