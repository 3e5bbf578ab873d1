"""Build and check plot specs (format ``autolog.plot/1``, documented in ``docs/plot-specs.md``).

A spec is a plain JSON object: the numbers of a picture, never the picture. Builders take
whatever an integration has at hand (lists, numpy arrays) and return a spec that
:func:`validate` accepts; :func:`dumps` and :func:`loads` are the only ways specs cross the
artifact store, so every stored spec has been checked once on the way in and once on the way
out. Numbers are JSON numbers; NaN and infinities become ``null``.
"""

from __future__ import annotations

import json
import math
from typing import Any, Iterable, Mapping, Sequence

from autolog.errors import PlotError
from autolog.plots import FORMAT, KINDS

MAX_POINTS = 1000
_LAYOUTS = ("single", "serial", "parallel")
_SCALES = ("linear", "log")
_MAX_DEPTH = 50


def _number(value: Any) -> float | int | None:
    number = float(value)
    if not math.isfinite(number):
        return None
    return int(number) if isinstance(value, (int, bool)) or (
        hasattr(value, "dtype") and value.dtype.kind in "iub") else number


def _numbers(values: Iterable[Any]) -> list[float | int | None]:
    if hasattr(values, "tolist"):
        values = values.tolist()  # one C loop instead of one numpy scalar per element
    return [_number(v) for v in values]


def _head(kind: str, title: str, x_label: str | None, y_label: str | None) -> dict[str, Any]:
    spec: dict[str, Any] = {"format": FORMAT, "kind": kind, "title": str(title)}
    if kind not in ("estimator", "model_summary", "model_coefficients"):
        spec["x_label"] = "" if x_label is None else str(x_label)
        spec["y_label"] = "" if y_label is None else str(y_label)
    return spec


def downsample(x: Sequence[Any], y: Sequence[Any], max_points: int = MAX_POINTS) -> tuple[list[Any], list[Any]]:
    """At most ``max_points`` points of the curve (x, y), keeping its first and last points
    and, in each of about ``max_points / 2`` equal index ranges, the points with the lowest and
    the highest y (so the global minimum and maximum always survive)."""
    import numpy as np

    xs = np.asarray(x, dtype=np.float64).reshape(-1)
    ys = np.asarray(y, dtype=np.float64).reshape(-1)
    n = min(xs.size, ys.size)
    xs, ys = xs[:n], ys[:n]
    if n <= max_points:
        return xs.tolist(), ys.tolist()
    buckets = max(1, (max_points - 2) // 2)
    edges = np.linspace(1, n - 1, buckets + 1).astype(np.int64)
    # NaN would win every argmin/argmax; they are drawn as gaps, so rank them last.
    low = np.where(np.isnan(ys), np.inf, ys)
    high = np.where(np.isnan(ys), -np.inf, ys)
    keep = {0, n - 1}
    for start, stop in zip(edges[:-1], edges[1:]):
        if stop > start:
            keep.add(int(start + np.argmin(low[start:stop])))
            keep.add(int(start + np.argmax(high[start:stop])))
    index = np.array(sorted(keep), dtype=np.int64)
    return xs[index].tolist(), ys[index].tolist()


def confusion_matrix(labels: Sequence[Any], matrix: Any, title: str = "Confusion matrix",
                     x_label: str = "Predicted label", y_label: str = "True label") -> dict[str, Any]:
    """Rows are true labels, columns predicted labels, both in the order of ``labels``.

    Counts are integers; weighted counts (a fit with sample weights) stay numbers.
    """
    rows = [list(r) for r in (matrix.tolist() if hasattr(matrix, "tolist") else matrix)]
    cells = [_number(v) for r in rows for v in r]
    if all(isinstance(v, float) and v.is_integer() for v in cells if v is not None):
        rows = [[None if v is None else int(v) for v in r] for r in rows]
    else:
        rows = [_numbers(r) for r in rows]
    spec = _head("confusion_matrix", title, x_label, y_label)
    spec.update(labels=[str(label) for label in labels], matrix=rows)
    return spec


def curves(series: Iterable[Mapping[str, Any]], title: str, x_label: str, y_label: str, *,
           diagonal: bool = False, x_scale: str | None = None, y_scale: str | None = None,
           max_points: int = MAX_POINTS) -> dict[str, Any]:
    """Line plots; each series ``{"name", "x", "y"}`` is downsampled to ``max_points``.

    ``diagonal`` draws the y = x reference line (ROC curves).
    """
    out = []
    for s in series:
        xs, ys = downsample(s["x"], s["y"], max_points)
        out.append({"name": str(s.get("name", "")), "x": _numbers(xs), "y": _numbers(ys)})
    spec = _head("curves", title, x_label, y_label)
    spec["series"] = out
    if diagonal:
        spec["diagonal"] = True
    if x_scale:
        spec["x_scale"] = x_scale
    if y_scale:
        spec["y_scale"] = y_scale
    return spec


def bars(labels: Sequence[Any], values: Sequence[Any], title: str, x_label: str = "",
         y_label: str = "", *, orientation: str = "horizontal", errors: Sequence[Any] | None = None,
         groups: Sequence[Mapping[str, Any]] | None = None) -> dict[str, Any]:
    """A bar chart, bars in the given order (the first bar at the top when horizontal).

    ``groups`` (optional, an autolog extension): ``[{"name": str, "values": [num]}]`` draws
    grouped bars (per-class importances); ``values`` then hold each label's total, which a
    reader that ignores groups draws alone.
    """
    spec = _head("bars", title, x_label, y_label)
    spec.update(labels=[str(label) for label in labels], values=_numbers(values),
                orientation=orientation)
    if errors is not None:
        spec["errors"] = _numbers(errors)
    if groups:
        spec["groups"] = [{"name": str(g["name"]), "values": _numbers(g["values"])} for g in groups]
    return spec


def estimator(root: Mapping[str, Any], title: str = "Estimator") -> dict[str, Any]:
    """A model's structure: ``root`` is a node (see :func:`node`)."""
    spec = _head("estimator", title, None, None)
    spec["root"] = dict(root)
    return spec


def model_summary(model: str, flavor: str, title: str = "Model summary") -> dict[str, Any]:
    """A text report rendered on read from the run's saved model: ``model`` is the model
    folder's artifact path relative to the spec's folder, ``flavor`` the flavor it must
    have; reading loads it and writes its ``summary()`` as text."""
    spec = _head("model_summary", title, None, None)
    spec.update(model=str(model), flavor=str(flavor))
    return spec


def model_coefficients(model: str, flavor: str, title: str = "Coefficients") -> dict[str, Any]:
    """A CSV table rendered on read from the run's saved model, as :func:`model_summary`: one
    row per term with its estimate, standard error, statistic, p-value and confidence bounds."""
    spec = _head("model_coefficients", title, None, None)
    spec.update(model=str(model), flavor=str(flavor))
    return spec


def node(cls: str, *, name: str | None = None, params: Mapping[str, Any] | None = None,
         layout: str = "single", children: Sequence[Mapping[str, Any]] = ()) -> dict[str, Any]:
    """One box of an estimator spec; ``params`` values are stored as given (strings)."""
    return {"name": name, "class": cls, "params": {str(k): str(v) for k, v in (params or {}).items()},
            "layout": layout, "children": [dict(c) for c in children]}


# -- checking --------------------------------------------------------------------------------------

def _fail(where: str, message: str) -> PlotError:
    return PlotError(f"Invalid plot spec{where}: {message}.")


def _is_number(value: Any) -> bool:
    return value is None or (isinstance(value, (int, float)) and not isinstance(value, bool))


def _check_numbers(value: Any, field: str, where: str) -> None:
    if not isinstance(value, list) or not all(_is_number(v) for v in value):
        raise _fail(where, f"{field!r} must be a list of numbers (null for a missing value)")


def _check_strings(value: Any, field: str, where: str) -> None:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _fail(where, f"{field!r} must be a list of strings")


def _check_node(item: Any, where: str, depth: int = 0) -> None:
    if depth > _MAX_DEPTH:
        raise _fail(where, "the estimator tree is too deep")
    if not isinstance(item, dict):
        raise _fail(where, "an estimator node must be an object")
    if item.get("name") is not None and not isinstance(item.get("name"), str):
        raise _fail(where, "a node's 'name' must be a string or null")
    if not isinstance(item.get("class"), str):
        raise _fail(where, "a node's 'class' must be a string")
    params = item.get("params", {})
    if not isinstance(params, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in params.items()):
        raise _fail(where, "a node's 'params' must map strings to strings")
    if item.get("layout", "single") not in _LAYOUTS:
        raise _fail(where, f"a node's 'layout' must be one of {', '.join(_LAYOUTS)}")
    children = item.get("children", [])
    if not isinstance(children, list):
        raise _fail(where, "a node's 'children' must be a list")
    for child in children:
        _check_node(child, where, depth + 1)


def validate(spec: Any, where: str = "") -> dict[str, Any]:
    """Return ``spec`` if it is a valid ``autolog.plot/1`` spec.

    Args:
        spec: the decoded JSON object.
        where: a name for error messages (the artifact path).

    Raises:
        PlotError: what is wrong with it.
    """
    where = f" {where!r}" if where else ""
    if not isinstance(spec, dict):
        raise _fail(where, "it must be a JSON object")
    if spec.get("format") != FORMAT:
        raise _fail(where, f"'format' must be {FORMAT!r}, not {spec.get('format')!r}")
    kind = spec.get("kind")
    if kind not in KINDS:
        raise _fail(where, f"'kind' must be one of {', '.join(KINDS)}, not {kind!r}")
    if not isinstance(spec.get("title", ""), str):
        raise _fail(where, "'title' must be a string")
    for axis in ("x_label", "y_label"):
        if not isinstance(spec.get(axis, ""), str):
            raise _fail(where, f"{axis!r} must be a string")
    if kind == "confusion_matrix":
        _check_strings(spec.get("labels"), "labels", where)
        matrix = spec.get("matrix")
        size = len(spec["labels"])
        if not isinstance(matrix, list) or len(matrix) != size:
            raise _fail(where, "'matrix' must have one row per label")
        for row in matrix:
            _check_numbers(row, "matrix", where)
            if len(row) != size:
                raise _fail(where, "'matrix' must have one column per label")
    elif kind == "curves":
        series = spec.get("series")
        if not isinstance(series, list):
            raise _fail(where, "'series' must be a list")
        for s in series:
            if not isinstance(s, dict) or not isinstance(s.get("name", ""), str):
                raise _fail(where, "each series must be an object with a string 'name'")
            _check_numbers(s.get("x"), "x", where)
            _check_numbers(s.get("y"), "y", where)
            if len(s["x"]) != len(s["y"]):
                raise _fail(where, f"series {s.get('name')!r} has {len(s['x'])} x and {len(s['y'])} y values")
        for axis in ("x_scale", "y_scale"):
            if spec.get(axis, "linear") not in _SCALES:
                raise _fail(where, f"{axis!r} must be 'linear' or 'log'")
    elif kind == "bars":
        _check_strings(spec.get("labels"), "labels", where)
        n = len(spec["labels"])
        for field in ("values", "errors"):
            if field in spec or field == "values":
                _check_numbers(spec.get(field), field, where)
                if len(spec[field]) != n:
                    raise _fail(where, f"{field!r} must have one number per label")
        for group in spec.get("groups", []):
            if not isinstance(group, dict) or not isinstance(group.get("name"), str):
                raise _fail(where, "each group must be an object with a string 'name'")
            _check_numbers(group.get("values"), "groups.values", where)
            if len(group["values"]) != n:
                raise _fail(where, "each group must have one number per label")
        if spec.get("orientation", "horizontal") not in ("horizontal", "vertical"):
            raise _fail(where, "'orientation' must be 'horizontal' or 'vertical'")
    elif kind in ("model_summary", "model_coefficients"):
        for field in ("model", "flavor"):
            value = spec.get(field)
            if not isinstance(value, str) or not value:
                raise _fail(where, f"{field!r} must be a non-empty string")
        if spec["model"].startswith("/") or ".." in spec["model"].split("/"):
            raise _fail(where, "'model' must be a path inside the run's artifacts")
    else:
        _check_node(spec.get("root"), where)
    return spec


def dumps(spec: Mapping[str, Any]) -> bytes:
    """The spec as compact UTF-8 JSON, after checking it.

    Raises:
        PlotError: the spec is not valid.
    """
    validate(spec)
    return json.dumps(spec, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode("utf-8")


def loads(data: bytes, where: str = "") -> dict[str, Any]:
    """Decode and check a stored spec.

    Raises:
        PlotError: not JSON, or not a valid spec.
    """
    try:
        spec = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise PlotError(f"Plot spec {where!r} is not valid JSON: {exc}") from exc
    return validate(spec, where)
