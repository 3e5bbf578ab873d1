"""``import autolog.statsmodels`` gives the integration module, as ``import mlflow.statsmodels`` does."""

import sys

import autolog.integrations.statsmodels as _integration

sys.modules[__name__] = _integration
