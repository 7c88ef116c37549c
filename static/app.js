// hookd console: live webhook view over GET /events (Server-Sent Events),
// with polling of GET /snapshot when the stream is not available.
//
// Every value that comes from hookd or from a webhook is written with
// textContent (or an attribute), never parsed as HTML. Every request the
// page makes carries X-Request-ID: console-..., so hookd counts it as the
// console's own traffic and not on the charts.
"use strict";

const $ = (id) => document.getElementById(id);
const PAGE = 20;             // rows per page of the message browser
const ARRIVALS = 8;          // rows in "latest arrivals"
const HISTORY = 3600;        // seconds of history hookd keeps
const STALE_MS = 2500;       // no snapshot for this long: poll instead
const TOKEN_KEY = "hookd.read_token";

const state = {
  tag: Math.random().toString(36).slice(2, 8),
  seq: 0,
  es: null,                  // EventSource
  streamOpen: false,
  lastSnapshotAt: 0,         // Date.now() of the last snapshot (stream or poll)
  lastEventId: null,
  reachable: true,
  lastContact: 0,
  history: new Map(),        // t (s) -> point
  window: 5,                 // chart window, minutes
  snap: null,
  arrivals: [],              // newest first
  offset: 0,
  total: 0,
  rejTotal: -1,
  pollBusy: false,
  refreshTimer: 0,
  authWaiters: null,         // pending promise while the token dialog is up
};

// ---- small DOM helpers ------------------------------------------------

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined && text !== null) e.textContent = String(text);
  return e;
}

function fmtNum(n) {
  if (n === null || n === undefined || Number.isNaN(n)) return "–";
  if (Math.abs(n) >= 100 || Number.isInteger(n)) return Math.round(n).toLocaleString();
  return n.toFixed(n < 10 ? 2 : 1);
}

// hookd's ts may carry up to 24 fraction digits: keep milliseconds.
function parseTs(ts) {
  if (typeof ts !== "string") return NaN;
  const m = ts.match(/^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?Z$/);
  if (!m) return NaN;
  return Date.parse(m[1] + (m[2] ? m[2].slice(0, 4).padEnd(4, "0") : "") + "Z");
}

function relative(ms) {
  const s = Math.round((Date.now() - ms) / 1000);
  const a = Math.abs(s);
  const unit = a < 60 ? [a, "s"] : a < 3600 ? [Math.round(a / 60), "min"] :
    a < 86400 ? [Math.round(a / 3600), "h"] : [Math.round(a / 86400), "d"];
  if (a < 2) return "just now";
  return s >= 0 ? `${unit[0]} ${unit[1]} ago` : `in ${unit[0]} ${unit[1]}`;
}

// A <time>: local time and relative time, the raw value on hover.
function timeEl(raw, cls) {
  const t = el("time", cls);
  const ms = parseTs(raw);
  t.dateTime = typeof raw === "string" ? raw : "";
  t.title = String(raw);
  t.dataset.ms = Number.isNaN(ms) ? "" : String(ms);
  renderTime(t);
  return t;
}

function renderTime(t) {
  const ms = Number(t.dataset.ms);
  if (!t.dataset.ms) { t.textContent = t.title; return; }
  const d = new Date(ms);
  const sameDay = new Date().toDateString() === d.toDateString();
  const local = sameDay ? d.toLocaleTimeString() : d.toLocaleString();
  t.textContent = `${local} · ${relative(ms)}`;
}

setInterval(() => document.querySelectorAll("time[data-ms]").forEach(renderTime), 5000);

// ---- requests ---------------------------------------------------------

function token() { return sessionStorage.getItem(TOKEN_KEY) || ""; }

function askToken() {
  if (!state.authWaiters) {
    state.authWaiters = new Promise((resolve) => {
      const dlg = $("token-dialog");
      const input = $("token-input");
      input.value = "";
      $("token-form").onsubmit = () => {
        sessionStorage.setItem(TOKEN_KEY, input.value.trim());
        state.authWaiters = null;
        $("token-btn").hidden = false;
        resolve();
        restartStream();
      };
      if (!dlg.open) dlg.showModal();
      input.focus();
    });
  }
  return state.authWaiters;
}

// fetch() with the console's request id and the read token; a 401 asks
// for a token once and retries. Network failures mark hookd unreachable.
async function api(path) {
  for (let attempt = 0; ; attempt++) {
    const headers = { "X-Request-ID": `console-${state.tag}-${++state.seq}` };
    const tok = token();
    if (tok) headers.Authorization = `Bearer ${tok}`;
    let r;
    try {
      r = await fetch(path, { headers, cache: "no-store" });
    } catch (e) {
      // An open stream proves hookd is there (a proxy may block one path).
      if (!state.streamOpen) setReachable(false);
      throw e;
    }
    setReachable(true);
    if (r.status === 401 && attempt < 3) {
      await askToken();
      continue;
    }
    const body = await r.json().catch(() => null);
    if (!r.ok) {
      const err = new Error(`${path}: HTTP ${r.status}`);
      err.status = r.status;
      err.body = body;
      throw err;
    }
    return body;
  }
}

function setReachable(ok) {
  if (ok) state.lastContact = Date.now();
  if (ok === state.reachable) return;
  state.reachable = ok;
  const b = $("banner");
  b.classList.toggle("show", !ok);
  b.textContent = ok ? "" : "hookd is unreachable. The data below may be out of date; retrying every second…";
  updatePill();
}

function updatePill() {
  const p = $("conn");
  let cls = "down", text = "unreachable";
  if (state.reachable && state.streamOpen) { cls = "live"; text = "live"; }
  else if (state.reachable) { cls = "polling"; text = "polling"; }
  p.className = `pill ${cls}`;
  p.textContent = text;
}

// ---- the stream and the polling fallback ----------------------------

function restartStream() {
  if (state.es) state.es.close();
  state.es = null;
  state.streamOpen = false;
  openStream();
}

function openStream() {
  let url = "/events";
  const tok = token();
  if (tok) url += `?access_token=${encodeURIComponent(tok)}`;
  const es = new EventSource(url);
  state.es = es;
  es.onopen = () => { state.streamOpen = true; setReachable(true); updatePill(); };
  es.addEventListener("snapshot", (ev) => { onSnapshot(JSON.parse(ev.data)); });
  es.addEventListener("message", (ev) => {
    state.lastEventId = ev.lastEventId;
    onArrival(JSON.parse(ev.data), ev.lastEventId);
  });
  es.addEventListener("reset", () => { state.lastEventId = null; poll(true); });
  es.onerror = () => {
    state.streamOpen = false;
    updatePill();
    if (es.readyState === EventSource.CLOSED) {
      // Refused (503, 401, blocked): poll meanwhile, try the stream later.
      state.es = null;
      setTimeout(() => { if (!state.es) openStream(); }, 5000);
    }
  };
}

// Polls /snapshot when the stream is not delivering; also fills history
// gaps. full: reload the arrivals instead of continuing after the last id.
async function poll(full) {
  if (state.pollBusy) return;
  state.pollBusy = true;
  try {
    const newest = Math.max(0, ...state.history.keys());
    const need = newest ? Math.min(HISTORY, Math.ceil(Date.now() / 1000) - newest + 1) : HISTORY;
    let q = `/snapshot?history=${need}&limit=${ARRIVALS}`;
    if (!full && state.lastEventId) q += `&after=${encodeURIComponent(state.lastEventId)}`;
    const s = await api(q);
    if (full || s.reset) state.arrivals = [];
    for (const m of s.messages) {
      state.lastEventId = m.id;
      onArrival(m.message, m.id, true);
    }
    renderArrivals(full ? null : s.messages.length ? s.messages[s.messages.length - 1].id : null);
    if (!full && (s.messages.length || s.reset)) scheduleRefresh();
    onSnapshot(s);
  } catch (e) {
    // shown by the banner
  } finally {
    state.pollBusy = false;
  }
}

setInterval(() => {
  if (!state.streamOpen || Date.now() - state.lastSnapshotAt > STALE_MS) poll(false);
  else if (!state.reachable) setReachable(true);
}, 1000);

// ---- snapshot: numbers, history, charts --------------------------------

function onSnapshot(s) {
  state.lastSnapshotAt = Date.now();
  state.snap = s;
  const h = s.history;
  for (let i = 0; i < h.n; i++) {
    const t = h.end - h.n + 1 + i;
    state.history.set(t, {
      created: h.created[i], duplicate: h.duplicate[i], rejected: h.rejected[i],
      r4: h.req_4xx[i], r5: h.req_5xx[i], p99: h.p99_ms[i],
    });
  }
  const oldest = h.end - HISTORY;
  for (const t of state.history.keys()) if (t <= oldest) state.history.delete(t);
  if (s.last_event_id && !state.lastEventId) state.lastEventId = s.last_event_id;
  $("version").textContent = `hookd ${s.version} · up ${relative(s.started).replace(" ago", "")}`;
  const last5 = lastSeconds(5);
  $("k-ingest").textContent = fmtNum(last5.accepted / 5);
  $("k-errors").textContent = fmtNum(last5.rejected / 5);
  $("k-p99").textContent = last5.p99 === null ? "–" : `${fmtNum(last5.p99)} ms`;
  $("k-conns").textContent = `${fmtNum(s.connections)} · ${fmtNum(s.queue_depth)}`;
  const res = $("results");
  res.replaceChildren();
  for (const [k, v] of Object.entries(s.webhooks)) res.append(el("dt", "", k), el("dd", "", fmtNum(v)));
  if (s.rejections_total !== state.rejTotal) {
    state.rejTotal = s.rejections_total;
    loadRejections();
  }
  drawCharts();
  updatePill();
}

function lastSeconds(n) {
  const end = Math.max(0, ...state.history.keys());
  let accepted = 0, rejected = 0, p99 = null;
  for (let t = end - n + 1; t <= end; t++) {
    const p = state.history.get(t);
    if (!p) continue;
    accepted += p.created + p.duplicate;
    rejected += p.rejected;
    if (p.p99 !== null && (p99 === null || p.p99 > p99)) p99 = p.p99;
  }
  return { accepted, rejected, p99 };
}

const SVGNS = "http://www.w3.org/2000/svg";

function svgEl(tag, attrs) {
  const e = document.createElementNS(SVGNS, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  return e;
}

// Per-bucket rates (events/s) of the window, oldest first.
function buckets(pick) {
  const secs = state.window * 60;
  const n = Math.min(secs, 300);
  const per = secs / n;
  const end = Math.max(Math.floor(Date.now() / 1000) - 1, ...state.history.keys());
  const out = [];
  for (let b = 0; b < n; b++) {
    let sum = 0;
    const from = end - secs + 1 + Math.floor(b * per), to = end - secs + Math.floor((b + 1) * per);
    for (let t = from; t <= to; t++) {
      const p = state.history.get(t);
      if (p) sum += pick(p);
    }
    out.push(sum / Math.max(1, to - from + 1));
  }
  return { values: out, end, secs };
}

function drawChart(host, series, colors, unit) {
  // Drawn at the host's pixel size, so labels keep their size on a phone.
  const W = Math.max(200, host.clientWidth || 600), H = W < 500 ? 120 : 150, L = 34, B = 16;
  const data = series.map(buckets);
  const max = Math.max(1, ...data.flatMap((d) => d.values));
  const nice = Math.pow(10, Math.floor(Math.log10(max)));
  const top = Math.ceil(max / nice) * nice;
  const svg = svgEl("svg", { viewBox: `0 0 ${W} ${H}`, width: W, height: H, role: "img" });
  svg.setAttribute("aria-label", `${unit}, last ${state.window} minutes, peak ${fmtNum(max)}`);
  for (const f of [0, 0.5, 1]) {
    const y = (H - B) * (1 - f) + 0.5;
    svg.append(svgEl("line", { x1: L, x2: W, y1: y, y2: y, stroke: "var(--line)", "stroke-width": 1 }));
    const label = svgEl("text", { x: L - 4, y: Math.max(10, y + 4), "text-anchor": "end", "font-size": 11, fill: "var(--muted)" });
    label.textContent = fmtNum(top * f);
    svg.append(label);
  }
  for (const [txt, x, anchor] of [[`-${state.window} min`, L, "start"], ["now", W, "end"]]) {
    const t = svgEl("text", { x, y: H - 3, "text-anchor": anchor, "font-size": 11, fill: "var(--muted)" });
    t.textContent = txt;
    svg.append(t);
  }
  data.forEach((d, i) => {
    const n = d.values.length;
    const pts = d.values.map((v, k) => `${(L + (W - L) * (k + 0.5) / n).toFixed(1)},${((H - B) * (1 - v / top)).toFixed(1)}`);
    if (i === 0) {
      svg.append(svgEl("path", { d: `M${L},${H - B} L${pts.join(" L")} L${W},${H - B} Z`, fill: colors[i], opacity: 0.15 }));
    }
    svg.append(svgEl("polyline", { points: pts.join(" "), fill: "none", stroke: colors[i], "stroke-width": 1.6,
      "vector-effect": "non-scaling-stroke" }));
  });
  const tip = el("div", "tip");
  const last = data.map((d) => d.values[d.values.length - 1] || 0);
  tip.textContent = `now ${last.map(fmtNum).join(" / ")} ${unit}`;
  svg.addEventListener("mousemove", (ev) => {
    const r = svg.getBoundingClientRect();
    const k = Math.floor(((ev.clientX - r.left) / r.width * W - L) / (W - L) * data[0].values.length);
    if (k < 0 || k >= data[0].values.length) return;
    const ago = Math.round((data[0].values.length - k) * data[0].secs / data[0].values.length);
    tip.textContent = `${ago} s ago: ${data.map((d) => fmtNum(d.values[k])).join(" / ")} ${unit}`;
  });
  host.replaceChildren(svg, tip);
}

function drawCharts() {
  drawChart($("chart-ingest"), [(p) => p.created + p.duplicate, (p) => p.duplicate],
    ["var(--accent)", "var(--accent2)"], "/s");
  drawChart($("chart-errors"), [(p) => p.rejected, (p) => p.r4 + p.r5 - p.rejected],
    ["var(--bad)", "var(--bad2)"], "/s");
}

let resizeTimer = 0;
window.addEventListener("resize", () => {
  clearTimeout(resizeTimer);
  resizeTimer = setTimeout(drawCharts, 100);
});

function setupWindows() {
  for (const host of document.querySelectorAll("[data-windows]")) {
    for (const m of [5, 15, 60]) {
      const b = el("button", "", `${m}m`);
      b.type = "button";
      b.dataset.minutes = String(m);
      b.setAttribute("aria-pressed", String(m === state.window));
      b.onclick = () => {
        state.window = m;
        document.querySelectorAll("[data-minutes]").forEach((x) =>
          x.setAttribute("aria-pressed", String(Number(x.dataset.minutes) === m)));
        drawCharts();
      };
      host.append(b);
    }
  }
}

// ---- messages: arrivals, browser, detail --------------------------------

// One clickable message. when: which time to show (ts, or received_at for
// arrivals); the other is in the detail view.
function messageRow(m, isNew, when = "ts") {
  const row = el("button", `row${isNew ? " new" : ""}`);
  row.type = "button";
  row.dataset.id = m.message_id;
  row.append(timeEl(m[when], "when"));
  const who = el("span", "who", m.from);
  who.title = `${m.from} → ${m.to}`;
  row.append(who);
  const text = el("span", m.text === null ? "text none" : "text", m.text === null ? "(no text)" : m.text);
  row.append(text);
  row.onclick = () => showDetail(m);
  return row;
}

function onArrival(m, id, quiet) {
  if (state.arrivals.some((a) => a.id === id)) return;
  state.arrivals.unshift({ id, m, at: Date.now() });
  state.arrivals.length = Math.min(state.arrivals.length, ARRIVALS);
  if (!quiet) {
    renderArrivals(id);
    scheduleRefresh();
  }
}

function renderArrivals(newId) {
  $("arrivals").replaceChildren(...state.arrivals.map((a) => messageRow(a.m, a.id === newId, "received_at")));
  $("arrivals-empty").hidden = state.arrivals.length > 0;
}

// New messages: refresh the counts and the browser at most once a second.
function scheduleRefresh() {
  if (state.refreshTimer) return;
  state.refreshTimer = setTimeout(() => {
    state.refreshTimer = 0;
    loadStats();
    if (state.offset === 0) loadMessages();
  }, 300);
}

function filterQuery() {
  const p = new URLSearchParams();
  const from = $("f-from").value.trim(), since = $("f-since").value.trim(), q = $("f-q").value;
  if (from) p.set("from", from);
  if (since) p.set("since", since);
  if (q) p.set("q", q);
  p.set("order", $("f-order").value);
  return p;
}

let msgReq = 0;
async function loadMessages() {
  const p = filterQuery();
  p.set("limit", String(PAGE));
  p.set("offset", String(state.offset));
  const mine = ++msgReq;
  let body;
  try {
    body = await api(`/messages?${p.toString()}`);
  } catch (e) {
    if (mine !== msgReq) return;
    const fe = $("filter-error");
    if (e.status === 422 && e.body && Array.isArray(e.body.detail)) {
      fe.textContent = e.body.detail.map((d) => `${d.loc[d.loc.length - 1]}: ${d.msg}`).join("; ");
      fe.hidden = false;
    }
    return;
  }
  if (mine !== msgReq) return;
  $("filter-error").hidden = true;
  state.total = body.total;
  $("rows").replaceChildren(...body.data.map((m) => messageRow(m, false)));
  const filtered = [...p.keys()].some((k) => k !== "order" && k !== "limit" && k !== "offset");
  const first = body.data.length ? body.offset + 1 : 0;
  const lastRow = body.offset + body.data.length;
  $("count").textContent = `${body.data.length ? `${first}–${lastRow}` : "0"} of ${body.total.toLocaleString()}${filtered ? " matching" : ""}`;
  $("pageinfo").textContent = `page ${Math.floor(body.offset / PAGE) + 1} of ${Math.max(1, Math.ceil(body.total / PAGE))}`;
  $("prev").disabled = state.offset === 0;
  $("next").disabled = lastRow >= body.total;
  const asc = $("f-order").value === "asc";
  $("prev").textContent = asc ? "‹ Older" : "‹ Newer";
  $("next").textContent = asc ? "Newer ›" : "Older ›";
  $("empty").hidden = !(body.total === 0 && !filtered);
}

async function loadStats() {
  let s;
  try { s = await api("/stats"); } catch (e) { return; }
  $("k-total").textContent = fmtNum(s.total_messages);
  $("k-senders").textContent = fmtNum(s.senders_count);
  const max = Math.max(1, ...s.messages_per_sender.map((x) => x.count));
  $("top").replaceChildren(...s.messages_per_sender.map((x) => {
    const bar = el("div", "bar");
    const name = el("span", "", x.from);
    name.title = x.from;
    const track = el("div");
    const fill = el("i");
    fill.style.width = `${(100 * x.count / max).toFixed(1)}%`;
    track.append(fill);
    name.onclick = () => { $("f-from").value = x.from; applyFilters(); };
    name.style.cursor = "pointer";
    bar.append(name, track, el("em", "", fmtNum(x.count)));
    return bar;
  }));
  if (!s.messages_per_sender.length) $("top").replaceChildren(el("p", "muted small", "No senders yet."));
  const span = $("span");
  span.replaceChildren();
  for (const [k, v] of [["first ts", s.first_message_ts], ["last ts", s.last_message_ts]]) {
    span.append(el("dt", "", k));
    const dd = el("dd");
    dd.append(v ? timeEl(v) : el("span", "muted", "–"));
    span.append(dd);
  }
}

async function loadRejections() {
  let r;
  try { r = await api("/rejections?limit=8"); } catch (e) { return; }
  $("rej-count").textContent = r.total ? `${r.data.length} newest of ${r.total.toLocaleString()}` : "";
  $("rejections").replaceChildren(...r.data.map((x) => {
    const row = el("div", "row rej");
    row.append(timeEl(x.at, "when"), el("span", "status", x.status), el("span", "reason", x.reason));
    const meta = el("span", "meta",
      `${x.peer || "?"} · request ${x.request_id}${x.message_id !== null ? ` · message_id ${x.message_id}` : ""}`);
    row.append(meta);
    return row;
  }));
  $("rej-empty").hidden = r.total > 0;
}

let current = null;
function showDetail(m) {
  current = m;
  $("d-title").textContent = m.message_id;
  const f = $("d-fields");
  f.replaceChildren();
  for (const k of ["message_id", "from", "to", "ts", "received_at"]) {
    if (!(k in m)) continue;
    f.append(el("dt", "", k));
    const dd = el("dd");
    dd.append(el("span", "", m[k]));
    if (k === "ts" || k === "received_at") {
      const t = timeEl(m[k], "muted small");
      dd.append(el("br"), t);
    }
    f.append(dd);
  }
  f.append(el("dt", "", "text"), el("dd", "", m.text === null ? "null" : `${[...m.text].length} characters`));
  $("d-text").textContent = m.text === null ? "" : m.text;
  $("d-text").hidden = m.text === null;
  $("d-copy").textContent = "Copy JSON";
  const dlg = $("detail");
  if (!dlg.open) dlg.showModal();
}

async function copyCurrent() {
  const text = JSON.stringify(current, null, 2);
  try {
    await navigator.clipboard.writeText(text);
  } catch (e) {
    const ta = el("textarea");
    ta.value = text;
    document.body.append(ta);
    ta.select();
    document.execCommand("copy");
    ta.remove();
  }
  $("d-copy").textContent = "Copied";
}

// ---- wiring -------------------------------------------------------------

let filterTimer = 0;
function applyFilters() {
  state.offset = 0;
  clearTimeout(filterTimer);
  filterTimer = setTimeout(loadMessages, 200);
}

function curlExample() {
  const body = JSON.stringify({ message_id: "m1", from: "+919876543210", to: "+14155550100",
    ts: new Date().toISOString().replace(/\.\d+Z$/, "Z"), text: "Hello" });
  return [
    `body='${body}'`,
    `sig=$(printf '%s' "$body" | openssl dgst -sha256 -hmac "$WEBHOOK_SECRET" | sed 's/^.* //')`,
    `curl -s -X POST ${location.origin}/webhook -H "X-Signature: $sig" -d "$body"`,
  ].join("\n");
}

function main() {
  setupWindows();
  $("curl").textContent = curlExample();
  $("filters").addEventListener("input", applyFilters);
  $("filters").addEventListener("submit", (e) => { e.preventDefault(); applyFilters(); });
  $("prev").onclick = () => { state.offset = Math.max(0, state.offset - PAGE); loadMessages(); };
  $("next").onclick = () => { state.offset += PAGE; loadMessages(); };
  $("d-close").onclick = () => $("detail").close();
  $("d-copy").onclick = copyCurrent;
  $("detail").addEventListener("click", (e) => { if (e.target === $("detail")) $("detail").close(); });
  $("token-btn").hidden = !token();
  $("token-btn").onclick = () => { sessionStorage.removeItem(TOKEN_KEY); askToken(); };
  setInterval(loadStats, 5000);
  drawCharts();
  poll(true).then(() => { loadStats(); loadMessages(); openStream(); });
}

main();
