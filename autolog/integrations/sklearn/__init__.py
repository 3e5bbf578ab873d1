"""scikit-learn integration: every fit records itself, as ``mlflow.sklearn.autolog()`` does.

What a fit records (MLflow's names): params (``get_params(deep=True)``; a search's own params
with ``deep=False`` plus ``best_<param>``), tags ``estimator_name``/``estimator_class``,
``training_*`` metrics, ``training_confusion_matrix.png`` (and ROC / precision-recall curves
for binary targets), ``estimator.html``, ``feature_importance.json`` and its chart (pictures
are recorded as plot specs and drawn on first read, see ``plots=``), the model as
``model`` with its signature, and the training data's fingerprint. Clusterers log silhouette,
Calinski-Harabasz and Davies-Bouldin scores. Searches add ``best_cv_score``,
``cv_results.csv``, ``best_estimator`` and a child run per top candidate. The
cross-validation functions give one run with per-fold metrics. ``sklearn.metrics`` calls on a
fitted model's predictions, and ``model.score``, are logged into the run of the model's fit.

The framework is imported only by :func:`apply`, when the user imports ``sklearn``; the patches
themselves are placed by :mod:`.patching`, what they log is in :mod:`.fit`,
:mod:`.search` and :mod:`.post_training`.

Limitations:

* Functions are patched in their modules: a function imported by name *before* autolog is
  enabled (``from sklearn.metrics import accuracy_score`` above ``autolog()``) is the
  original, so its calls are not logged (as with MLflow). Call it through the module
  (``metrics.accuracy_score``) or enable autolog first. Classes have no such limitation.
* With joblib's *threading* backend, tasks dispatched by scikit-learn's own ``Parallel``
  inside a logged call run as nested calls (no extra runs); work dispatched inside a fit with
  ``joblib.delayed`` directly (not ``sklearn.utils.parallel.delayed``) cannot be recognised,
  and fits in those worker threads would log runs of their own. Process backends (loky, the
  default) never import autolog in the workers.
* With ``exclusive=True``, metrics computed while a user's run is active are not logged, even
  for a model fitted in its own run.
* Post-training metrics need the prediction object itself: a copy or slice of ``y_pred`` is
  not recognised. At most 10 evaluation datasets are recorded per run.
"""

from __future__ import annotations

from typing import Any

from autolog.integrations import configure
from autolog.models._pickle import pickle_flavor
from autolog.models import flavor_functions

NAME = "sklearn"
FLAVOR = pickle_flavor(NAME, ("scikit-learn",))


def autolog(*, disable: bool = False, exclusive: bool = False, silent: bool = False,
            log_models: bool = True, log_input_examples: bool = False,
            log_model_signatures: bool = True, log_datasets: bool = True,
            log_post_training_metrics: bool = True, max_tuning_runs: int | None = 5,
            extra_tags: dict[str, str] | None = None,
            disable_for_unsupported_versions: bool = False,
            log_training_metrics: bool = True, pos_label: Any = None,
            plots: str | bool = "lazy") -> None:
    """Enable (or disable) autologging of scikit-learn fits.

    Settings are read at call time, so calling this again changes what already-patched
    methods do; flags not passed return to their defaults.

    Args:
        disable: turn the integration off and restore the original methods.
        exclusive: log nothing into runs the user started.
        silent: no warnings from autolog's own failures (they still go to the log).
        log_models: log the fitted estimator as ``model`` (and a search's ``best_estimator``).
        log_input_examples: store the first five training rows with the model.
        log_model_signatures: infer the model's signature from ``X[:5]`` and its prediction.
        log_datasets: record the training (and evaluation) data's fingerprint.
        log_post_training_metrics: log ``sklearn.metrics`` calls on the model's predictions
            and ``model.score(...)`` into the fit's run.
        max_tuning_runs: how many of a search's best candidates become child runs (``None``:
            all of them; ``0``: none).
        extra_tags: tags added to every run autolog creates.
        disable_for_unsupported_versions: stay off outside the tested scikit-learn versions.
        log_training_metrics: compute ``training_*`` metrics and the classifier plots (the
            extra predictions on the training data are the costliest part of autologging).
        pos_label: for binary classifiers, report precision/recall/F1 of this label instead
            of the support-weighted average (MLflow's ``pos_label``).
        plots: ``"lazy"`` records the confusion matrix, ROC and precision-recall curves,
            feature importance chart and ``estimator.html`` as plot specs, drawn when first
            read; ``"eager"`` also draws them on the writer thread; ``False`` records none.

    Raises:
        InvalidInputError: ``max_tuning_runs`` is negative, or ``plots`` is not one of the above.
    """
    if max_tuning_runs is not None and max_tuning_runs < 0:
        from autolog.errors import InvalidInputError

        raise InvalidInputError("max_tuning_runs must be None or >= 0.")
    from autolog.plots import check_mode

    plots = check_mode(plots)
    configure(NAME, dict(locals()))


def apply(module: Any) -> None:
    """Install the scikit-learn patches; called when ``sklearn`` is imported (or at once).

    Only hooks are set here: each submodule is patched when it is imported.
    """
    from autolog.integrations.sklearn import patching as _sklearn_patching

    _sklearn_patching.install(module)


log_model, load_model = flavor_functions(NAME, "scikit-learn")
