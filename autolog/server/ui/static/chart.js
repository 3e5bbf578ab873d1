// Charts of one or more metrics of one or more runs: x = step, wall time or relative time;
// log scale; smoothing. The server sends each series downsampled (min and max per bucket).
import {api, crumbs, el, getState, listParam, newestOnly, setState, toast} from "./common.js";
import {COLORS, lineChart, smooth} from "./plot.js";

const charts = document.getElementById("charts");
const xSelect = document.getElementById("x");
const logBox = document.getElementById("log");
const smoothSlider = document.getElementById("smooth");
const s = getState();
const state = {
  runs: listParam(s, "runs"), metrics: listParam(s, "metrics"),
  x: s.get("x") || "step", log: s.get("log") === "1", smooth: Number(s.get("smooth") || 0),
};
let data = null;

function save() {
  setState({runs: state.runs, metrics: state.metrics, x: state.x === "step" ? "" : state.x,
    log: state.log ? "1" : "", smooth: state.smooth || ""});
}

function xOf(p, runId) {
  if (state.x === "time") return p[1];
  if (state.x === "relative") return (p[1] - data.start_times[runId]) / 1000;
  return p[0];
}

function draw() {
  const started = performance.now();
  charts.replaceChildren(...state.metrics.map((key) => {
    const series = data.series.filter((x) => x.key === key).map((x) => ({
      name: x.run_name || x.run_id,
      color: COLORS[state.runs.indexOf(x.run_id) % COLORS.length],
      points: smooth(x.points.map((p) => [xOf(p, x.run_id), p[2]]), state.smooth),
    }));
    const sampled = data.series.filter((x) => x.key === key && x.sampled)
      .map((x) => `${x.run_name}: ${x.count.toLocaleString()} points`);
    return el("section", {class: "chart-card", "data-metric": key},
      lineChart(series, {title: key, xLabel: {step: "step", time: "wall time", relative: "seconds since start"}[state.x],
        xType: {step: "number", time: "time", relative: "seconds"}[state.x], logY: state.log, legend: true}),
      sampled.length ? el("p", {class: "muted"}, `Downsampled (min and max per bucket): ${sampled.join(", ")}`) : null);
  }));
  document.body.dataset.ready = "1";
  document.body.dataset.drawMs = String(Math.round(performance.now() - started));
}

async function pickMetrics() {
  // No metric named: offer the first run's metrics, drawing the first one.
  const run = await api(`/ui-api/runs/${encodeURIComponent(state.runs[0])}`);
  const keys = run.metrics.map((m) => m.key);
  if (!state.metrics.length && keys.length) state.metrics = [keys[0]];
  const picks = document.getElementById("metric-picks");
  picks.replaceChildren(el("span", {class: "muted"}, "metrics: "), ...keys.slice(0, 50).map((k) => el("label", {class: "key"},
    el("input", {type: "checkbox", checked: state.metrics.includes(k), onchange: (e) => {
      state.metrics = e.target.checked ? [...state.metrics, k] : state.metrics.filter((x) => x !== k);
      load().catch((err) => toast(err.message));
    }}), k)));
  crumbs({text: "Experiments", href: "/"}, {text: run.experiment_name, href: `/experiments/${encodeURIComponent(run.experiment_id)}`}, {text: "Chart"});
}

const fetchSeries = newestOnly();  // metrics ticked in quick succession

async function load() {
  save();
  data = await fetchSeries("/ui-api/series", {runs: state.runs, metrics: state.metrics, points: 1000});
  draw();
}

xSelect.value = state.x;
logBox.checked = state.log;
smoothSlider.value = state.smooth;
xSelect.addEventListener("change", () => { state.x = xSelect.value; save(); draw(); });
logBox.addEventListener("change", () => { state.log = logBox.checked; save(); draw(); });
smoothSlider.addEventListener("input", () => { state.smooth = Number(smoothSlider.value); save(); draw(); });

if (!state.runs.length) {
  charts.replaceChildren(el("p", {class: "muted"}, "Select runs in a runs table, then press Chart."));
} else {
  pickMetrics().then(load).catch((err) => toast(err.message));
}
