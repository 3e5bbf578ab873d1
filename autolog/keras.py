"""``import autolog.keras`` gives the integration module, as ``import mlflow.keras`` does."""

import sys

import autolog.integrations.keras as _integration

sys.modules[__name__] = _integration
