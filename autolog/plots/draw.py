"""Draw a plot spec: PNG bytes with matplotlib's object API on an Agg canvas, HTML with our
own escaping renderer.

Why never ``pyplot``: it keeps global state (the current figure, the backend) that belongs to
the user's program; a ``Figure`` given its own ``FigureCanvasAgg`` is a private object that
touches neither. Output is deterministic for a given spec and matplotlib version: fixed size
and dpi, no ``Software`` or date in the PNG metadata, and a fixed layout (no ``tight_layout``,
which is both the slowest step and sensitive to font metrics).
"""

from __future__ import annotations

import html
import io
from typing import Any, Mapping

from autolog.errors import PlotError, missing_dependency

DPI = 100
_BLUE = "#4c72b0"
_PALETTE = ("#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3", "#937860", "#da8bc3",
            "#8c8c8c", "#ccb974", "#64b5cd")


def media_type(artifact_file: str) -> str:
    """``"png"`` or ``"html"``: what the artifact's name asks for.

    Raises:
        PlotError: neither.
    """
    lower = artifact_file.lower()
    if lower.endswith(".png"):
        return "png"
    if lower.endswith((".html", ".htm")):
        return "html"
    raise PlotError(f"Cannot draw {artifact_file!r}: plots are drawn as .png or .html files.")


def render(spec: Mapping[str, Any], artifact_file: str) -> bytes:
    """The drawn file for ``artifact_file`` (its extension picks PNG or HTML).

    Raises:
        PlotError: the spec's kind cannot be drawn in that format, or drawing failed.
        ImportError: matplotlib is missing (for PNG), naming the extra to install.
    """
    wanted = media_type(artifact_file)
    if wanted == "html":
        if spec.get("kind") != "estimator":
            raise PlotError(f"Cannot draw {artifact_file!r}: a {spec.get('kind')} plot is drawn as PNG.")
        return to_html(spec)
    if spec.get("kind") == "estimator":
        raise PlotError(f"Cannot draw {artifact_file!r}: an estimator spec is drawn as HTML.")
    return to_png(spec)


# -- PNG -------------------------------------------------------------------------------------------

def _figure(width: float, height: float) -> Any:
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise missing_dependency("matplotlib", "plots") from exc
    figure = Figure(figsize=(width, height), dpi=DPI)
    FigureCanvasAgg(figure)
    return figure


def _png(figure: Any) -> bytes:
    buf = io.BytesIO()
    figure.savefig(buf, format="png", dpi=DPI, metadata={"Software": None})
    return buf.getvalue()


def _floats(values: Any) -> list[float]:
    return [float("nan") if v is None else float(v) for v in values]


def _text_width(labels: Any, fontsize: float = 10.0) -> float:
    """Inches taken by the longest label (a fixed estimate: layout must not depend on fonts)."""
    longest = max((len(str(label)) for label in labels), default=0)
    return longest * fontsize * 0.6 / 72


def to_png(spec: Mapping[str, Any]) -> bytes:
    """Raises: PlotError: drawing failed. ImportError: matplotlib is missing."""
    drawer = {"confusion_matrix": _confusion_matrix, "curves": _curves, "bars": _bars}.get(
        str(spec.get("kind")))
    if drawer is None:
        raise PlotError(f"Cannot draw a {spec.get('kind')!r} plot as PNG.")
    figure = drawer(spec)
    try:
        return _png(figure)
    except Exception as exc:  # noqa: BLE001 - matplotlib's own failure, reported as ours
        raise PlotError(f"Drawing the {spec.get('kind')} plot {spec.get('title')!r} failed: {exc!r}") from exc


def _margins(figure: Any, width: float, height: float, left: float, bottom: float,
             right: float = 0.3, top: float = 0.5) -> None:
    figure.subplots_adjust(left=min(left / width, 0.6), bottom=min(bottom / height, 0.6),
                           right=1 - right / width, top=1 - top / height)


def _confusion_matrix(spec: Mapping[str, Any]) -> Any:
    import numpy as np

    labels = list(spec["labels"])
    counts = np.array([_floats(row) for row in spec["matrix"]], dtype=np.float64).reshape(
        len(labels), len(labels))
    counts = np.nan_to_num(counts)
    totals = counts.sum(axis=1, keepdims=True)
    share = np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0)
    n = len(labels)
    side = min(12.0, max(4.5, 0.5 * n + 2.5))
    label_space = _text_width(labels, 9)
    width, height = side + 1.2 + label_space, side + label_space * (0.7 if n > 6 else 0.2)
    figure = _figure(width, height)
    _margins(figure, width, height, left=0.9 + label_space, bottom=0.8 + label_space * (0.7 if n > 6 else 0.2),
             right=1.2)
    ax = figure.add_subplot(1, 1, 1)
    image = ax.imshow(share, cmap="Blues", vmin=0.0, vmax=1.0)
    figure.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="share of the true label")
    ticks = list(range(n))
    ax.set_xticks(ticks, labels, rotation=45 if n > 6 else 0, ha="right" if n > 6 else "center",
                  fontsize=9)
    ax.set_yticks(ticks, labels, fontsize=9)
    if n <= 20:
        integral = bool(np.all(counts == np.round(counts)))
        for i in ticks:
            for j in ticks:
                text = f"{int(counts[i, j])}" if integral else f"{counts[i, j]:.3g}"
                ax.text(j, i, text, ha="center", va="center", fontsize=8,
                        color="white" if share[i, j] > 0.5 else "black")
    ax.set_xlabel(spec.get("x_label", ""))
    ax.set_ylabel(spec.get("y_label", ""))
    ax.set_title(spec.get("title", ""))
    return figure


def _curves(spec: Mapping[str, Any]) -> Any:
    width, height = 6.4, 4.8
    figure = _figure(width, height)
    _margins(figure, width, height, left=0.8, bottom=0.6)
    ax = figure.add_subplot(1, 1, 1)
    named = False
    for k, series in enumerate(spec["series"]):
        name = series.get("name") or None
        named = named or name is not None
        ax.plot(_floats(series["x"]), _floats(series["y"]), label=name,
                color=_PALETTE[k % len(_PALETTE)], linewidth=1.5)
    if spec.get("diagonal"):
        ax.plot([0, 1], [0, 1], linestyle="--", color="grey", linewidth=0.8)
    if spec.get("x_scale") == "log":
        ax.set_xscale("log")
    if spec.get("y_scale") == "log":
        ax.set_yscale("log")
    ax.set_xlabel(spec.get("x_label", ""))
    ax.set_ylabel(spec.get("y_label", ""))
    ax.set_title(spec.get("title", ""))
    ax.grid(True, linewidth=0.3, alpha=0.5)
    if named:
        ax.legend(loc="best", fontsize="small")
    return figure


def _bars(spec: Mapping[str, Any]) -> Any:
    labels = list(spec["labels"])
    groups = spec.get("groups") or [{"name": None, "values": spec["values"]}]
    errors = spec.get("errors")
    n, g = len(labels), len(groups)
    horizontal = spec.get("orientation", "horizontal") == "horizontal"
    label_space = _text_width(labels, 9)
    extent = max(3.0, 0.25 * n * max(1.0, g / 2) + 1.5)
    if horizontal:
        width, height = 6.0 + label_space, min(extent, 40.0)
        figure = _figure(width, height)
        _margins(figure, width, height, left=0.4 + label_space, bottom=0.6)
    else:
        width, height = min(max(6.0, 0.3 * n * max(1.0, g / 2) + 1.5), 40.0), 4.5 + label_space * 0.7
        figure = _figure(width, height)
        _margins(figure, width, height, left=0.8, bottom=0.4 + label_space * 0.7)
    ax = figure.add_subplot(1, 1, 1)
    thickness = 0.8 / g
    positions = list(range(n))
    for k, group in enumerate(groups):
        offsets = [p - 0.4 + thickness * (k + 0.5) for p in positions]
        values = _floats(group["values"])
        err = _floats(errors) if errors is not None and g == 1 else None
        color = _BLUE if g == 1 else _PALETTE[k % len(_PALETTE)]
        if horizontal:
            ax.barh(offsets, values, height=thickness, xerr=err, color=color, label=group["name"])
        else:
            ax.bar(offsets, values, width=thickness, yerr=err, color=color, label=group["name"])
    if horizontal:
        ax.set_yticks(positions, labels, fontsize=9)
        ax.invert_yaxis()  # the first label on top, as the spec lists them
    else:
        ax.set_xticks(positions, labels, fontsize=9, rotation=90 if label_space > 0.5 else 0)
    ax.set_xlabel(spec.get("x_label", ""))
    ax.set_ylabel(spec.get("y_label", ""))
    ax.set_title(spec.get("title", ""))
    if g > 1:
        ax.legend(loc="best", fontsize="small")
    return figure


# -- HTML ------------------------------------------------------------------------------------------

_STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;font-size:13px;margin:16px;color:#222}
.autolog-estimator .node{display:flex;flex-direction:column;align-items:stretch;margin:4px}
.autolog-estimator .box{border:1px solid #8aa4c8;border-radius:4px;background:#f0f5fb;padding:4px 8px}
.autolog-estimator .name{font-weight:600;margin-right:6px}
.autolog-estimator .cls{font-family:ui-monospace,Menlo,Consolas,monospace}
.autolog-estimator .children{display:flex;margin:4px 0 0 12px;border-left:2px solid #c8d6ea;padding-left:6px}
.autolog-estimator .serial{flex-direction:column}
.autolog-estimator .parallel{flex-direction:row;flex-wrap:wrap;gap:6px}
.autolog-estimator table{border-collapse:collapse;margin-top:4px}
.autolog-estimator td{border-top:1px solid #dde5f0;padding:1px 6px;font-family:ui-monospace,Menlo,Consolas,monospace;vertical-align:top}
"""


def _e(text: Any) -> str:
    return html.escape(str(text), quote=True)


def _node_html(node: Mapping[str, Any], out: list[str]) -> None:
    layout = node.get("layout", "single")
    out.append(f'<div class="node {_e(layout)}"><div class="box">')
    if node.get("name"):
        out.append(f'<span class="name">{_e(node["name"])}</span>')
    out.append(f'<span class="cls">{_e(node["class"])}</span>')
    params = node.get("params") or {}
    if params:
        out.append(f"<details><summary>{len(params)} parameter{'s' if len(params) != 1 else ''}"
                   "</summary><table>")
        for key, value in params.items():
            out.append(f"<tr><td>{_e(key)}</td><td>{_e(value)}</td></tr>")
        out.append("</table></details>")
    out.append("</div>")
    children = node.get("children") or []
    if children:
        out.append(f'<div class="children {"parallel" if layout == "parallel" else "serial"}">')
        for child in children:
            _node_html(child, out)
        out.append("</div>")
    out.append("</div>")


def to_html(spec: Mapping[str, Any]) -> bytes:
    """A self-contained page (inline CSS, no script) showing the estimator's structure; every
    name, class and value is escaped."""
    title = spec.get("title", "Estimator")
    out = ['<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">',
           f"<title>{_e(title)}</title><style>{_STYLE}</style></head><body>",
           '<div class="autolog-estimator">']
    _node_html(spec["root"], out)
    out.append("</div></body></html>\n")
    return "".join(out).encode("utf-8")
