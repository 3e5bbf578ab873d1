// Our own SVG drawing: line charts, sparklines, confusion matrices, bars, parallel coordinates
// and the plot specs of autolog.plot/1. Series arrive already downsampled by the server, so a
// chart is at most a few thousand points: plain SVG paths draw that in milliseconds.
import {el, fmtNumber} from "./common.js";

const NS = "http://www.w3.org/2000/svg";
export const COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b",
  "#e377c2", "#17becf", "#7f7f7f", "#bcbd22"];

function svg(tag, attrs = {}, ...children) {
  const node = document.createElementNS(NS, tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value !== null && value !== undefined) node.setAttribute(key, value);
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

/** About `count` round tick values covering [lo, hi]. */
export function ticks(lo, hi, count = 5) {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) || raw;
  const out = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(+v.toPrecision(12));
  return out;
}

function logTicks(lo, hi) {
  for (const steps of [[1], [1, 2, 5], [1, 1.5, 2, 3, 5, 7]]) {
    const out = [];
    for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++) {
      for (const m of steps) out.push(+(m * 10 ** e).toPrecision(6));
    }
    const inside = out.filter((v) => v >= lo / 1.0001 && v <= hi * 1.0001);
    if (inside.length >= 3) return inside;
  }
  return [lo, hi];  // less than a decade and few round values: the ends
}

function extent(values) {
  let lo = Infinity, hi = -Infinity;
  for (const v of values) {
    if (v === null || !Number.isFinite(v)) continue;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  if (lo === Infinity) return [0, 1];
  if (lo === hi) return [lo - (Math.abs(lo) || 1) * 0.5, hi + (Math.abs(hi) || 1) * 0.5];
  return [lo, hi];
}

function fmtTick(v, xType) {
  if (xType === "time") {
    const d = new Date(v);
    return `${String(d.getHours()).padStart(2, "0")}:${String(d.getMinutes()).padStart(2, "0")}:${String(d.getSeconds()).padStart(2, "0")}`;
  }
  if (xType === "seconds") return `${fmtNumber(v)} s`;
  return fmtNumber(v);
}

/**
 * A line chart. series: [{name, points: [[x, y], ...], color}]; y null breaks the line.
 * opts: {width, height, xLabel, yLabel, logY, xType: "number"|"time"|"seconds", diagonal, title}
 */
export function lineChart(series, opts = {}) {
  const W = opts.width || 720, H = opts.height || 320;
  const M = {l: 64, r: 16, t: opts.title ? 28 : 12, b: 44};
  const logY = !!opts.logY;
  const xs = [], ys = [];
  for (const s of series) {
    for (const [x, y] of s.points) {
      xs.push(x);
      if (y !== null && (!logY || y > 0)) ys.push(y);
    }
  }
  let [x0, x1] = extent(xs);
  let [y0, y1] = extent(ys);
  if (opts.diagonal) { x0 = Math.min(x0, 0); x1 = Math.max(x1, 1); y0 = Math.min(y0, 0); y1 = Math.max(y1, 1); }
  if (logY) {
    y0 = Math.max(y0, Number.MIN_VALUE);
    if (y1 <= y0) y1 = y0 * 10;
    const pad = (Math.log10(y1) - Math.log10(y0)) * 0.05;
    y0 /= 10 ** pad; y1 *= 10 ** pad;
  } else if (!opts.diagonal) {
    const pad = (y1 - y0) * 0.05;  // points on the frame are hard to see
    y0 -= pad; y1 += pad;
  }
  const fy = logY ? (v) => Math.log10(v) : (v) => v;
  const px = (x) => M.l + ((x - x0) / (x1 - x0 || 1)) * (W - M.l - M.r);
  const py = (y) => H - M.b - ((fy(y) - fy(y0)) / (fy(y1) - fy(y0) || 1)) * (H - M.t - M.b);
  const root = svg("svg", {viewBox: `0 0 ${W} ${H}`, width: W, height: H, class: "chart", role: "img",
    "aria-label": opts.title || opts.yLabel || "chart"});
  if (opts.title) root.append(svg("text", {x: W / 2, y: 18, "text-anchor": "middle", class: "ctitle"}, opts.title));
  const axes = svg("g", {class: "axes"});
  for (const t of ticks(x0, x1, 6)) {
    axes.append(svg("line", {x1: px(t), x2: px(t), y1: M.t, y2: H - M.b, class: "gridline"}),
      svg("text", {x: px(t), y: H - M.b + 16, "text-anchor": "middle"}, fmtTick(t, opts.xType)));
  }
  for (const t of logY ? logTicks(y0, y1) : ticks(y0, y1, 5)) {
    axes.append(svg("line", {x1: M.l, x2: W - M.r, y1: py(t), y2: py(t), class: "gridline"}),
      svg("text", {x: M.l - 6, y: py(t) + 4, "text-anchor": "end"}, fmtNumber(t)));
  }
  axes.append(svg("rect", {x: M.l, y: M.t, width: W - M.l - M.r, height: H - M.t - M.b, class: "frame"}));
  if (opts.xLabel) axes.append(svg("text", {x: (M.l + W - M.r) / 2, y: H - 8, "text-anchor": "middle", class: "alabel"}, opts.xLabel));
  if (opts.yLabel) axes.append(svg("text", {x: 14, y: (M.t + H - M.b) / 2, "text-anchor": "middle", class: "alabel",
    transform: `rotate(-90 14 ${(M.t + H - M.b) / 2})`}, opts.yLabel));
  root.append(axes);
  if (opts.diagonal) {
    root.append(svg("line", {x1: px(0), y1: py(0), x2: px(1), y2: py(1), class: "diagonal"}));
  }
  series.forEach((s, i) => {
    let d = "", pen = false;
    for (const [x, y] of s.points) {
      if (y === null || !Number.isFinite(y) || (logY && y <= 0)) { pen = false; continue; }
      d += `${pen ? "L" : "M"}${px(x).toFixed(1)},${py(y).toFixed(1)}`;
      pen = true;
    }
    const color = s.color || COLORS[i % COLORS.length];
    const path = svg("path", {d, stroke: color, class: "series", "data-name": s.name},
      svg("title", {}, s.name));
    root.append(path);
    if (s.points.length === 1) {
      const [x, y] = s.points[0];
      root.append(svg("circle", {cx: px(x), cy: py(y), r: 3, fill: color}));
    }
  });
  const wrap = el("figure", {class: "chartbox"}, root);
  if (series.length > 1 || opts.legend) {
    wrap.append(el("figcaption", {class: "legend"}, ...series.map((s, i) =>
      el("span", {class: "key"}, el("i", {style: `background:${s.color || COLORS[i % COLORS.length]}`}), s.name))));
  }
  return wrap;
}

/** A tiny line of a metric's history (points: [[x, y]]). */
export function sparkline(points, width = 120, height = 24) {
  const good = points.filter((p) => p[1] !== null && Number.isFinite(p[1]));
  const root = svg("svg", {width, height, viewBox: `0 0 ${width} ${height}`, class: "spark", "aria-hidden": "true"});
  if (good.length < 2) return root;
  const [x0, x1] = extent(good.map((p) => p[0]));
  const [y0, y1] = extent(good.map((p) => p[1]));
  const d = good.map(([x, y], i) => `${i ? "L" : "M"}${(((x - x0) / (x1 - x0)) * (width - 2) + 1).toFixed(1)},${(height - 1 - ((y - y0) / (y1 - y0)) * (height - 2)).toFixed(1)}`).join("");
  root.append(svg("path", {d, class: "series"}));
  return root;
}

/** Exponential moving average with bias correction (TensorBoard's smoothing). */
export function smooth(points, weight) {
  if (!weight) return points;
  let last = 0, n = 0;
  return points.map(([x, y]) => {
    if (y === null || !Number.isFinite(y)) return [x, y];
    last = last * weight + (1 - weight) * y;
    n++;
    return [x, last / (1 - weight ** n)];
  });
}

export function confusionMatrix(spec) {
  const labels = spec.labels || [], matrix = spec.matrix || [];
  const n = labels.length, cell = Math.max(28, Math.min(64, Math.floor(420 / Math.max(n, 1))));
  const M = {l: 110, t: 40, b: 70};
  const W = M.l + n * cell + 20, H = M.t + n * cell + M.b;
  const max = Math.max(1, ...matrix.flat().filter(Number.isFinite));
  const root = svg("svg", {viewBox: `0 0 ${W} ${H}`, width: W, height: H, class: "chart", role: "img",
    "aria-label": spec.title || "confusion matrix"});
  root.append(svg("text", {x: W / 2, y: 18, "text-anchor": "middle", class: "ctitle"}, spec.title || ""));
  matrix.forEach((row, i) => row.forEach((v, j) => {
    const t = v / max;
    root.append(svg("rect", {x: M.l + j * cell, y: M.t + i * cell, width: cell, height: cell,
      fill: `rgb(${Math.round(247 - t * 239)},${Math.round(251 - t * 203)},${Math.round(255 - t * 148)})`, class: "cell"}),
    svg("text", {x: M.l + j * cell + cell / 2, y: M.t + i * cell + cell / 2 + 4, "text-anchor": "middle",
      class: t > 0.5 ? "on-dark" : ""}, String(v)));
  }));
  labels.forEach((label, k) => {
    root.append(svg("text", {x: M.l - 6, y: M.t + k * cell + cell / 2 + 4, "text-anchor": "end"}, label),
      svg("text", {x: M.l + k * cell + cell / 2, y: M.t + n * cell + 16, "text-anchor": "middle"}, label));
  });
  root.append(svg("text", {x: M.l + (n * cell) / 2, y: H - 12, "text-anchor": "middle", class: "alabel"}, spec.x_label || "Predicted label"),
    svg("text", {x: 14, y: M.t + (n * cell) / 2, "text-anchor": "middle", class: "alabel",
      transform: `rotate(-90 14 ${M.t + (n * cell) / 2})`}, spec.y_label || "True label"));
  return el("figure", {class: "chartbox"}, root);
}

export function bars(spec) {
  const labels = spec.labels || [], values = spec.values || [], errors = spec.errors || [];
  const horizontal = spec.orientation !== "vertical";
  const n = labels.length, band = 22;
  const W = horizontal ? 640 : Math.max(320, n * band + 100), H = horizontal ? n * band + 80 : 360;
  const M = horizontal ? {l: 180, r: 20, t: 30, b: 40} : {l: 64, r: 16, t: 30, b: 100};
  const [lo0, hi0] = extent(values.map((v, i) => v + (errors[i] || 0)).concat(values.map((v, i) => v - (errors[i] || 0))));
  const lo = Math.min(0, lo0), hi = Math.max(0, hi0);
  const len = horizontal ? W - M.l - M.r : H - M.t - M.b;
  const scale = (v) => ((v - lo) / (hi - lo || 1)) * len;
  const root = svg("svg", {viewBox: `0 0 ${W} ${H}`, width: W, height: H, class: "chart", role: "img",
    "aria-label": spec.title || "bars"});
  root.append(svg("text", {x: W / 2, y: 18, "text-anchor": "middle", class: "ctitle"}, spec.title || ""));
  values.forEach((v, i) => {
    const a = scale(Math.min(0, v)), b = scale(Math.max(0, v));
    if (horizontal) {
      const y = M.t + i * band;
      root.append(svg("rect", {x: M.l + a, y: y + 3, width: Math.max(1, b - a), height: band - 6, class: "bar"},
        svg("title", {}, `${labels[i]}: ${fmtNumber(v)}`)),
      svg("text", {x: M.l - 6, y: y + band / 2 + 4, "text-anchor": "end"}, labels[i]));
      if (errors[i]) root.append(svg("line", {x1: M.l + scale(v - errors[i]), x2: M.l + scale(v + errors[i]), y1: y + band / 2, y2: y + band / 2, class: "err"}));
    } else {
      const x = M.l + i * band;
      root.append(svg("rect", {x: x + 3, y: H - M.b - b, width: band - 6, height: Math.max(1, b - a), class: "bar"},
        svg("title", {}, `${labels[i]}: ${fmtNumber(v)}`)),
      svg("text", {x: x + band / 2, y: H - M.b + 12, "text-anchor": "end", transform: `rotate(-45 ${x + band / 2} ${H - M.b + 12})`}, labels[i]));
      if (errors[i]) root.append(svg("line", {y1: H - M.b - scale(v - errors[i]), y2: H - M.b - scale(v + errors[i]), x1: x + band / 2, x2: x + band / 2, class: "err"}));
    }
  });
  for (const t of ticks(lo, hi, 5)) {
    root.append(horizontal
      ? svg("text", {x: M.l + scale(t), y: H - M.b + 18, "text-anchor": "middle"}, fmtNumber(t))
      : svg("text", {x: M.l - 6, y: H - M.b - scale(t) + 4, "text-anchor": "end"}, fmtNumber(t)));
  }
  return el("figure", {class: "chartbox"}, root);
}

function estimatorNode(node) {
  const params = Object.entries(node.params || {});
  const box = el("div", {class: `est est-${node.layout || "single"}`},
    el("div", {class: "est-head"}, node.name ? `${node.name}: ` : "", el("b", {}, node["class"] || "")),
    params.length ? el("table", {class: "est-params"}, ...params.map(([k, v]) => el("tr", {}, el("td", {}, k), el("td", {}, v)))) : null);
  if (node.children && node.children.length) {
    box.append(el("div", {class: "est-children"}, ...node.children.map(estimatorNode)));
  }
  return box;
}

/** Draw an autolog.plot/1 spec; unknown kinds are shown as their JSON. */
export function drawSpec(spec) {
  switch (spec && spec.kind) {
    case "confusion_matrix": return confusionMatrix(spec);
    case "bars": return bars(spec);
    case "curves": return lineChart((spec.series || []).map((s) => ({
      name: s.name, points: s.x.map((x, i) => [x, s.y[i]])})), {
      title: spec.title, xLabel: spec.x_label, yLabel: spec.y_label, diagonal: spec.diagonal,
      logY: spec.y_scale === "log", legend: true, width: 560, height: 420});
    case "estimator": return el("figure", {class: "chartbox"}, el("div", {class: "ctitle"}, spec.title || ""), estimatorNode(spec.root || {}));
    default: return el("pre", {}, JSON.stringify(spec, null, 2));
  }
}

/**
 * Parallel coordinates: one vertical axis per dimension, one polyline per run, coloured by the
 * last dimension (the chosen metric). dims: [{name, values: [...] (numbers or strings)}].
 */
export function parallelCoords(dims, names, width = 900, height = 340) {
  const M = {l: 40, r: 80, t: 30, b: 30};
  const root = svg("svg", {viewBox: `0 0 ${width} ${height}`, width, height, class: "chart", role: "img",
    "aria-label": "parallel coordinates"});
  if (!dims.length) return root;
  const gap = (width - M.l - M.r) / Math.max(1, dims.length - 1);
  const scales = dims.map((d) => {
    const numeric = d.values.every((v) => v === null || v === undefined || Number.isFinite(Number(v)));
    if (numeric) {
      const [lo, hi] = extent(d.values.map((v) => (v === null || v === undefined ? null : Number(v))));
      return {numeric, lo, hi, f: (v) => (v === null || v === undefined ? null : (Number(v) - lo) / (hi - lo || 1))};
    }
    const cats = [...new Set(d.values.map(String))].sort();
    return {numeric, cats, f: (v) => (v === null || v === undefined ? null : (cats.indexOf(String(v)) + 0.5) / cats.length)};
  });
  const y = (t) => height - M.b - t * (height - M.t - M.b);
  const color = scales[scales.length - 1];
  names.forEach((name, r) => {
    let d = "", pen = false;
    dims.forEach((dim, i) => {
      const t = scales[i].f(dim.values[r]);
      if (t === null || !Number.isFinite(t)) { pen = false; return; }
      d += `${pen ? "L" : "M"}${(M.l + i * gap).toFixed(1)},${y(t).toFixed(1)}`;
      pen = true;
    });
    const c = color.f(dims[dims.length - 1].values[r]);
    const hue = c === null ? 0 : 240 - 240 * c;
    root.append(svg("path", {d, class: "pcline", stroke: c === null ? "#999" : `hsl(${hue},70%,45%)`}, svg("title", {}, name)));
  });
  dims.forEach((dim, i) => {
    const x = M.l + i * gap, s = scales[i];
    root.append(svg("line", {x1: x, x2: x, y1: M.t, y2: height - M.b, class: "paxis"}),
      svg("text", {x, y: M.t - 10, "text-anchor": "middle", class: "alabel"}, dim.name));
    const labels = s.numeric ? [[s.lo, 0], [s.hi, 1]] : s.cats.map((c, k) => [c, (k + 0.5) / s.cats.length]);
    for (const [text, t] of labels) {
      root.append(svg("text", {x: x + 4, y: y(t) + 4, class: "plabel"}, s.numeric ? fmtNumber(text) : text));
    }
  });
  return root;
}
