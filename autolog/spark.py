"""``import autolog.spark`` gives the integration module, as ``import mlflow.pyspark.ml`` does."""

import sys

import autolog.integrations.spark as _integration

sys.modules[__name__] = _integration
