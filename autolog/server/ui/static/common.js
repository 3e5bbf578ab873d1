// Shared helpers of every view: DOM building (text only, never innerHTML, so names and values
// from runs are always shown as text), fetching the JSON endpoints, URL state, formatting.

/** Build an element: el("a", {href: "/x", class: "c"}, "text", child). Strings become text nodes. */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") node.className = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key === "href") node.setAttribute("href", safeHref(value));
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

/** Only our own relative links and http(s) links; "javascript:" and friends become inert. */
export function safeHref(value) {
  const text = String(value);
  if (text.startsWith("/") && !text.startsWith("//")) return text;
  try {
    const url = new URL(text, location.href);
    return url.protocol === "http:" || url.protocol === "https:" ? url.href : "#";
  } catch {
    return "#";
  }
}

export class ApiError extends Error {
  constructor(message, status, body) {
    super(message);
    this.status = status;
    this.body = body;
  }
}

/** GET (or POST a JSON body to) one of the /ui-api/ endpoints; throws ApiError on failure. */
export async function api(path, params = {}, body = undefined) {
  const url = new URL(path, location.origin);
  for (const [key, value] of Object.entries(params)) {
    if (value === undefined || value === null || value === "") continue;
    if (Array.isArray(value)) value.forEach((v) => url.searchParams.append(key, v));
    else url.searchParams.set(key, value);
  }
  const init = body === undefined ? {} : {
    method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(body),
  };
  const response = await fetch(url, init);
  const data = await response.json().catch(() => ({error: response.statusText}));
  if (!response.ok) throw new ApiError(data.error || response.statusText, response.status, data);
  return data;
}

/**
 * An api() for one thing a view shows (a list, a preview, a chart) that is fetched again as the
 * user acts. Requests overlap when the user acts faster than the server answers, and answers can
 * arrive out of order: only the newest request's answer (or error) comes back; a superseded one
 * never settles, so an older answer arriving last cannot replace what the user asked for since.
 */
export function newestOnly() {
  let latest = 0;
  return (...args) => {
    const ticket = ++latest;
    return api(...args).then(
      (data) => (ticket === latest ? data : NEVER),
      (err) => { if (ticket === latest) throw err; return NEVER; });
  };
}
const NEVER = new Promise(() => {});

/** The page's state from its URL query. */
export function getState() {
  return new URLSearchParams(location.search);
}

/** Replace the URL query with `state` (an object; empty values dropped) without reloading. */
export function setState(state, push = false) {
  const query = new URLSearchParams();
  for (const [key, value] of Object.entries(state)) {
    if (value === undefined || value === null || value === "" ||
        (Array.isArray(value) && !value.length)) continue;
    query.set(key, Array.isArray(value) ? value.join(",") : value);
  }
  const text = query.toString();
  const url = location.pathname + (text ? "?" + text : "");
  if (url !== location.pathname + location.search) {
    history[push ? "pushState" : "replaceState"](null, "", url);
  }
  const twin = document.querySelector("a.twin");
  if (twin) {
    const base = twin.getAttribute("href").split("?")[0];
    twin.setAttribute("href", base + (text ? "?" + text : ""));
  }
}

/** "a,b" -> ["a", "b"]. Keys may contain commas only when passed as repeated parameters. */
export function listParam(state, name) {
  const all = state.getAll(name);
  return (all.length === 1 ? all[0].split(",") : all).filter(Boolean);
}

export function fmtTime(ms) {
  if (ms === null || ms === undefined) return "";
  const d = new Date(ms);
  const pad = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

export function fmtDuration(ms) {
  if (ms === null || ms === undefined) return "";
  if (ms < 1000) return `${ms} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
  return `${Math.floor(s / 3600)} h ${Math.round((s % 3600) / 60)} min`;
}

export function fmtNumber(value) {
  if (value === null || value === undefined) return "";
  if (typeof value !== "number") return String(value);
  if (Number.isInteger(value)) return String(value);
  const abs = Math.abs(value);
  return abs >= 1e6 ? value.toExponential(3) : String(+value.toPrecision(6));
}

export function toast(message) {
  const box = document.getElementById("toast");
  if (!box) return;
  box.textContent = message;
  box.classList.add("show");
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => box.classList.remove("show"), 5000);
}

export function crumbs(...items) {
  const nav = document.getElementById("crumbs");
  nav.replaceChildren(...items.flatMap((item, i) => [
    i ? el("span", {class: "sep", "aria-hidden": "true"}, "/") : null,
    item.href ? el("a", {href: item.href}, item.text) : el("span", {}, item.text),
  ]).filter(Boolean));
}

export function statusBadge(status) {
  return el("span", {class: `status s-${String(status).toLowerCase()}`}, status);
}

export function runLink(run) {
  return el("a", {href: `/runs/${encodeURIComponent(run.run_id)}`}, run.run_name || run.run_id);
}
