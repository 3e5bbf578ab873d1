"""``import autolog.xgboost`` gives the integration module, as ``import mlflow.xgboost`` does."""

import sys

import autolog.integrations.xgboost as _integration

sys.modules[__name__] = _integration
