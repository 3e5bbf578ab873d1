"""``import autolog.torch`` gives the integration module, as ``import mlflow.torch`` does."""

import sys

import autolog.integrations.torch as _integration

sys.modules[__name__] = _integration
