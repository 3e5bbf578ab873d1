"""``import autolog.pytorch`` gives the integration module, as ``import mlflow.pytorch`` does."""

import sys

import autolog.integrations.torch as _integration

sys.modules[__name__] = _integration
