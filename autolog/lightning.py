"""``import autolog.lightning`` gives the integration module, as ``import mlflow.lightning`` does."""

import sys

import autolog.integrations.lightning as _integration

sys.modules[__name__] = _integration
