"""Render the report kinds of plot spec: text computed on read from the run's saved model.

A statsmodels ``summary()`` costs more than the fit it describes (8 ms for a 2 ms OLS), and its
coefficient table (standard errors, p-values, intervals) most of a millisecond; both are
computed entirely from the fitted results, which the run already saves as its model. So at fit
time the integration records only a ``model_summary`` or ``model_coefficients`` spec naming the
model folder; the first read of ``model_summary.txt`` or ``coefficients.csv`` loads that model
and renders the report, and the repository caches the text beside the spec like a drawn picture.
"""

from __future__ import annotations

from typing import Any, Mapping

from autolog.errors import NotFoundError, PlotError
from autolog.store.artifacts import ArtifactRepository

_SUFFIXES = {"model_summary": ".txt", "model_coefficients": ".csv"}


def render(spec: Mapping[str, Any], artifact_file: str, repo: ArtifactRepository) -> bytes:
    """The report for ``artifact_file`` as UTF-8 text, from the model in ``repo`` that the spec
    names (its path relative to the folder of ``artifact_file``).

    Raises:
        PlotError: the model is missing, of another flavor, or has no usable ``summary()``.
        ImportError: the model's framework is not installed (the message names the extra).
    """
    kind = spec.get("kind")
    if kind not in _SUFFIXES:
        raise PlotError(f"Cannot render {artifact_file!r}: {kind!r} is not a report kind.")
    if not artifact_file.lower().endswith(_SUFFIXES[kind]):
        raise PlotError(f"Cannot render {artifact_file!r}: a {kind} report is a "
                        f"{_SUFFIXES[kind]} file.")
    # The model path is relative to the spec's folder: a repository rooted above the run (the
    # server's artifact proxy) sees the same run layout one level down.
    folder = artifact_file.rpartition("/")[0]
    model_path = f"{folder}/{spec['model']}" if folder else str(spec["model"])
    flavor = str(spec["flavor"])
    model = _load(repo, model_path, flavor, artifact_file)
    if kind == "model_coefficients":
        return _coefficients(model, flavor, artifact_file)
    summary = getattr(model, "summary", None)
    if not callable(summary):
        raise PlotError(f"Cannot render {artifact_file!r}: the model has no summary().")
    try:
        rendered = summary()
        text = str(rendered.as_text() if hasattr(rendered, "as_text") else rendered)
    except Exception as exc:  # noqa: BLE001 - a framework error becomes ours, chained
        raise PlotError(f"Rendering {artifact_file!r} failed: {exc!r}") from exc
    return text.encode("utf-8")


def _coefficients(model: Any, flavor: str, artifact_file: str) -> bytes:
    from autolog import models

    # The flavor knows its models' coefficient table (statsmodels' today): the plots package
    # imports no integration.
    table = models.get_flavor(flavor).coefficients
    if table is None:
        raise PlotError(f"Cannot render {artifact_file!r}: no coefficient table for {flavor!r} models.")
    try:
        text = table(model)
    except Exception as exc:  # noqa: BLE001 - a framework error becomes ours, chained
        raise PlotError(f"Rendering {artifact_file!r} failed: {exc!r}") from exc
    if text is None:
        raise PlotError(f"Cannot render {artifact_file!r}: the model has no coefficients.")
    return text.encode("utf-8")


def _load(repo: ArtifactRepository, model_path: str, flavor: str, artifact_file: str) -> Any:
    import json
    import tempfile

    from autolog import models

    try:
        meta = json.loads(repo.read_bytes(f"{model_path}/{models.META_FILE}"))
    except NotFoundError as exc:
        raise PlotError(f"Cannot render {artifact_file!r}: the run has no model at "
                        f"{model_path!r} to summarise.") from exc
    if meta.get("flavor") != flavor:
        raise PlotError(f"Cannot render {artifact_file!r}: the model at {model_path!r} is a "
                        f"{meta.get('flavor')!r} model, not {flavor!r} (replaced since?).")
    try:
        local = repo.local_path(model_path)
        if local is not None:
            return models.load_model(local)
        # A remote store: the model is downloaded for this one read, then removed.
        with tempfile.TemporaryDirectory(prefix="autolog-report-") as scratch:
            return models.load_model(repo.download(model_path, scratch))
    except ImportError as exc:
        # A framework that its distribution metadata claims but that cannot be imported (or
        # none at all): say which extra brings it.
        from autolog.errors import missing_dependency

        raise missing_dependency(flavor, models._extra_for(flavor)) from exc
