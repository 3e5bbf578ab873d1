// One run: overview, metrics with sparklines, params, tags, and the artifact tree with previews.
import {api, crumbs, el, fmtDuration, fmtNumber, fmtTime, getState, newestOnly, runLink,
  setState, statusBadge, toast} from "./common.js";
import {drawSpec, sparkline} from "./plot.js";

const runId = document.getElementById("app").dataset.runId;
const base = `/ui-api/runs/${encodeURIComponent(runId)}`;
const SPARK_LIMIT = 200;

function kv(tbody, entries) {
  tbody.replaceChildren(...entries.map(([k, v]) => el("tr", {}, el("th", {scope: "row"}, k), el("td", {}, v))));
  if (!entries.length) tbody.append(el("tr", {}, el("td", {class: "muted"}, "none")));
}

function overview(run) {
  const end = run.end_time ?? (run.status === "RUNNING" ? Date.now() : null);
  const items = [
    ["Status", statusBadge(run.status)], ["Run id", el("code", {}, run.run_id)],
    ["Started", fmtTime(run.start_time)], ["Ended", fmtTime(run.end_time)],
    ["Duration", end ? fmtDuration(end - run.start_time) : ""], ["User", run.user_id],
    ["Parent", run.parent ? runLink(run.parent) : "—"],
    ["Children", run.children.length ? el("span", {}, ...run.children.flatMap((c, i) => [i ? ", " : "", runLink(c)])) : "—"],
  ];
  const box = document.getElementById("overview");
  box.replaceChildren(...items.map(([k, v]) => el("div", {class: "card"}, el("div", {class: "muted"}, k), el("div", {}, v))));
  if (run.description) box.append(el("div", {class: "card wide"}, el("div", {class: "muted"}, "Description"), el("p", {class: "pre"}, run.description)));
  if (run.inputs.length) box.append(el("div", {class: "card wide"}, el("div", {class: "muted"}, "Datasets"),
    ...run.inputs.map((d) => el("div", {}, `${d.context}: ${d.name || d.digest} ${d.shape ? "[" + d.shape.join("×") + "]" : ""}`))));
}

async function metrics(run) {
  const body = document.querySelector("#metrics tbody");
  const spark = new Map();
  body.replaceChildren(...run.metrics.map((m) => {
    const cell = el("td", {});
    spark.set(m.key, cell);
    const chart = `/chart?runs=${encodeURIComponent(run.run_id)}&metrics=${encodeURIComponent(m.key)}`;
    return el("tr", {}, el("th", {scope: "row"}, el("a", {href: chart}, m.key)),
      el("td", {class: "num"}, fmtNumber(m.value)), el("td", {class: "num"}, String(m.step)), cell);
  }));
  if (!run.metrics.length) body.append(el("tr", {}, el("td", {colspan: 4, class: "muted"}, "none")));
  const keys = run.metrics.slice(0, SPARK_LIMIT).map((m) => m.key);
  // One request per 20 keys: a run with thousands of metrics still draws its first ones fast.
  for (let i = 0; i < keys.length; i += 20) {
    const data = await api("/ui-api/series", {runs: run.run_id, metrics: keys.slice(i, i + 20), points: 60});
    for (const s of data.series) spark.get(s.key)?.append(sparkline(s.points.map((p) => [p[0], p[2]])));
  }
}

// -- artifacts ----------------------------------------------------------------------------------
const tree = document.getElementById("tree");
const preview = document.getElementById("preview");

async function listInto(list, path) {
  const data = await api(`${base}/artifacts`, {path});
  list.replaceChildren(...data.files.map((f) => {
    const item = el("li", {role: "treeitem", "data-path": f.path});
    const label = el("button", {class: f.is_dir ? "dir" : "file", "aria-expanded": f.is_dir ? "false" : null,
      onclick: async () => {
        show(f.path);
        if (f.is_dir) {
          const open = label.getAttribute("aria-expanded") === "true";
          label.setAttribute("aria-expanded", String(!open));
          label.querySelector(".icon").textContent = open ? "▸" : "▾";
          const sub = item.querySelector("ul");
          if (open) sub?.remove();
          else { const ul = el("ul", {role: "group"}); item.append(ul); await listInto(ul, f.path); }
        }
      }}, el("span", {class: "icon", "aria-hidden": "true"}, f.is_dir ? "▸" : f.plotspec ? "▦" : "·"), f.name);
    item.append(label);
    return item;
  }));
  if (!data.files.length && !path) list.append(el("li", {class: "muted"}, "No artifacts."));
}

function rawUrl(path, download) {
  return `${base}/raw?path=${encodeURIComponent(path)}${download ? "&download=1" : ""}`;
}

const fetchPreview = newestOnly();  // a slow file's preview must not replace the next one's

async function show(path) {
  setState({artifact: path});
  preview.replaceChildren(el("p", {class: "muted"}, "Loading…"));
  let p;
  try {
    p = await fetchPreview(`${base}/preview`, {path});
  } catch (err) {
    preview.replaceChildren(el("p", {class: "error"}, err.message));
    return;
  }
  const head = el("div", {class: "phead"}, el("b", {}, p.path),
    el("a", {href: rawUrl(p.path, true), download: true, class: "button"}, p.kind === "folder" || p.kind === "model" ? "Download folder (zip)" : "Download"));
  let body;
  switch (p.kind) {
    case "plotspec": body = el("div", {class: "spec", "data-kind": p.spec.kind}, drawSpec(p.spec)); break;
    case "image": body = el("img", {src: rawUrl(p.path), alt: p.name, class: "img"}); break;
    case "html": body = el("iframe", {src: rawUrl(p.path), sandbox: "", title: p.name, class: "html"}); break;
    case "csv": body = el("div", {class: "scroll"}, el("table", {class: "grid csv"},
      el("thead", {}, el("tr", {}, ...(p.rows[0] || []).map((c) => el("th", {}, c)))),
      el("tbody", {}, ...p.rows.slice(1).map((r) => el("tr", {}, ...r.map((c) => el("td", {}, c)))))));
      break;
    case "json": case "yaml": case "text": body = el("pre", {class: "text"}, p.text); break;
    case "model": body = model(p); break;
    case "folder": body = el("p", {class: "muted"}, "A folder: open it in the tree, or download it as a zip."); break;
    default: body = el("p", {class: "muted"}, `A binary file of ${p.size} bytes.`);
  }
  preview.replaceChildren(head, body, p.truncated ? el("p", {class: "muted"}, "Cut: download the file for the rest.") : "");
}

function model(p) {
  const sig = p.signature || {};
  // Column specs {name, type} or tensor specs {type: "tensor", dtype, shape}.
  const schema = (items) => el("table", {class: "grid"},
    el("thead", {}, el("tr", {}, el("th", {}, "name"), el("th", {}, "type"), el("th", {}, "shape"))),
    el("tbody", {}, ...(items || []).map((c) => el("tr", {}, el("td", {}, c.name ?? "—"),
      el("td", {}, c.type === "tensor" ? `tensor of ${c.dtype}` : c.type ?? ""),
      el("td", {}, c.shape ? `(${c.shape.map((d) => (d === -1 ? "any" : d)).join(", ")})` : "")))));
  return el("div", {class: "model"},
    el("p", {}, `Flavor ${p.flavor || "?"}, ${p.model_class || ""} (${p.framework || ""} ${p.framework_version || ""}, Python ${p.python_version || "?"})`),
    el("h3", {}, "Signature"), sig.inputs ? el("div", {class: "two"}, el("div", {}, el("h4", {}, "Inputs"), schema(sig.inputs)),
      el("div", {}, el("h4", {}, "Outputs"), schema(sig.outputs))) : el("p", {class: "muted"}, "none"),
    el("h3", {}, "Requirements"), el("pre", {class: "text"}, p.requirements || "none"));
}

async function main() {
  const run = await api(base);
  document.getElementById("title").replaceChildren(run.run_name || run.run_id, " ", statusBadge(run.status));
  document.title = `${run.run_name || run.run_id} · autolog`;
  crumbs({text: "Experiments", href: "/"}, {text: run.experiment_name, href: `/experiments/${encodeURIComponent(run.experiment_id)}`},
    {text: run.run_name || run.run_id});
  overview(run);
  kv(document.querySelector("#params tbody"), Object.entries(run.params));
  kv(document.querySelector("#tags tbody"), Object.entries(run.tags));
  await listInto(tree, "");
  const wanted = getState().get("artifact");
  if (wanted) await show(wanted);
  document.body.dataset.ready = "1";
  await metrics(run);
  if (run.status === "RUNNING") setTimeout(() => location.reload(), 10000);
}

main().catch((err) => toast(err.message));
