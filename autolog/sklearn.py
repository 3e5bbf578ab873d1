"""``import autolog.sklearn`` gives the integration module, as ``import mlflow.sklearn`` does."""

import sys

import autolog.integrations.sklearn as _integration

sys.modules[__name__] = _integration
