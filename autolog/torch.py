"""``import autolog.torch`` gives the integration module, as ``import mlflow.torch`` does."""

import sys

from autolog.integrations import torch as _integration

sys.modules[__name__] = _integration
