"""Reading statsmodels models and results: settings, metrics, coefficients, summary.

Pure functions of statsmodels objects, used by :mod:`autolog.integrations.statsmodels` (which
does the logging). Whatever a model or results object does not offer is left out quietly.
"""

from __future__ import annotations

import inspect
import warnings
from typing import Any

from autolog._log import logger
from autolog.integrations._common import head

METRICS = (
    "aic", "bic", "hqic", "llf", "llnull", "llr", "llr_pvalue", "prsquared", "rsquared",
    "rsquared_adj", "fvalue", "f_pvalue", "mse_model", "mse_resid", "mse_total", "ssr", "ess",
    "centered_tss", "uncentered_tss", "condition_number", "df_model", "df_resid", "scale", "nobs",
    "deviance", "pearson_chi2",
)
COEFFICIENT_COLUMNS = ("term", "estimate", "std_err", "statistic", "p_value", "ci_lower", "ci_upper")
# Construction arguments that are data, recorded as fingerprints instead of params.
_DATA_ARGUMENTS = frozenset({"self", "endog", "exog", "data", "formula", "dates"})
FIXED_PARAMS = ("model_class", "formula", "endog_names", "exog_names")
_MAX_ITEMS = 20  # longer sequences and arrays are data, not settings

_init_signatures: dict[type, tuple[str, ...]] = {}
_MISSING = object()


# -- params ----------------------------------------------------------------------------------------

def plain(value: Any) -> Any:
    """``value`` as Python scalars, tuples, lists and dicts, or ``_MISSING``."""
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    if getattr(value, "ndim", None) == 0 and hasattr(value, "item"):  # numpy scalars
        return value.item()
    if isinstance(value, (tuple, list)) and len(value) <= _MAX_ITEMS:
        items = [plain(v) for v in value]
        if any(i is _MISSING for i in items):
            return _MISSING
        return tuple(items) if isinstance(value, tuple) else items
    if isinstance(value, dict) and len(value) <= _MAX_ITEMS:
        entries = {k: plain(v) for k, v in value.items()}
        return _MISSING if any(v is _MISSING for v in entries.values()) else entries
    return _MISSING


def format_value(value: Any) -> str | None:
    """A param value as text, or None for what is data rather than a setting."""
    simple = plain(value)
    if simple is not _MISSING:
        return str(simple)
    shape = getattr(value, "shape", None)
    if shape is not None:  # arrays, Series, frames: small 1-d ones (start_params) are settings
        size = getattr(value, "size", None)
        if isinstance(size, int) and size <= _MAX_ITEMS and len(shape) <= 1:
            import numpy as np

            return str(np.asarray(value).tolist())
        return None
    qualname = getattr(value, "__qualname__", None)
    if isinstance(qualname, str):  # functions and classes (callbacks, optimizers)
        return qualname
    text = repr(value)
    if " object at 0x" in text:  # statsmodels' families, links, covariance structures
        return type(value).__name__
    return text if len(text) <= 250 else None


def fit_arguments(signature: inspect.Signature, instance: Any, args: tuple[Any, ...],
                   kwargs: dict[str, Any]) -> dict[str, str]:
    try:
        bound = signature.bind(instance, *args, **kwargs)
    except TypeError:
        # The call itself is invalid: fit raises that to the caller; record what was passed.
        pairs = list(kwargs.items())
    else:
        bound.apply_defaults()
        pairs = []
        for name, value in list(bound.arguments.items())[1:]:  # [0] is self
            kind = signature.parameters[name].kind
            if kind is inspect.Parameter.VAR_KEYWORD:
                pairs.extend(value.items())
            elif kind is not inspect.Parameter.VAR_POSITIONAL or value:
                pairs.append((name, value))
    out: dict[str, str] = {}
    for name, value in pairs:
        text = format_value(value)
        if text is not None:
            out[str(name)] = text
    return out


def init_names(cls: type) -> tuple[str, ...]:
    names = _init_signatures.get(cls)
    if names is None:
        try:
            parameters = inspect.signature(getattr(cls, "__init__")).parameters.values()
            names = tuple(p.name for p in parameters if p.kind not in (
                inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD))
        except (TypeError, ValueError):
            names = ()
        _init_signatures[cls] = names
    return names


def construction_settings(model: Any) -> dict[str, str]:
    """The model's constructor settings: statsmodels' ``_init_keys`` (what it uses to clone a
    model) plus ``__init__`` arguments kept as attributes of the same name (or ``_name``)."""
    names = [*(getattr(model, "_init_keys", None) or ()), *init_names(type(model))]
    out: dict[str, str] = {}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for name in dict.fromkeys(names):
            if name in _DATA_ARGUMENTS or name in FIXED_PARAMS:
                continue
            seen = len(caught)
            try:
                value = getattr(model, name, _MISSING)
                if value is _MISSING:
                    # Holt-Winters keeps options as _name; numbers there are estimates made
                    # from the data (initial_level), not settings.
                    value = getattr(model, f"_{name}", _MISSING)
                    if not (value is None or isinstance(value, (str, bool))):
                        continue
            except Exception:  # noqa: BLE001 - a property that fails is no setting
                continue
            if value is _MISSING or len(caught) != seen:
                continue
            text = format_value(value)
            if text is not None:
                out[name] = text
        link = getattr(getattr(model, "family", None), "link", None)
        if link is not None:
            out.setdefault("link", type(link).__name__)
    return out


def names_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    return str([str(v) for v in value])


# -- metrics and coefficients -------------------------------------------------------------------

def finite(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    if getattr(value, "ndim", 0) != 0:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if number - number == 0.0 else None  # NaN and inf are not "finite"


def metrics(results: Any) -> dict[str, float]:
    """The numeric scalars among :data:`METRICS`; an attribute that raises or warns is skipped.

    Note: ``warnings.catch_warnings`` changes process-wide state, so this runs on the user's
    thread (the one fitting), never on the writer thread.
    """
    out: dict[str, float] = {}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for name in METRICS:
            seen = len(caught)
            try:
                value = getattr(results, name)
            except Exception:  # noqa: BLE001 - not offered by this model, or not computable
                continue
            if len(caught) == seen:
                number = finite(value)
                if number is not None:
                    out[name] = number
    return out


def quiet(results: Any, name: str, call: bool = False) -> Any:
    try:
        attribute = getattr(results, name)
        return attribute() if call else attribute
    except Exception:  # noqa: BLE001 - a statistic this model does not offer stays blank
        return None


def pick_labels(candidates: list[Any], size: int, prefix: str) -> list[str]:
    for candidate in candidates:
        if candidate is not None and not isinstance(candidate, str):
            try:
                labels = [str(c) for c in candidate]
            except TypeError:
                continue
            if len(labels) == size:
                return labels
    return [f"{prefix}{i}" for i in range(size)]


def coefficients(results: Any) -> tuple[list[str], dict[str, Any]] | None:
    """The coefficient table as (terms, {column: flat float array or None}).

    Multi-equation models (MNLogit, VAR) have a 2-D ``params``; their terms are
    ``<equation>:<term>``, equation by equation, the order of ``conf_int()``'s rows.
    """
    import numpy as np

    params = getattr(results, "params", None)
    if params is None:
        return None
    if isinstance(params, dict):  # Holt-Winters: named smoothing parameters, no inference
        scalars = {str(k): finite(v) for k, v in params.items()
                   if not isinstance(v, bool) and getattr(v, "ndim", 0) == 0}
        scalars = {k: v for k, v in scalars.items() if v is not None}
        return list(scalars), {"estimate": np.array(list(scalars.values()), dtype=float)}
    try:
        estimates = np.asarray(params, dtype=float)
    except (TypeError, ValueError):
        return None
    model = getattr(results, "model", None)
    if estimates.ndim == 1:
        terms = pick_labels([getattr(params, "index", None), getattr(results, "param_names", None),
                         getattr(model, "param_names", None),
                         getattr(getattr(model, "data", None), "param_names", None),
                         getattr(model, "exog_names", None)], estimates.size, "param_")
    elif estimates.ndim == 2:
        rows = pick_labels([getattr(params, "index", None), getattr(results, "exog_names", None),
                        getattr(model, "exog_names", None)], estimates.shape[0], "param_")
        outcomes = getattr(model, "_ynames_map", None)  # MNLogit: {0: "0", 1: "1", ...}
        if isinstance(outcomes, dict):  # equations are the outcomes after the base one
            name = getattr(model, "endog_names", "y")
            outcomes = [f"{name}={v}" for _, v in sorted(outcomes.items())[1:]]
        columns = pick_labels([getattr(params, "columns", None), getattr(results, "names", None),
                           outcomes, getattr(model, "endog_names", None)],
                          estimates.shape[1], "")
        terms = [f"{c}:{r}" for c in columns for r in rows]
    else:
        return None

    def flat(values: Any) -> Any:
        if values is None:
            return None
        try:
            array = np.asarray(values, dtype=float)
        except (TypeError, ValueError):
            return None
        if array.shape != estimates.shape:
            return None
        return array.T.ravel() if array.ndim == 2 else array

    table: dict[str, Any] = {"estimate": flat(params)}
    for column, attributes in (("std_err", ("bse", "stderr")),
                               ("statistic", ("tvalues", "zvalues")),
                               ("p_value", ("pvalues",))):
        table[column] = next((v for v in (flat(quiet(results, a)) for a in attributes)
                              if v is not None), None)
    table["ci_lower"] = table["ci_upper"] = None
    interval = quiet(results, "conf_int", call=True)
    if interval is not None:
        try:
            bounds = np.asarray(interval, dtype=float).reshape(-1, 2)
        except (TypeError, ValueError):
            bounds = None
        if bounds is not None and bounds.shape[0] == len(terms):
            table["ci_lower"], table["ci_upper"] = bounds[:, 0], bounds[:, 1]
    return terms, table


def coefficients_csv(table: tuple[list[str], dict[str, Any]]) -> str:
    import csv
    import io

    terms, columns = table
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COEFFICIENT_COLUMNS)
    numeric = [columns.get(c) for c in COEFFICIENT_COLUMNS[1:]]
    for i, term in enumerate(terms):
        writer.writerow([term, *("" if values is None else repr(float(values[i]))
                                 for values in numeric)])
    return buffer.getvalue()


# -- summary and model input ---------------------------------------------------------------------

def summary_text(results: Any) -> str | None:
    summary = getattr(results, "summary", None)
    if not callable(summary):
        return None
    try:
        rendered = summary()
        return str(rendered.as_text() if hasattr(rendered, "as_text") else rendered)
    except Exception as exc:  # noqa: BLE001 - statsmodels cannot summarise this fit; no file
        logger.debug("autolog: statsmodels summary() failed: %r", exc)
        return None


def model_input(results: Any) -> Any:
    """The first rows of what ``results.predict`` takes, for models whose predict takes exog."""
    predict = getattr(results, "predict", None)  # VAR results forecast instead
    if not callable(predict):
        return None
    try:
        first = next(iter(inspect.signature(predict).parameters), None)
    except (TypeError, ValueError):
        return None
    model = getattr(results, "model", None)
    data = getattr(model, "data", None)
    if first != "exog" or data is None:
        return None
    source = data.frame if isinstance(getattr(model, "formula", None), str) else data.orig_exog
    return head(source)
