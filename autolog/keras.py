"""``import autolog.keras`` gives the integration module, as ``import mlflow.keras`` does."""

import sys

from autolog.integrations import keras as _integration

sys.modules[__name__] = _integration
