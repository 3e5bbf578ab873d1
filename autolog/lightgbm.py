"""``import autolog.lightgbm`` gives the integration module, as ``import mlflow.lightgbm`` does."""

import sys

import autolog.integrations.lightgbm as _integration

sys.modules[__name__] = _integration
