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
let latest = -1; // the newest seq shown; -1: nothing asked yet
let data = { deliveries: [], unsaved: 0 };

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

function pad(n, w) { return String(n).padStart(w || 2, "0"); }

// stamp is the full local time, to the millisecond.
function stamp(iso) {
  const t = new Date(iso);
  return t.getFullYear() + "-" + pad(t.getMonth() + 1) + "-" + pad(t.getDate()) + " " +
    pad(t.getHours()) + ":" + pad(t.getMinutes()) + ":" + pad(t.getSeconds()) + "." + pad(t.getMilliseconds(), 3);
}

function render(d) {
  const item = el("details", "delivery");
  item.dataset.seq = d.seq;
  item.dataset.kind = d.kind;
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
    el("span", "result", d.result || "—"),
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
    d.function + "/" + d.source, String(d.status), ...(d.log || []), ...(d.headers || []).map((h) => h.name + ": " + h.value)];
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
  latest = d.deliveries.length ? d.deliveries[0].seq : 0;
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
