// Legato's web UI: plain JavaScript over /api/v1, no build step, no network but this server.
"use strict";
const main = document.getElementById("main");
const TERMINAL = ["completed", "failed", "cancelled"];
let timer = null;

function token() { return sessionStorage.getItem("legato-token"); }

async function api(path, options = {}) {
  const headers = { "Content-Type": "application/json" };
  if (token()) headers["Authorization"] = "Bearer " + token();
  const response = await fetch("/api/v1" + path, { ...options, headers });
  const body = await response.json();
  if (response.status === 401) {
    const given = prompt("This server needs an API token:");
    if (given) { sessionStorage.setItem("legato-token", given); return api(path, options); }
  }
  if (!response.ok) throw new Error(body.error ? body.error.code + ": " + body.error.message : response.statusText);
  return body;
}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") node.className = v; else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v);
  }
  for (const c of children) node.append(c instanceof Node ? c : document.createTextNode(c ?? ""));
  return node;
}

const badge = (s) => el("span", { class: "badge " + s }, s);
const when = (t) => (t ? new Date(typeof t === "number" ? t * 1000 : t).toLocaleString() : "");
const json = (v) => el("pre", {}, v === undefined ? "" : JSON.stringify(v, null, 2));
const link = (href, text) => el("a", { href }, text);
function table(head, rows, id) {
  return el("table", id ? { id } : {}, el("tr", {}, ...head.map((h) => el("th", {}, h))),
    ...rows.map((r) => el("tr", r.attrs || {}, ...r.cells.map((c) => el("td", {}, c)))));
}
function show(...nodes) { main.replaceChildren(...nodes); }
function fail(e) { show(el("p", { class: "error", id: "error" }, String(e.message || e))); }
function refresh(fn, ms) { clearTimeout(timer); timer = setTimeout(() => route().catch(fail), ms); }

async function runsPage(query) {
  const params = new URLSearchParams(query);
  const form = el("form", { class: "filters", id: "filters" },
    el("input", { name: "blueprint", placeholder: "blueprint", value: params.get("blueprint") || "" }),
    el("select", { name: "status" }, ...["", "running", "paused", "completed", "failed", "cancelled"].map((s) => {
      const o = el("option", { value: s }, s || "any status"); if (s === (params.get("status") || "")) o.selected = true; return o;
    })),
    el("input", { name: "since", placeholder: "since (1h, 2d)", value: params.get("since") || "" }),
    el("button", { type: "submit" }, "Filter"));
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const q = new URLSearchParams([...new FormData(form)].filter(([, v]) => v));
    location.hash = "#/runs?" + q.toString();
  });
  const page = await api("/runs?" + params.toString());
  const rows = page.runs.map((r) => ({ attrs: { "data-run": r.run_id }, cells: [
    link("#/runs/" + r.run_id, r.run_id), r.blueprint_id + " v" + r.blueprint_version,
    badge(r.status), when(r.started_at), when(r.ended_at)] }));
  const more = page.cursor ? link("#/runs?" + new URLSearchParams({ ...Object.fromEntries(params), cursor: page.cursor }), "older runs →") : "";
  show(el("h1", {}, "Runs"), form, table(["run", "blueprint", "status", "started", "ended"], rows, "runs"), el("p", {}, more));
  if (page.runs.some((r) => r.status === "running")) refresh(route, 2000);
}

function drawGraph(graph, colours) {
  const W = 150, H = 40, GX = 60, GY = 50, NS = "http://www.w3.org/2000/svg";
  const pos = {};
  for (const n of graph.nodes) pos[n.id] = { x: 20 + n.layer * (W + GX), y: 20 + n.slot * (H + GY) };
  const width = Math.max(...Object.values(pos).map((p) => p.x)) + W + 20;
  const height = Math.max(...Object.values(pos).map((p) => p.y)) + H + 30;
  const svg = document.createElementNS(NS, "svg");
  svg.setAttribute("width", width); svg.setAttribute("height", height); svg.setAttribute("id", "graph");
  svg.innerHTML = '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto"><path d="M0,0L10,5L0,10z" fill="#868e96"/></marker></defs>';
  for (const e of graph.edges) {
    const a = pos[e.source], b = pos[e.target]; if (!a || !b) continue;
    const path = document.createElementNS(NS, "path");
    const x1 = a.x + W, y1 = a.y + H / 2, x2 = b.x, y2 = b.y + H / 2;
    const d = e.loop ? `M${a.x + W / 2},${a.y + H} C${a.x + W / 2},${a.y + H + 40} ${b.x + W / 2},${b.y + H + 40} ${b.x + W / 2},${b.y + H}`
      : `M${x1},${y1} C${x1 + GX / 2},${y1} ${x2 - GX / 2},${y2} ${x2},${y2}`;
    path.setAttribute("d", d); path.setAttribute("class", "edge" + (e.loop ? " loop" : "") + (e.fallback ? " fallback" : ""));
    svg.append(path);
  }
  for (const n of graph.nodes) {
    const g = document.createElementNS(NS, "g");
    g.setAttribute("class", "node " + (colours[n.id] || "pending")); g.setAttribute("data-node", n.id);
    g.setAttribute("transform", `translate(${pos[n.id].x},${pos[n.id].y})`);
    g.innerHTML = `<rect width="${W}" height="${H}"></rect><text x="8" y="17"></text><text x="8" y="32" fill="#868e96"></text>`;
    g.querySelectorAll("text")[0].textContent = n.id; g.querySelectorAll("text")[1].textContent = n.uses.length > 20 ? "…" + n.uses.slice(-19) : n.uses;
    const title = document.createElementNS(NS, "title"); title.textContent = `${n.id}: ${colours[n.id] || "pending"}`; g.append(title);
    svg.append(g);
  }
  return el("div", { class: "graph" }, svg);
}

function failure(f) {
  const text = `attempt ${f.attempt}: ${f.error_type ? f.error_type + ": " : ""}${f.error}`;
  return el("div", { class: "failure" }, text, f.traceback ? el("pre", {}, f.traceback) : "");
}

async function runPage(id) {
  const run = await api("/runs/" + encodeURIComponent(id));
  const [bp, steps, history] = await Promise.all([
    api(`/blueprints/${encodeURIComponent(run.blueprint_id)}/versions/${encodeURIComponent(run.version)}`),
    api(`/runs/${encodeURIComponent(id)}/steps`), api(`/runs/${encodeURIComponent(id)}/history`)]);
  const actions = el("p", { class: "actions" });
  const said = el("span", { class: "error", id: "action-error" });
  const action = (name, label) => el("button", { id: name, onclick: async () => {
    try { await api(`/runs/${encodeURIComponent(id)}/${name}`, { method: "POST", body: "{}" }); route().catch(fail); }
    catch (e) { said.textContent = String(e.message || e); }
  } }, label);
  if (run.status === "running") actions.append(action("pause", "Pause"), action("cancel", "Cancel"));
  if (run.status === "paused") actions.append(action("resume", "Resume"), action("cancel", "Cancel"));
  if (run.status === "failed" || run.status === "cancelled") actions.append(action("retry", "Retry"));
  actions.append(said);
  const stepRows = steps.steps.map((s) => ({ attrs: { "data-step": s.step_id }, cells: [
    s.step_id, badge(s.status), String(s.attempts), json(s.input), json(s.output),
    el("div", { class: "error" }, ...s.failures.map(failure))] }));
  const events = history.events.map((e) => ({ cells: [when(e.at), e.type, e.step_id || "", json(Object.fromEntries(Object.entries(e).filter(([k]) => !["at", "type", "step_id"].includes(k))))] }));
  show(el("h1", {}, "Run ", el("span", { id: "run-id" }, run.run_id), " ", el("span", { id: "run-status" }, badge(run.status))),
    el("p", {}, "Blueprint ", link(`#/blueprints/${run.blueprint_id}/${run.version}`, `${run.blueprint_id} v${run.version}`),
      " · started " + when(run.created_at), run.error ? el("span", { class: "error" }, " · " + run.error) : ""),
    actions, drawGraph(bp.graph, run.nodes),
    el("h2", {}, "Steps"), table(["step", "status", "attempts", "input", "output", "error"], stepRows, "steps"),
    el("h2", {}, "Input"), json(run.input),
    el("h2", {}, "History"), table(["at", "event", "step", "data"], events, "history"));
  if (!run.ended) refresh(route, 1000);
}

async function blueprintsPage() {
  const list = await api("/blueprints");
  const rows = list.blueprints.map((b) => ({ attrs: { "data-blueprint": b.id + "@" + b.version }, cells: [
    link(`#/blueprints/${b.id}/${b.version}`, b.id), b.version, b.active ? "active" : "deactivated", when(b.registered_at)] }));
  show(el("h1", {}, "Blueprints"), table(["id", "version", "state", "registered"], rows, "blueprints"));
}

async function blueprintPage(id, version) {
  const bp = await api(`/blueprints/${encodeURIComponent(id)}/versions/${encodeURIComponent(version)}`);
  const input = el("textarea", { id: "start-input", rows: 3, cols: 60 }, "null");
  const start = el("button", { id: "start", onclick: async () => {
    let value; try { value = JSON.parse(input.value); } catch (e) { alert("input is not JSON: " + e.message); return; }
    const made = await api("/runs", { method: "POST", body: JSON.stringify({ blueprint: id, version, input: value }) });
    location.hash = "#/runs/" + made.run_id;
  } }, "Start a run");
  show(el("h1", {}, `${bp.id} v${bp.version} `, badge(bp.active ? "active" : "deactivated")),
    drawGraph(bp.graph, {}), el("h2", {}, "Start a run with input (JSON)"), input, el("p", {}, start),
    el("h2", {}, "Document"), json(bp.document));
}

async function schedulesPage() {
  const list = await api("/schedules");
  const steer = (s) => {
    const verb = s.paused ? "resume" : "pause";
    return el("button", { class: "steer", onclick: async () => {
      await api(`/schedules/${encodeURIComponent(s.name)}/${verb}`, { method: "POST", body: "{}" }); route().catch(fail);
    } }, s.paused ? "Resume" : "Pause");
  };
  const rows = list.schedules.map((s) => ({ attrs: { "data-schedule": s.name }, cells: [
    s.name, link(`#/blueprints/${s.blueprint}/${s.version}`, `${s.blueprint} v${s.version}`), s.cron + " (" + s.timezone + ")",
    s.paused ? "paused" : when(s.next), s.catch_up, steer(s)] }));
  show(el("h1", {}, "Schedules"), table(["name", "blueprint", "cron", "next", "catch up", ""], rows, "schedules"));
}

async function workersPage() {
  const list = await api("/workers");
  const rows = list.workers.map((w) => ({ attrs: { "data-worker": w.worker_id }, cells: [
    w.worker_id, w.host + " (pid " + w.pid + ")", w.queues.join(", "), String(w.concurrency),
    String(w.in_flight), when(w.heartbeat_at)] }));
  show(el("h1", {}, "Workers"), table(["id", "host", "queues", "concurrency", "in flight", "last heartbeat"], rows, "workers"));
  refresh(route, 5000);
}

async function route() {
  clearTimeout(timer);
  const [path, query] = (location.hash.slice(1) || "/runs").split("?");
  const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  for (const a of document.querySelectorAll("nav a")) a.classList.toggle("current", a.id === "nav-" + parts[0]);
  if (parts[0] === "runs" && parts[1]) return runPage(parts[1]);
  if (parts[0] === "blueprints" && parts[2]) return blueprintPage(parts[1], parts[2]);
  if (parts[0] === "blueprints") return blueprintsPage();
  if (parts[0] === "schedules") return schedulesPage();
  if (parts[0] === "workers") return workersPage();
  return runsPage(query || "");
}

window.addEventListener("hashchange", () => route().catch(fail));
route().catch(fail);
