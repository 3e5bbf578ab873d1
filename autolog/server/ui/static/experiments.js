// The experiments list: run counts, last activity; create, rename, delete and restore.
import {api, crumbs, el, fmtTime, getState, newestOnly, setState, toast} from "./common.js";

const body = document.querySelector("#experiments tbody");
const viewSelect = document.getElementById("view");
// A view switch while a restore is still posting starts a second load: the first one's older
// list must not land last.
const fetchList = newestOnly();

async function load() {
  const view = getState().get("view") || "active";
  viewSelect.value = view;
  const data = await fetchList("/ui-api/experiments", {view});
  body.replaceChildren(...data.experiments.map(row));
  if (!data.experiments.length) body.append(el("tr", {}, el("td", {colspan: 5, class: "muted"}, "No experiments.")));
}

function row(e) {
  const deleted = e.lifecycle_stage === "deleted";
  const actions = deleted
    ? [el("button", {onclick: () => update(e, {op: "restore"})}, "Restore")]
    : [el("button", {onclick: () => rename(e)}, "Rename"),
       // The default experiment is where runs go when none is set: it stays.
       e.experiment_id === "0" ? null
         : el("button", {onclick: () => update(e, {op: "delete"}), class: "danger"}, "Delete")];
  return el("tr", {"data-id": e.experiment_id},
    el("td", {}, el("a", {href: `/experiments/${encodeURIComponent(e.experiment_id)}`}, e.name),
      deleted ? el("span", {class: "muted"}, " (deleted)") : null),
    el("td", {class: "num"}, String(e.run_count)),
    el("td", {}, fmtTime(e.last_activity)),
    el("td", {}, fmtTime(e.creation_time)),
    el("td", {class: "actions"}, ...actions));
}

async function update(e, body) {
  try {
    await api(`/ui-api/experiments/${encodeURIComponent(e.experiment_id)}/update`, {}, body);
    await load();
  } catch (err) {
    toast(err.message);
  }
}

function rename(e) {
  const name = prompt(`New name for "${e.name}"`, e.name);
  if (name && name !== e.name) update(e, {op: "rename", name});
}

document.getElementById("create").addEventListener("submit", async (event) => {
  event.preventDefault();
  const input = document.getElementById("new-name");
  try {
    await api("/ui-api/experiments/create", {}, {name: input.value});
    input.value = "";
    await load();
  } catch (err) {
    toast(err.message);
  }
});

viewSelect.addEventListener("change", () => {
  setState({view: viewSelect.value === "active" ? "" : viewSelect.value});
  load();
});

crumbs({text: "Experiments"});
load().catch((err) => toast(err.message));
