// tickwork dashboard: plain JavaScript on the HTTP channel's admin API.
// Every piece of data goes into the page as text (textContent, attribute
// values), never as HTML, so a job name or an extra like <script> stays text.

const BASE = location.pathname.replace(/\/dashboard\/.*$/, "");
const TOKEN_KEY = "tickwork.token";
const TZ_KEY = "tickwork.tz";
const READ_ONLY_KEY = "tickwork.readOnly";
const POLL_MS = 5000;
const RANGES = [
  ["5m", 300], ["1h", 3600], ["6h", 21600], ["24h", 86400], ["7d", 604800], ["30d", 2592000],
];
const SVG = "http://www.w3.org/2000/svg";

const state = {
  range: 3600,
  tab: "recent",
  jobsOffset: 0,
  jobsQuery: "",
  timer: null,
  editing: false,
  nextFlash: null,
};

// -- small helpers ------------------------------------------------------------------
function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else if (key === "text") el.textContent = value;
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

function svg(tag, attrs) {
  const el = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs || {})) el.setAttribute(key, String(value));
  return el;
}

function token() { return sessionStorage.getItem(TOKEN_KEY); }

export function zone() {
  return localStorage.getItem(TZ_KEY) || Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
}

function flash(message, isError = false) {
  const box = document.getElementById("flash");
  box.textContent = message;
  box.className = isError ? "error" : "";
  box.hidden = !message;
}

function when(iso) {
  if (!iso) return "–";
  // The API answers in the chosen zone: "2026-12-01T09:00:00+01:00".
  const match = /^(\d{4}-\d\d-\d\d)T(\d\d:\d\d:\d\d)(?:\.\d+)?(Z|[+-]\d\d:\d\d(?::\d\d)?)?$/.exec(iso);
  if (!match) return iso;
  return `${match[1]} ${match[2]}`;
}

function seconds(value) {
  if (value === null || value === undefined) return "–";
  if (value < 1) return `${Math.round(value * 1000)} ms`;
  return `${value.toFixed(value < 10 ? 2 : 1)} s`;
}

class ApiError extends Error {
  constructor(status, error) {
    super(error.message || `HTTP ${status}`);
    this.status = status;
    this.code = error.code;
    this.field = error.field;
  }
}

async function api(path, options = {}) {
  const url = new URL(BASE + path, location.origin);
  if (!url.searchParams.has("tz")) url.searchParams.set("tz", zone());
  const headers = { Authorization: `Bearer ${options.token || token()}` };
  let body;
  if (options.body !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(options.body);
  }
  const response = await fetch(url, { method: options.method || "GET", headers, body });
  if (response.status === 204) return null;
  const data = await response.json().catch(() => ({}));
  if (!response.ok) {
    if (response.status === 401 && !options.token) {
      sessionStorage.removeItem(TOKEN_KEY);
      location.hash = "#/login";
    }
    throw new ApiError(response.status, (data && data.error) || {});
  }
  return data;
}

function q(params) {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== null && value !== undefined && value !== "") search.set(key, String(value));
  }
  const text = search.toString();
  return text ? `?${text}` : "";
}

function jobPath(name) { return `/jobs/${encodeURIComponent(name)}`; }

function outcomeMarks(outcomes) {
  return h("span", { class: "marks" },
    (outcomes || []).slice().reverse().map((o) => h("span", { class: `mark ${o}`, title: o })));
}

function statusBadge(active) {
  return h("span", { class: `status ${active ? "active" : "paused"}` }, active ? "active" : "paused");
}

// -- charts (inline SVG) -------------------------------------------------------------
function sparkline(runs, failures) {
  const width = 120, height = 28;
  const el = svg("svg", { viewBox: `0 0 ${width} ${height}`, preserveAspectRatio: "none", role: "img" });
  const top = Math.max(1, ...runs, ...failures);
  const line = (series, cls) => {
    if (!series.length) return;
    const step = series.length > 1 ? width / (series.length - 1) : width;
    const points = series.map((v, i) => `${(i * step).toFixed(1)},${(height - 2 - (v / top) * (height - 4)).toFixed(1)}`);
    el.append(svg("polyline", { points: points.join(" "), class: cls }));
  };
  line(runs, "spark-runs");
  line(failures, "spark-fail");
  return el;
}

function barChart(chart) {
  // Bars in an SVG that stretches to the card; the labels are HTML, so they
  // keep their shape at any width.
  const width = 800, height = 160;
  const el = svg("svg", { viewBox: `0 0 ${width} ${height}`, preserveAspectRatio: "none", role: "img",
    "aria-label": "runs and failures over time" });
  const runs = chart.runs || [], failures = chart.failures || [];
  const top = Math.max(1, ...runs);
  const slot = width / Math.max(1, runs.length);
  runs.forEach((value, i) => {
    const x = i * slot;
    const total = (height * value) / top;
    const failed = (height * (failures[i] || 0)) / top;
    const title = svg("title", {});
    title.textContent = `${value} runs, ${failures[i] || 0} failed`;
    const bar = svg("rect", { x: x + 1, y: height - total, width: Math.max(1, slot - 2), height: total,
      class: "bar-runs" });
    bar.append(title);
    el.append(bar);
    if (failed > 0) {
      el.append(svg("rect", { x: x + 1, y: height - failed, width: Math.max(1, slot - 2), height: failed,
        class: "bar-fail" }));
    }
  });
  const total = runs.reduce((a, b) => a + b, 0), failedTotal = failures.reduce((a, b) => a + b, 0);
  return h("div", {},
    h("div", { class: "axis-row muted" }, h("span", {}, `peak ${top} per ${chart.bucket_seconds} s`),
      h("span", {}, `${total} runs, ${failedTotal} failed`)),
    el,
    h("div", { class: "axis-row muted" }, h("span", {}, when(chart.start)), h("span", {}, "now")));
}

// -- views ---------------------------------------------------------------------------
function loginView(message) {
  document.getElementById("nav").hidden = true;
  const input = h("input", { type: "password", id: "token", autocomplete: "current-password",
    "aria-label": "bearer token", required: true });
  const error = h("div", { class: "field-error", id: "login-error" }, message || "");
  const form = h("form", { class: "card login", onsubmit: async (event) => {
    event.preventDefault();
    try {
      const session = await api("/session", { token: input.value });
      sessionStorage.setItem(TOKEN_KEY, input.value);
      sessionStorage.setItem(READ_ONLY_KEY, session.read_only ? "1" : "");
      location.hash = "#/";
      route();
    } catch (exc) {
      error.textContent = exc.status === 401 ? "That token is not accepted." : exc.message;
    }
  } },
  h("h1", {}, "Log in"),
  h("label", { for: "token" }, "Bearer token"),
  input, error,
  h("button", { class: "btn", type: "submit" }, "Log in"));
  return [form];
}

async function overviewView() {
  const [overview, jobs, side] = await Promise.all([
    api(`/overview${q({ range: state.range, buckets: 60 })}`),
    api(`/jobs${q({ limit: 50, offset: state.jobsOffset, q: state.jobsQuery, outcomes: 8 })}`),
    state.tab === "recent" ? api("/history?limit=50") : api("/upcoming?count=50"),
  ]);
  const last = overview.last_hour;
  const tiles = h("section", { class: "tiles", id: "tiles" },
    tile("Jobs", overview.jobs.total, null, "tile-total"),
    tile("Active", overview.jobs.active, null, "tile-active"),
    tile("Paused", overview.jobs.paused, null, "tile-paused"),
    tile("Runs, last hour", last.runs, sparkline(last.runs_series, []), "tile-runs"),
    tile("Failures, last hour", last.failures, sparkline([], last.failures_series), "tile-failures"));
  const ranges = h("div", { class: "ranges", role: "group", "aria-label": "range" },
    RANGES.map(([label, secs]) => h("button", { type: "button", "aria-pressed": String(secs === state.range),
      "data-range": secs, onclick: () => { state.range = secs; route(); } }, label)));
  const chart = h("section", { class: "card chart", id: "chart" }, ranges, barChart(overview.chart));
  const search = h("input", { type: "search", placeholder: "filter by name", value: state.jobsQuery,
    id: "job-filter", onchange: (event) => { state.jobsQuery = event.target.value; state.jobsOffset = 0; route(); } });
  const table = h("table", { id: "jobs" },
    h("thead", {}, h("tr", {}, ["Status", "Name", "Service", "Trigger", "Next run", "Last runs"]
      .map((t) => h("th", {}, t)))),
    h("tbody", {}, jobs.jobs.map((job) => h("tr", { "data-job": job.name },
      h("td", {}, statusBadge(job.active)),
      h("td", {}, h("a", { href: `#/jobs/${encodeURIComponent(job.name)}` }, job.name)),
      h("td", {}, job.service),
      h("td", {}, job.trigger_text),
      h("td", {}, when(job.next_fire_time)),
      h("td", {}, outcomeMarks(job.last_outcomes))))));
  const pager = h("div", { class: "pager" },
    h("button", { class: "btn secondary", type: "button", disabled: state.jobsOffset === 0,
      onclick: () => { state.jobsOffset = Math.max(0, state.jobsOffset - 50); route(); } }, "Previous"),
    h("span", { class: "muted" }, `${jobs.total === 0 ? 0 : state.jobsOffset + 1}–${state.jobsOffset + jobs.jobs.length} of ${jobs.total}`),
    h("button", { class: "btn secondary", type: "button", disabled: state.jobsOffset + jobs.jobs.length >= jobs.total,
      onclick: () => { state.jobsOffset += 50; route(); } }, "Next"));
  const tabs = h("div", { class: "tabs", role: "tablist" },
    [["recent", "Recent runs"], ["upcoming", "Upcoming runs"]].map(([key, label]) =>
      h("button", { type: "button", role: "tab", "aria-selected": String(state.tab === key), id: `tab-${key}`,
        onclick: () => { state.tab = key; route(); } }, label)));
  const sideTable = state.tab === "recent" ? runsTable(side.runs, true) : upcomingTable(side.times);
  return [
    h("h1", {}, "Overview"), tiles,
    h("h2", {}, "Runs and failures"), chart,
    h("div", { class: "toolbar" }, h("h2", {}, "Jobs"), search), table, pager,
    tabs, sideTable,
  ];
}

function tile(label, value, chart, id) {
  return h("div", { class: "card tile", id },
    h("div", { class: "label" }, label), h("div", { class: "value" }, String(value)), chart);
}

function runsTable(runs, withJob) {
  return h("table", { id: "runs" },
    h("thead", {}, h("tr", {}, [withJob ? "Job" : null, "Scheduled for", "Outcome", "Duration", "Cid", "Error"]
      .filter(Boolean).map((t) => h("th", {}, t)))),
    h("tbody", {}, runs.map((run) => h("tr", { "data-cid": run.cid },
      withJob ? h("td", {}, h("a", { href: `#/jobs/${encodeURIComponent(run.job)}` }, run.job)) : null,
      h("td", {}, when(run.scheduled_for), run.manual ? h("span", { class: "muted" }, " (manual)") : null),
      h("td", { class: `outcome-${run.outcome || "running"}` }, run.outcome || "running"),
      h("td", {}, seconds(run.duration)),
      h("td", {}, h("code", {}, run.cid)),
      h("td", { class: "error" }, run.error || "")))));
}

function upcomingTable(times) {
  return h("table", { id: "upcoming" },
    h("thead", {}, h("tr", {}, ["When", "Job", "Service", "Note"].map((t) => h("th", {}, t)))),
    h("tbody", {}, times.map((item) => h("tr", {},
      h("td", {}, when(item.at)),
      h("td", {}, h("a", { href: `#/jobs/${encodeURIComponent(item.job)}` }, item.job)),
      h("td", {}, item.service || ""),
      h("td", { class: "dst" }, item.dst || "")))));
}

async function jobView(name) {
  const [job, next, history] = await Promise.all([
    api(jobPath(name)),
    api(`${jobPath(name)}/next?count=10`),
    api(`${jobPath(name)}/history?limit=50`),
  ]);
  const definition = h("dl", { class: "definition card", id: "definition" },
    ...[
      ["Name", job.name], ["Service", job.service], ["Status", job.active ? "active" : "paused"],
      ["Trigger", job.trigger_text], ["Next run", when(job.next_fire_time)], ["Runs", job.runs],
      ["Extra", job.extra === null ? "–" : typeof job.extra === "string" ? job.extra : JSON.stringify(job.extra)],
      ["Misfire", job.misfire], ["Overlap", job.overlap], ["Grace", seconds(job.grace)],
      ["Jitter", seconds(job.jitter)], ["Timeout", seconds(job.timeout)],
    ].flatMap(([k, v]) => [h("dt", {}, k), h("dd", { "data-field": k.toLowerCase() }, String(v))]));
  const act = async (what, method = "POST") => {
    try {
      const answer = await api(what === "delete" ? jobPath(name) : `${jobPath(name)}/${what}`, { method });
      if (what === "execute") flash(`Running ${name} now: cid ${answer.cid}`);
      else if (what === "delete") { state.nextFlash = `Deleted ${name}`; location.hash = "#/"; return; }
      else flash(`${what === "pause" ? "Paused" : "Resumed"} ${name}`);
      route();
    } catch (exc) {
      flash(exc.status === 403 ? "This token may only read." : exc.message, true);
    }
  };
  const actions = h("div", { class: "actions" },
    h("button", { class: "btn", type: "button", id: "execute", "data-write": true, onclick: () => act("execute") }, "Execute now"),
    job.active
      ? h("button", { class: "btn secondary", type: "button", id: "pause", "data-write": true, onclick: () => act("pause") }, "Pause")
      : h("button", { class: "btn secondary", type: "button", id: "resume", "data-write": true, onclick: () => act("resume") }, "Resume"),
    h("a", { class: "btn secondary", id: "edit", "data-write": true, href: `#/edit/${encodeURIComponent(name)}` }, "Edit"),
    h("button", { class: "btn danger", type: "button", id: "delete", "data-write": true, onclick: () => {
      if (confirm(`Delete job ${name}? Its history stays.`)) act("delete", "DELETE");
    } }, "Delete"));
  const nextList = h("table", { id: "next" },
    h("thead", {}, h("tr", {}, h("th", {}, `Next fire times (${zone()})`), h("th", {}, "DST"))),
    h("tbody", {}, next.times.map((t) => h("tr", {},
      h("td", {}, when(t.at)),
      h("td", { class: "dst" }, t.dst ? h("span", { class: "dst-mark", title: t.dst }, `⚠ ${t.dst}`) : "")))));
  return [
    h("h1", {}, name), actions, definition,
    h("h2", {}, "Next 10 fire times"), nextList,
    h("h2", {}, "History"), runsTable(history.runs, false),
  ];
}

// -- the job form ----------------------------------------------------------------------
function field(name, label, control, hint) {
  return h("div", { class: "row", "data-row": name },
    h("label", { class: "name", for: `f-${name}` }, label),
    h("div", {}, control, hint ? h("div", { class: "hint" }, hint) : null,
      h("div", { class: "field-error", id: `error-${name}` })));
}

function localInput(iso) {
  // An instant (triggers keep theirs in UTC) -> "2026-12-01T09:00:00", its wall
  // time in the chosen zone, for a datetime-local input; saving sends it with that zone.
  if (!iso) return "";
  const parts = Object.fromEntries(new Intl.DateTimeFormat("en-CA", {
    timeZone: zone(), year: "numeric", month: "2-digit", day: "2-digit",
    hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23",
  }).formatToParts(new Date(iso)).map((p) => [p.type, p.value]));
  return `${parts.year}-${parts.month}-${parts.day}T${parts.hour}:${parts.minute}:${parts.second}`;
}

async function formView(name) {
  state.editing = true;
  const [services, job] = await Promise.all([api("/services"), name ? api(jobPath(name)) : null]);
  const trigger = job ? job.trigger : { type: "interval", minutes: 5 };
  const kind = h("select", { id: "f-kind" },
    ["interval", "cron", "onetime"].map((k) => h("option", { value: k, selected: trigger.type === k },
      { interval: "Interval", cron: "Cron", onetime: "One time" }[k])));
  const units = ["weeks", "days", "hours", "minutes", "seconds"].map((unit) =>
    h("label", {}, unit, h("input", { type: "number", min: 0, step: "any", id: `f-${unit}`,
      value: trigger.type === "interval" ? trigger[unit] ?? "" : "" })));
  const repeats = h("input", { type: "number", min: 1, id: "f-repeats", value: trigger.repeats ?? "" });
  const expr = h("input", { type: "text", id: "f-expr", size: 30, value: trigger.expr || "", placeholder: "*/5 * * * *" });
  const preview = h("div", { class: "preview", id: "cron-preview" });
  const moment = (id, iso) => h("input", { type: "datetime-local", step: 1, id, value: localInput(iso) });
  const at = moment("f-at", trigger.type === "onetime" ? trigger.at : null);
  const start = moment("f-start", trigger.start), end = moment("f-end", trigger.end);
  const service = h("select", { id: "f-service" }, services.services.map((s) =>
    h("option", { value: s.name, selected: job && job.service === s.name }, s.name)));
  const extra = h("textarea", { id: "f-extra" },
    job && job.extra !== null ? (typeof job.extra === "string" ? job.extra : JSON.stringify(job.extra)) : "");
  const select = (id, options, value) => h("select", { id }, options.map((o) => h("option", { value: o, selected: o === value }, o)));
  const misfire = select("f-misfire", ["coalesce", "skip", "all"], job ? job.misfire : "coalesce");
  const overlap = select("f-overlap", ["skip", "queue", "allow"], job ? job.overlap : "skip");
  const number = (id, value) => h("input", { type: "number", min: 0, step: "any", id, value: value ?? "" });
  const jitter = number("f-jitter", job && job.jitter), timeout = number("f-timeout", job && job.timeout);
  const nameInput = h("input", { type: "text", id: "f-name", value: name || "", required: true, readonly: Boolean(name) });

  const rows = {
    interval: [field("units", "Every", h("div", { class: "units" }, units)), field("repeats", "Repeats", repeats, "empty: no limit")],
    cron: [field("expr", "Cron expression", h("div", {}, expr, preview), "5 fields, or 6 with seconds first")],
    onetime: [field("at", "At", at)],
  };
  const triggerBox = h("div", { id: "trigger-fields" });
  const showKind = () => {
    const bounds = kind.value === "onetime" ? [] : [field("start", "Start", start), field("end", "End", end)];
    triggerBox.replaceChildren(...rows[kind.value], ...bounds);
  };
  kind.addEventListener("change", showKind);
  showKind();

  let pending = null;
  const refreshPreview = async () => {
    const text = expr.value.trim();
    if (!text) { preview.replaceChildren(); return; }
    try {
      const answer = await api(`/cron/preview${q({ expr: text, tz: zone(), count: 5 })}`);
      if (expr.value.trim() !== text) return;
      preview.replaceChildren(h("div", { id: "cron-words" }, answer.description),
        h("ol", {}, answer.times.map((t) => h("li", {}, when(t.at), t.dst ? h("span", { class: "dst" }, ` ⚠ ${t.dst}`) : null))));
    } catch (exc) {
      preview.replaceChildren(h("div", { class: "field-error" }, exc.message));
    }
  };
  expr.addEventListener("input", () => { clearTimeout(pending); pending = setTimeout(refreshPreview, 250); });
  if (trigger.type === "cron") refreshPreview();

  const num = (input) => (input.value === "" ? null : Number(input.value));
  const spec = () => {
    const t = { type: kind.value, tz: zone() };
    if (kind.value === "interval") {
      for (const unit of ["weeks", "days", "hours", "minutes", "seconds"]) {
        const value = num(document.getElementById(`f-${unit}`));
        if (value) t[unit] = value;
      }
      if (num(repeats) !== null) t.repeats = num(repeats);
    } else if (kind.value === "cron") {
      t.expr = expr.value.trim();
    } else {
      t.at = at.value;
    }
    if (kind.value !== "onetime") {
      if (start.value) t.start = start.value;
      if (end.value) t.end = end.value;
    }
    const body = {
      service: service.value, trigger: t, misfire: misfire.value, overlap: overlap.value,
      jitter: num(jitter) || null, timeout: num(timeout) || null,
      extra: extra.value === "" ? null : extra.value,
    };
    if (!name) body.name = nameInput.value.trim();
    return body;
  };
  const form = h("form", { class: "card", id: "job-form", novalidate: true, onsubmit: async (event) => {
    event.preventDefault();
    form.querySelectorAll(".field-error").forEach((e) => { e.textContent = ""; });
    try {
      const saved = name
        ? await api(jobPath(name), { method: "PATCH", body: spec() })
        : await api("/jobs", { method: "POST", body: spec() });
      state.editing = false;
      state.nextFlash = `Saved ${saved.name}`;
      location.hash = `#/jobs/${encodeURIComponent(saved.name)}`;
    } catch (exc) {
      const key = (exc.field || "").split(".")[0];
      const target = { trigger: kind.value === "cron" ? "expr" : kind.value === "onetime" ? "at" : "units" }[key] || key;
      const box = document.getElementById(`error-${target}`) || document.getElementById("error-form");
      box.textContent = exc.status === 403 ? "This token may only read." : exc.message;
    }
  } },
  field("name", "Name", nameInput),
  field("service", "Service", service),
  field("kind", "Trigger", kind),
  triggerBox,
  field("extra", "Extra", extra, "given to the service as request.raw_request"),
  field("misfire", "Misfire", misfire),
  field("overlap", "Overlap", overlap),
  field("jitter", "Jitter (s)", jitter),
  field("timeout", "Timeout (s)", timeout),
  h("div", { class: "field-error", id: "error-form" }),
  h("div", { class: "actions" }, h("button", { class: "btn", type: "submit", id: "save" }, name ? "Save" : "Create"),
    h("a", { class: "btn secondary", href: name ? `#/jobs/${encodeURIComponent(name)}` : "#/" }, "Cancel")));
  return [h("h1", {}, name ? `Edit ${name}` : "New job"), h("p", { class: "muted" }, `Times are in ${zone()}.`), form];
}

function settingsView() {
  const zones = typeof Intl.supportedValuesOf === "function" ? Intl.supportedValuesOf("timeZone") : [];
  if (!zones.includes("UTC")) zones.unshift("UTC");
  const current = zone();
  if (!zones.includes(current)) zones.unshift(current);
  const select = h("select", { id: "tz" }, zones.map((z) => h("option", { value: z, selected: z === current }, z)));
  return [
    h("h1", {}, "Settings"),
    h("form", { class: "card", onsubmit: (event) => {
      event.preventDefault();
      localStorage.setItem(TZ_KEY, select.value);
      state.nextFlash = `Times are now shown in ${select.value}`;
      location.hash = "#/";
    } },
    field("tz", "Time zone", select, "every time shown and entered uses it; the server stores UTC"),
    h("div", { class: "actions" }, h("button", { class: "btn", type: "submit", id: "save-settings" }, "Save"))),
  ];
}

// -- routing ---------------------------------------------------------------------------
async function route() {
  clearTimeout(state.timer);
  const view = document.getElementById("view");
  const path = decodeURIComponent(location.hash.replace(/^#/, "")) || "/";
  document.getElementById("zone-label").textContent = `Times in ${zone()}`;
  if (!token() || path === "/login") {
    view.replaceChildren(...loginView());
    return;
  }
  document.getElementById("nav").hidden = false;
  let poll = false;
  try {
    let parts;
    if (path === "/") { state.editing = false; parts = await overviewView(); poll = true; }
    else if (path === "/new") parts = await formView(null);
    else if (path === "/settings") parts = settingsView();
    else if (path.startsWith("/edit/")) parts = await formView(path.slice(6));
    else if (path.startsWith("/jobs/")) { state.editing = false; parts = await jobView(path.slice(6)); poll = true; }
    else parts = [h("h1", {}, "Not found")];
    view.replaceChildren(...parts);
    if (sessionStorage.getItem(READ_ONLY_KEY)) {  // a viewer's token: no buttons that would fail
      document.querySelectorAll("[data-write]").forEach((el) => { el.hidden = true; });
    }
    // For the benchmark (and the browser's performance panel): when a view is on screen.
    performance.mark(`tickwork:${path === "/" ? "overview" : "view"}`);
  } catch (exc) {
    if (exc.status === 401) return;
    view.replaceChildren(h("h1", {}, "Error"), h("p", { class: "field-error" }, exc.message));
  }
  if (poll) state.timer = setTimeout(refresh, POLL_MS);
}

// A refresh redraws the view; not while someone is typing in it (the filter).
function refresh() {
  const active = document.activeElement;
  const typing = active && active.closest("#view") && ["INPUT", "SELECT", "TEXTAREA"].includes(active.tagName);
  if (typing) state.timer = setTimeout(refresh, POLL_MS);
  else route();
}

document.getElementById("logout").addEventListener("click", () => {
  sessionStorage.removeItem(TOKEN_KEY);
  sessionStorage.removeItem(READ_ONLY_KEY);
  location.hash = "#/login";
});
// A message for the page a change leads to (saved, deleted) outlives the navigation.
window.addEventListener("hashchange", () => { flash(state.nextFlash || ""); state.nextFlash = null; route(); });
route();
