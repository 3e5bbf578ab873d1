// Compare 2-50 runs: params side by side (differences highlighted), metrics, a parallel
// coordinates view of the differing params against a chosen metric, and overlaid curves.
import {api, crumbs, el, fmtNumber, getState, listParam, newestOnly, runLink, setState, toast} from "./common.js";
import {lineChart, parallelCoords} from "./plot.js";

const s = getState();
const state = {runs: listParam(s, "runs"), metric: s.get("metric") || "", diff: s.get("diff") === "1"};
let data;

function save() {
  setState({runs: state.runs, metric: state.metric, diff: state.diff ? "1" : ""});
}

function table(id, keys, valueOf, differs) {
  const t = document.getElementById(id);
  t.replaceChildren(
    el("thead", {}, el("tr", {}, el("th", {}, ""), ...data.runs.map((r) => el("th", {}, runLink(r))))),
    el("tbody", {}, ...keys.map((k) => el("tr", {class: differs.has(k) ? "differs" : ""},
      el("th", {scope: "row"}, k), ...data.runs.map((r) => el("td", {class: "num"}, valueOf(r, k)))))));
}

function drawParams() {
  const differs = new Set(data.differs);
  const keys = state.diff ? data.differs : data.params;
  table("params", keys, (r, k) => r.params[k] ?? "—", differs);
}

function drawParallel() {
  const keys = data.differs.length ? data.differs : data.params;
  const dims = keys.slice(0, 12).map((k) => ({name: k, values: data.runs.map((r) => r.params[k] ?? null)}));
  if (state.metric) dims.push({name: state.metric, values: data.runs.map((r) => r.metrics[state.metric] ?? null)});
  document.getElementById("parallel").replaceChildren(parallelCoords(dims, data.runs.map((r) => r.run_name || r.run_id)));
}

const fetchCurves = newestOnly();  // the metric changed again before its curves came

async function drawCurves() {
  const box = document.getElementById("curves");
  if (!state.metric) { box.replaceChildren(); return; }
  const ids = data.runs.map((r) => r.run_id);
  document.getElementById("open-chart").setAttribute("href",
    `/chart?runs=${encodeURIComponent(ids.join(","))}&metrics=${encodeURIComponent(state.metric)}`);
  const series = await fetchCurves("/ui-api/series", {runs: ids, metrics: state.metric, points: 500});
  box.replaceChildren(lineChart(series.series.map((x) => ({name: x.run_name || x.run_id, points: x.points.map((p) => [p[0], p[2]])})),
    {title: state.metric, xLabel: "step", legend: true}));
}

function metricSelect(id, onChange) {
  const select = document.getElementById(id);
  select.replaceChildren(...data.metrics.map((m) => el("option", {value: m, selected: m === state.metric}, m)));
  select.addEventListener("change", () => { state.metric = select.value; save(); onChange(); });
}

async function main() {
  data = await api("/ui-api/compare", {runs: state.runs});
  if (!state.metric && data.metrics.length) state.metric = data.metrics[0];
  save();
  crumbs({text: "Experiments", href: "/"}, {text: data.experiment_name, href: `/experiments/${encodeURIComponent(data.experiment_id)}`},
    {text: `Compare ${data.runs.length} runs`});
  document.getElementById("title").textContent = `Compare ${data.runs.length} runs`;
  drawParams();
  table("metrics", data.metrics, (r, k) => fmtNumber(r.metrics[k]) || "—", new Set());
  const redraw = () => { drawParallel(); drawCurves().catch((err) => toast(err.message)); };
  metricSelect("pc-metric", () => { document.getElementById("curve-metric").value = state.metric; redraw(); });
  metricSelect("curve-metric", () => { document.getElementById("pc-metric").value = state.metric; redraw(); });
  const only = document.getElementById("only-diff");
  only.checked = state.diff;
  only.addEventListener("change", () => { state.diff = only.checked; save(); drawParams(); });
  drawParallel();
  await drawCurves();
  document.body.dataset.ready = "1";
}

main().catch((err) => toast(err.message));
