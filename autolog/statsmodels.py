"""``import autolog.statsmodels`` gives the integration module, as ``import mlflow.statsmodels`` does."""

import sys

from autolog.integrations import statsmodels as _integration

sys.modules[__name__] = _integration
