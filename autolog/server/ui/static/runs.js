// The runs table of one experiment. The server filters, sorts and pages; this module keeps a
// sparse cache of fetched pages and puts in the DOM only the rows inside the viewport (plus a
// small margin), so 100,000 runs cost what 40 do. Everything the user chose lives in the URL.
import {api, crumbs, el, fmtDuration, fmtNumber, fmtTime, getState, listParam, newestOnly,
  runLink, setState, statusBadge, toast} from "./common.js";

const ROW = 30, PAGE = 100, MARGIN = 10, REFRESH_MS = 5000;
const ATTRS = [
  ["attributes:run_name", "Run", 240], ["attributes:status", "Status", 100],
  ["attributes:start_time", "Started", 170], ["attributes:duration", "Duration", 100],
  ["attributes:user_id", "User", 110], ["attributes:source", "Source", 160],
];
const experimentId = document.getElementById("app").dataset.experimentId;
const table = document.getElementById("table");
const head = table.querySelector(".vhead");
const bodyBox = table.querySelector(".vbody");
const spacer = table.querySelector(".vspacer");
const filterInput = document.getElementById("filter");
const filterError = document.getElementById("filter-error");

const state = readState();
let total = 0;                  // top-level runs matching
let pages = new Map();          // page number -> rows (or a pending promise)
let tokens = new Map();         // page number -> the token that fetches it
let failed = false;             // the last page request failed (a bad filter, say)
let counted = false;            // total is exact (the count arrived), not a lower bound
let expanded = new Map();       // parent run_id -> {index, rows}
let generation = 0;             // bumps when the query changes; stale answers are dropped

function readState() {
  const s = getState();
  return {
    filter: s.get("filter") || "",
    sort: s.get("sort") || "-attributes:start_time",
    cols: listParam(s, "cols"),
    sel: new Set(listParam(s, "sel")),
  };
}

function saveState() {
  setState({
    filter: state.filter, sort: state.sort === "-attributes:start_time" ? "" : state.sort,
    cols: state.cols, sel: [...state.sel],
  });
  document.getElementById("chart-btn").disabled = state.sel.size < 1;
  document.getElementById("compare-btn").disabled = state.sel.size < 2;
}

function columns() {
  return [...ATTRS.map(([id, label, width]) => ({id, label, width})),
    ...state.cols.map((id) => ({id, label: id.replace(/^(params|metrics|tags):/, (m, k) => ({params: "param ", metrics: "", tags: "tag "})[k]), width: 130, extra: true}))];
}

function gridTemplate() {
  return `36px ${columns().map((c) => c.width + "px").join(" ")}`;
}

// -- header -------------------------------------------------------------------------------------
function drawHead() {
  const desc = state.sort.startsWith("-"), sortId = state.sort.replace(/^[-+]/, "");
  head.style.gridTemplateColumns = gridTemplate();
  head.replaceChildren(el("div", {class: "cell", role: "columnheader"}, ""), ...columns().map((c) => {
    const active = c.id === sortId;
    const cell = el("div", {class: "cell", role: "columnheader", "aria-sort": active ? (desc ? "descending" : "ascending") : "none"},
      el("button", {class: "sort", title: `Sort by ${c.label}`, "data-col": c.id,
        onclick: () => { state.sort = active && !desc ? "-" + c.id : active ? c.id : (c.id.startsWith("attributes:run_name") ? c.id : "-" + c.id); reload(); }},
      c.label, active ? (desc ? " ▼" : " ▲") : ""));
    if (c.extra) cell.append(el("button", {class: "x", title: `Remove column ${c.label}`, "aria-label": `Remove column ${c.label}`,
      onclick: () => { state.cols = state.cols.filter((x) => x !== c.id); reload(); }}, "×"));
    return cell;
  }));
}

// -- the display list: top-level rows with expanded children (at any depth) inserted ------------
function expansions() {
  // Top-level parents (they have an index among the top-level rows); nested ones hang below.
  return [...expanded.values()].filter((e) => e.index !== null).sort((a, b) => a.index - b.index);
}

function subtreeSize(parentId) {
  let n = 0;
  for (const c of expanded.get(parentId)?.rows || []) n += 1 + (expanded.has(c.run_id) ? subtreeSize(c.run_id) : 0);
  return n;
}

function displayCount() {
  return total + expansions().reduce((n, e) => n + subtreeSize(e.id), 0);
}

function childAt(parentId, k, depth) {
  for (const c of expanded.get(parentId).rows) {
    if (k === 0) return {child: c, depth};
    k--;
    if (expanded.has(c.run_id)) {
      const size = subtreeSize(c.run_id);
      if (k < size) return childAt(c.run_id, k, depth + 1);
      k -= size;
    }
  }
  return {};
}

function locate(d) {
  let extra = 0;
  for (const e of expansions()) {
    const size = subtreeSize(e.id);
    if (d <= e.index + extra) return {top: d - extra};
    if (d <= e.index + extra + size) return childAt(e.id, d - e.index - extra - 1, 1);
    extra += size;
  }
  return {top: d - extra};
}

function topRow(i) {
  const page = pages.get(Math.floor(i / PAGE));
  return Array.isArray(page) ? page[i % PAGE] : undefined;
}

async function fetchPage(n) {
  if (pages.has(n)) return;
  const gen = generation;
  // Scrolling on: the previous page's token (keyset, as fast deep down as at the top);
  // a jump down the scrollbar: an offset.
  const token = tokens.get(n);
  const promise = api(`/ui-api/experiments/${experimentId}/runs`, {
    filter: state.filter, sort: state.sort, cols: state.cols, limit: PAGE,
    ...(token ? {page_token: token} : {offset: n * PAGE}),
  });
  pages.set(n, promise);
  try {
    const data = await promise;
    if (gen !== generation) return;
    pages.set(n, data.runs);
    if (data.next_page_token) tokens.set(n + 1, data.next_page_token);
    if (!counted) total = Math.max(total, n * PAGE + data.runs.length + (data.next_page_token ? PAGE : 0));
    filterError.replaceChildren();
    schedule();
  } catch (err) {
    if (gen !== generation) return;
    pages.delete(n);
    showError(err);
  }
}

async function fetchCount() {
  const gen = generation;
  const data = await api(`/ui-api/experiments/${experimentId}/runs`, {filter: state.filter, count: 1});
  if (gen !== generation) return;
  counted = !data.more;
  if (data.more) {  // "10,000+": a lower bound; the scrollbar grows as pages arrive
    total = Math.max(total, data.total);
    document.getElementById("count").textContent = `${data.total.toLocaleString()}+ runs`;
  } else {
    setTotal(data.total);
  }
  schedule();
}

function setTotal(n) {
  total = n;
  document.getElementById("count").textContent = `${n.toLocaleString()} run${n === 1 ? "" : "s"}`;
}

function showError(err) {
  failed = true;
  if (err.body && err.body.position !== undefined) {
    const pos = err.body.position;
    filterError.replaceChildren(
      el("div", {}, err.message),
      el("pre", {class: "caret", "aria-hidden": "true"}, state.filter + "\n" + " ".repeat(pos) + "^"));
    filterInput.setAttribute("aria-invalid", "true");
    filterInput.focus();
    filterInput.setSelectionRange(pos, pos);
  } else {
    filterError.replaceChildren(el("div", {}, err.message));
  }
  setTotal(0);
  schedule();
}

// -- rendering ----------------------------------------------------------------------------------
let frame = 0;
function schedule() {
  if (!frame) frame = requestAnimationFrame(() => { frame = 0; render(); });
}

function cellValue(run, id) {
  switch (id) {
    case "attributes:run_name": return null;
    case "attributes:status": return statusBadge(run.status);
    case "attributes:start_time": return fmtTime(run.start_time);
    case "attributes:duration": return fmtDuration(run.duration);
    case "attributes:user_id": return run.user_id;
    case "attributes:source": return run.source;
    default: {
      const v = run.cells[id];
      return typeof v === "number" ? fmtNumber(v) : v === undefined ? "" : v;
    }
  }
}

function drawRow(run, d, depth) {
  const cols = columns();
  const checked = state.sel.has(run.run_id);
  const name = el("div", {class: "cell name", style: `padding-left:${6 + depth * 18}px`});
  if (run.children) {
    const open = expanded.has(run.run_id);
    name.append(el("button", {class: "twisty", "aria-expanded": String(open),
      "aria-label": `${open ? "Collapse" : "Expand"} ${run.children} child runs`,
      onclick: () => toggle(run, d, depth)}, open ? "▾" : "▸"));
  }
  else if (depth) name.append(el("span", {class: "twisty-space"}));
  name.append(runLink(run));
  if (run.children) name.append(el("span", {class: "muted", title: "child runs"}, ` (${run.children})`));
  const row = el("div", {class: `vrow${checked ? " selected" : ""}${depth ? " child" : ""}`, role: "row",
    "data-run-id": run.run_id, style: `top:${d * ROW}px;grid-template-columns:${gridTemplate()}`},
  el("div", {class: "cell"}, el("input", {type: "checkbox", checked, "aria-label": `Select ${run.run_name}`,
    onchange: (e) => { e.target.checked ? state.sel.add(run.run_id) : state.sel.delete(run.run_id); saveState(); schedule(); }})),
  name,
  ...cols.slice(1).map((c) => {
    const v = cellValue(run, c.id);
    return el("div", {class: `cell${typeof run.cells[c.id] === "number" ? " num" : ""}`, title: v instanceof Node ? null : v}, v);
  }));
  return row;
}

function render() {
  const count = displayCount();
  spacer.style.height = `${count * ROW}px`;
  const first = Math.max(0, Math.floor(bodyBox.scrollTop / ROW) - MARGIN);
  const last = Math.min(count, Math.ceil((bodyBox.scrollTop + bodyBox.clientHeight) / ROW) + MARGIN);
  const rows = [];
  const wanted = new Set();
  for (let d = first; d < last; d++) {
    const spot = locate(d);
    if (spot.child) { rows.push(drawRow(spot.child, d, spot.depth)); continue; }
    const run = topRow(spot.top);
    if (run) rows.push(drawRow(run, d, 0));
    else {
      wanted.add(Math.floor(spot.top / PAGE));
      rows.push(el("div", {class: "vrow loading", style: `top:${d * ROW}px`}, el("div", {class: "cell"}, "…")));
    }
  }
  bodyBox.querySelectorAll(".vrow").forEach((r) => r.remove());
  bodyBox.append(...rows);
  wanted.forEach(fetchPage);
  const loaded = !wanted.size && (Array.isArray(pages.get(0)) || failed);
  document.body.dataset.ready = loaded ? "1" : "0";
}

async function toggle(run, d, depth) {
  if (expanded.has(run.run_id)) {
    expanded.delete(run.run_id);
  } else {
    const data = await api(`/ui-api/experiments/${experimentId}/runs`, {
      parent: run.run_id, sort: state.sort, cols: state.cols, limit: 500});
    expanded.set(run.run_id, {id: run.run_id, index: depth ? null : locate(d).top, rows: data.runs});
  }
  schedule();
}

function reload() {
  generation++;
  pages = new Map();
  tokens = new Map();
  expanded = new Map();
  counted = false;
  failed = false;
  total = 0;
  document.getElementById("count").textContent = "";
  saveState();
  drawHead();
  bodyBox.scrollTop = 0;
  // The count after the first page: the page is what the user waits for, and on SQLite the
  // count then reads the size of the view the page request built instead of counting again.
  const gen = generation;
  fetchPage(0).then(() => {
    if (gen === generation && !failed) fetchCount().catch(() => {});  // a bad filter: reported by the page
  });
  schedule();
}

// Running runs update themselves: re-fetch just the visible ones that are still running.
async function refreshRunning() {
  const running = [...bodyBox.querySelectorAll(".vrow[data-run-id]")]
    .filter((r) => r.querySelector(".s-running")).map((r) => r.dataset.runId);
  if (!running.length) return;
  const data = await api(`/ui-api/experiments/${experimentId}/runs`, {ids: running, sort: state.sort, cols: state.cols});
  const fresh = new Map(data.runs.map((r) => [r.run_id, r]));
  for (const page of pages.values()) {
    if (!Array.isArray(page)) continue;
    page.forEach((r, i) => { if (fresh.has(r.run_id)) page[i] = fresh.get(r.run_id); });
  }
  for (const e of expanded.values()) e.rows = e.rows.map((r) => fresh.get(r.run_id) || r);
  schedule();
}

// -- column picker ------------------------------------------------------------------------------
const picker = document.getElementById("picker");
const keySearch = document.getElementById("key-search");
let searchTimer = 0;

const fetchKeys = newestOnly();  // the search box's earlier text must not win

async function loadKeys() {
  const data = await fetchKeys(`/ui-api/experiments/${experimentId}/keys`, {q: keySearch.value, limit: 100});
  const lists = document.getElementById("key-lists");
  lists.replaceChildren(...["params", "metrics", "tags"].map((kind) => el("fieldset", {class: "keys"},
    el("legend", {}, kind + (data[kind].truncated ? " (first 100; search to narrow)" : "")),
    ...data[kind].keys.map((key) => {
      const id = `${kind}:${key}`;
      return el("label", {class: "key"}, el("input", {type: "checkbox", checked: state.cols.includes(id), "data-col": id,
        onchange: (e) => {
          state.cols = e.target.checked ? [...state.cols, id] : state.cols.filter((x) => x !== id);
          reload();
        }}), key);
    }))));
}

document.getElementById("columns-btn").addEventListener("click", (e) => {
  picker.hidden = !picker.hidden;
  e.target.setAttribute("aria-expanded", String(!picker.hidden));
  if (!picker.hidden) { loadKeys().catch((err) => toast(err.message)); keySearch.focus(); }
});
keySearch.addEventListener("input", () => {
  clearTimeout(searchTimer);
  searchTimer = setTimeout(() => loadKeys().catch((err) => toast(err.message)), 200);
});

// -- filter, buttons, scrolling -----------------------------------------------------------------
function applyFilter() {
  state.filter = filterInput.value.trim();
  filterInput.removeAttribute("aria-invalid");
  filterError.replaceChildren();
  reload();
}
document.getElementById("apply").addEventListener("click", applyFilter);
filterInput.addEventListener("keydown", (e) => { if (e.key === "Enter") applyFilter(); });
document.getElementById("chart-btn").addEventListener("click", () => {
  const metrics = state.cols.filter((c) => c.startsWith("metrics:")).map((c) => c.slice(8));
  const q = new URLSearchParams({runs: [...state.sel].join(",")});
  if (metrics.length) q.set("metrics", metrics.join(","));
  location.href = `/chart?${q}`;
});
document.getElementById("compare-btn").addEventListener("click", () => {
  location.href = `/compare?runs=${encodeURIComponent([...state.sel].join(","))}`;
});
bodyBox.addEventListener("scroll", schedule, {passive: true});
window.addEventListener("resize", schedule);
window.addEventListener("popstate", () => { Object.assign(state, readState()); filterInput.value = state.filter; reload(); });

filterInput.value = state.filter;
api(`/ui-api/experiments/${experimentId}`).then((e) => {
  crumbs({text: "Experiments", href: "/"}, {text: e.name});
}).catch(() => {});
reload();
setInterval(() => refreshRunning().catch(() => {}), REFRESH_MS);
