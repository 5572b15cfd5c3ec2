// The inspector page: long-polls the list and renders it with DOM calls
// (textContent only: recorded requests are untrusted text). Filters and
// search work on the list the page holds.
"use strict";
const base = document.body.dataset.path;
const actionHeader = document.body.dataset.actionHeader;
const list = document.getElementById("list");
const message = document.getElementById("message");
const notice = document.getElementById("notice");
const filters = {
  fn: document.getElementById("f-function"),
  source: document.getElementById("f-source"),
  status: document.getElementById("f-status"),
  search: document.getElementById("f-search"),
};
const open = new Set();
const curls = new Map(); // seq → the curl command asked for
let latest = -1; // the version of the list shown; -1: nothing asked yet
let data = { deliveries: [], unsaved: 0, version: -1 };

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

function statusClass(d) {
  if (d.status >= 200 && d.status < 300) return "ok";
  return d.status >= 500 ? "warn" : "bad";
}

function verifyClass(v) {
  return { passed: "ok", unsigned: "warn", handshake: "ok", failed: "bad" }[v] || "muted";
}

// verdict is the summary's word on a delivery: the verification, unless
// the function refused (4xx) or failed (5xx) after it; its colour follows
// the HTTP status.
function verdict(d) {
  let text = d.verification;
  const after = { passed: " after verifying", unsigned: " (unsigned source)", handshake: " (handshake)" }[d.verification];
  if (d.status >= 400 && after) text = (d.status >= 500 ? "failed" : "refused") + after;
  if (d.reason) text += ": " + d.reason;
  const cls = d.status >= 300 && d.status < 400 ? "muted" : d.status >= 400 ? statusClass(d) : verifyClass(d.verification);
  return [text, cls];
}

// jobClass colours what a job did: ran or duplicate is done, failed may
// pass on a redelivery, dead-lettered and refused will not run.
function jobClass(result) {
  return { ran: "ok", duplicate: "ok", failed: "warn" }[result] || "bad";
}

// jobsSummary counts the delivery's jobs by what they did ("2 ran",
// "1 ran · 1 failed") and colours the count by the worst of them.
function jobsSummary(d) {
  const jobs = d.jobs || [];
  if (!jobs.length) return null;
  const counts = new Map();
  for (const j of jobs) counts.set(j.result, (counts.get(j.result) || 0) + 1);
  if (d.jobs_not_shown) counts.set("more", d.jobs_not_shown);
  const text = [...counts].map(([r, n]) => n + " " + r).join(" · ");
  const classes = jobs.map((j) => jobClass(j.result));
  const cls = classes.includes("bad") ? "bad" : classes.includes("warn") ? "warn" : "ok";
  return el("span", "jobs " + cls, text);
}

function pad(n, w) { return String(n).padStart(w || 2, "0"); }

// stamp is the full local time, to the millisecond.
function stamp(iso) {
  const t = new Date(iso);
  return t.getFullYear() + "-" + pad(t.getMonth() + 1) + "-" + pad(t.getDate()) + " " +
    pad(t.getHours()) + ":" + pad(t.getMinutes()) + ":" + pad(t.getSeconds()) + "." + pad(t.getMilliseconds(), 3);
}

// result is the summary's word on what the function did and, for the
// jobs it queued, what they did once run.
function result(d) {
  const r = el("span", "result", d.result || "—");
  const jobs = jobsSummary(d);
  if (jobs) r.append(el("br"), jobs);
  return r;
}

// jobsTable lists each job the delivery queued: rule and action, what it
// did, and the action's answer or the error.
function jobsTable(d) {
  const t = el("table", "jobs");
  for (const j of d.jobs || []) {
    const tr = el("tr");
    tr.append(el("td", "", j.rule + " / " + j.action), el("td", "outcome " + jobClass(j.result), j.result),
      el("td", j.error ? "muted" : "", j.answer || j.error || ""), el("td", "muted", stamp(j.time)));
    t.append(tr);
  }
  if (d.jobs_not_shown) {
    const tr = el("tr", "capped");
    const td = el("td", "warn", d.jobs_not_shown + " more job(s) ended; the inspector keeps the first " + (d.jobs || []).length + " of a delivery.");
    td.colSpan = 4;
    tr.append(td);
    t.append(tr);
  }
  return t;
}

function render(d) {
  const item = el("details", "delivery");
  item.dataset.seq = d.seq;
  item.dataset.kind = d.kind;
  item.dataset.function = d.function;
  item.dataset.status = d.status;
  item.open = open.has(d.seq);
  item.addEventListener("toggle", () => item.open ? open.add(d.seq) : open.delete(d.seq));
  const s = el("summary");
  const time = el("span", "time mono", stamp(d.time));
  time.title = d.time;
  const [text, cls] = verdict(d);
  s.append(
    time,
    el("span", "latency mono muted", d.latency_ms + " ms"),
    el("span", "source", d.function + "/" + d.source + (d.provider ? " (" + d.provider + ")" : "")),
    el("span", "status " + statusClass(d), String(d.status)),
    el("span", "verification " + cls, text),
    el("span", "event mono", [d.event_type, d.event_id].filter(Boolean).join(" · ") || "—"),
    result(d),
  );
  const actions = el("span");
  if (d.kind === "re-signed") {
    const m = el("span", "mark changed warn", "changed");
    m.title = d.note || "signed by the inspector";
    actions.append(m);
  }
  actions.append(el("span", "kind muted", d.kind + (d.of ? " of #" + d.of : "") + " "));
  for (const [cls, label, title, run] of [
    ["replay", "Replay", "Send again exactly as received", () => act(d.seq, "replay")],
    ["resign", "Re-sign", "Sign again with the development key and the current time", () => act(d.seq, "resign")],
    ["curl", "Copy as curl", "A command that sends it again from a terminal, signature included", () => copyCurl(d.seq)],
  ]) {
    const b = el("button", cls, label);
    b.type = "button";
    b.title = title;
    b.addEventListener("click", (e) => { e.preventDefault(); run(); });
    actions.append(b, " ");
  }
  s.append(actions);
  item.append(s);

  const body = el("div", "body");
  const facts = el("table", "facts");
  const rows = [["Delivery", "#" + d.seq + " " + d.method + " " + d.target + " (from " + d.remote + ", " + d.time + ", " + d.latency_ms + " ms)"]];
  if (d.reason) rows.push(["Reason", d.reason]);
  if (d.note) rows.push(["Note", d.note]);
  for (const c of d.changes || []) rows.push(["Against #" + d.of, c]);
  if (d.response) rows.push(["Response", d.response]);
  for (const line of d.log || []) rows.push(["Log", line]);
  for (const [k, v] of rows) {
    const tr = el("tr");
    tr.append(el("td", "muted", k), el("td", "", v));
    facts.append(tr);
  }
  body.append(facts);
  if ((d.jobs || []).length) body.append(el("h4", "", "Jobs (run after the answer)"), jobsTable(d));
  if (curls.has(d.seq)) body.append(el("h4", "", "As curl"), el("pre", "curl", curls.get(d.seq)));
  body.append(el("h4", "", "Headers"));
  const hs = el("table", "headers");
  for (const h of d.headers || []) {
    const tr = el("tr");
    tr.append(el("td", "", h.name), el("td", h.masked ? "muted" : "", h.value || ""));
    hs.append(tr);
  }
  body.append(hs, el("h4", "", "Body" + (d.body_base64 ? " (base64)" : "") + (d.truncated ? " (cut)" : "")));
  let bodyText = d.body;
  if (!d.body_base64) {
    try { bodyText = JSON.stringify(JSON.parse(d.body), null, 2); } catch (e) { /* not JSON: as received */ }
  }
  body.append(el("pre", "", bodyText));
  item.append(body);
  return item;
}

// options refills a filter's choices with values, keeping the choice made.
function options(select, values, every) {
  const chosen = select.value;
  const all = [...new Set(values.filter(Boolean))].sort();
  if (chosen && !all.includes(chosen)) all.push(chosen);
  select.replaceChildren(el("option", "", every), ...all.map((v) => { const o = el("option", "", v); o.value = v; return o; }));
  select.children[0].value = "";
  select.value = chosen;
}

function matches(d) {
  if (filters.fn.value && d.function !== filters.fn.value) return false;
  if (filters.source.value && d.source !== filters.source.value) return false;
  const st = filters.status.value;
  const cls = Math.floor(d.status / 100) + "xx";
  if (st && (st === "not2xx" ? cls === "2xx" : cls !== st)) return false;
  const q = filters.search.value.trim().toLowerCase();
  if (!q) return true;
  const text = [d.event_id, d.event_type, d.reason, d.result, d.target, d.body, d.response, d.note, d.kind,
    d.function + "/" + d.source, String(d.status), ...(d.log || []), ...(d.headers || []).map((h) => h.name + ": " + h.value),
    ...(d.jobs || []).map((j) => [j.rule, j.action, j.result, j.answer, j.error].join(" "))];
  return text.some((t) => t && t.toLowerCase().includes(q));
}

function draw() {
  const all = data.deliveries;
  options(filters.fn, all.map((d) => d.function), "every function");
  options(filters.source, all.filter((d) => !filters.fn.value || d.function === filters.fn.value).map((d) => d.source), "every source");
  const shown = all.filter(matches);
  list.replaceChildren(...shown.map(render));
  const n = all.length;
  document.getElementById("status").textContent = (shown.length === n ? n : shown.length + " of " + n) +
    " deliveries, newest first, live." +
    (data.unsaved ? " " + data.unsaved + " of this run are listed here but not kept in the inspector's history on disk" +
      " (its writer fell behind; what the functions did with them is unaffected)." : "") +
    " Headers and query parameters that carry a signature or a secret are masked.";
}

function show(d) {
  data = d;
  latest = d.version;
  draw();
}

async function poll() {
  for (;;) {
    try {
      const r = await fetch(base + "api/deliveries?after=" + latest, { cache: "no-store" });
      if (r.status === 200) show(await r.json());
      else if (r.status !== 204) throw new Error(r.status + " " + r.statusText);
    } catch (e) {
      message.textContent = "Lost the runner (" + e.message + "); retrying…";
      await new Promise((ok) => setTimeout(ok, 1000));
      continue;
    }
    message.textContent = "";
  }
}

async function act(seq, action) {
  const r = await fetch(base + "api/deliveries/" + seq + "/" + action, {
    method: "POST", headers: { [actionHeader]: "1" },
  });
  if (!r.ok) {
    const answer = await r.json().catch(() => ({ error: r.statusText }));
    message.textContent = action + " #" + seq + ": " + answer.error;
  }
}

async function copyCurl(seq) {
  const r = await fetch(base + "api/deliveries/" + seq + "/curl", { cache: "no-store" });
  const text = await r.text();
  if (!r.ok) {
    message.textContent = "curl #" + seq + ": " + text;
    return;
  }
  curls.set(seq, text);
  open.add(seq);
  draw();
  try {
    await navigator.clipboard.writeText(text);
    notice.textContent = "Copied #" + seq + " as curl.";
  } catch (e) {
    notice.textContent = "#" + seq + " as curl is below its summary: select it to copy.";
  }
}

for (const f of Object.values(filters)) f.addEventListener("input", draw);
document.getElementById("filters").addEventListener("submit", (e) => e.preventDefault());
poll();
