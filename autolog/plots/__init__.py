"""Plots as data: specs recorded at fit time, drawn when someone reads the artifact.

An integration records a picture as a small JSON *plot spec* (``<artifact>.plotspec.json``,
built and checked by :mod:`.spec`); :mod:`.draw` turns a spec into PNG (matplotlib's Agg
canvas, never ``pyplot``) or HTML bytes; :mod:`.reports` renders the text reports that are
computed from the run's saved model (a statsmodels ``summary()`` or coefficient table); :mod:`.repository` wraps every artifact repository so
that listings show the drawn name and the first read draws and caches the file. The format is
documented in ``docs/plot-specs.md``.

Nothing here is imported by ``import autolog``; matplotlib only when a PNG is drawn.
"""

from __future__ import annotations

FORMAT = "autolog.plot/1"
SPEC_SUFFIX = ".plotspec.json"
KINDS = ("confusion_matrix", "curves", "bars", "estimator", "model_summary", "model_coefficients")
# Kinds that are reports rendered from the run's other artifacts (:mod:`.reports`), not drawn.
REPORT_KINDS = ("model_summary", "model_coefficients")
MODES = ("lazy", "eager")

__all__ = ["FORMAT", "KINDS", "MODES", "REPORT_KINDS", "SPEC_SUFFIX", "check_mode"]


def check_mode(plots: object) -> str | bool:
    """The normalised ``plots=`` setting: ``"lazy"``, ``"eager"`` or ``False`` (``True`` is
    ``"lazy"``, ``None`` is ``False``).

    Raises:
        InvalidInputError: any other value.
    """
    if plots is True:
        return "lazy"
    if plots is False or plots is None:
        return False
    if isinstance(plots, str) and plots in MODES:
        return plots
    from autolog.errors import InvalidInputError

    raise InvalidInputError(f"plots must be 'lazy', 'eager' or False, not {plots!r}.")
