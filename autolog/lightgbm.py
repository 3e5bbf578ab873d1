"""``import autolog.lightgbm`` gives the integration module, as ``import mlflow.lightgbm`` does."""

import sys

from autolog.integrations import lightgbm as _integration

sys.modules[__name__] = _integration
