// The inspector page: long-polls the list and renders it with DOM calls
// (textContent only: recorded requests are untrusted text).
"use strict";
const base = document.body.dataset.path;
const actionHeader = document.body.dataset.actionHeader;
const list = document.getElementById("list");
const message = document.getElementById("message");
const open = new Set();
let latest = -1; // the newest seq shown; -1: nothing asked yet

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

function render(d) {
  const item = el("details", "delivery");
  item.dataset.seq = d.seq;
  item.dataset.kind = d.kind;
  item.open = open.has(d.seq);
  item.addEventListener("toggle", () => item.open ? open.add(d.seq) : open.delete(d.seq));
  const s = el("summary");
  s.append(
    el("span", "mono", new Date(d.time).toLocaleTimeString()),
    el("span", "source", d.function + "/" + d.source + (d.provider ? " (" + d.provider + ")" : "")),
    el("span", "status " + statusClass(d), String(d.status)),
    el("span", "verification " + verifyClass(d.verification), d.verification + (d.reason ? ": " + d.reason : "")),
    el("span", "event mono", [d.event_type, d.event_id].filter(Boolean).join(" · ") || "—"),
    el("span", "result", d.result || "—"),
  );
  const actions = el("span");
  actions.append(el("span", "kind muted", d.kind + (d.of ? " of #" + d.of : "") + " "));
  for (const [cls, label, action] of [["replay", "Replay", "replay"], ["resign", "Re-sign", "resign"]]) {
    const b = el("button", cls, label);
    b.title = action === "replay" ? "Send again exactly as received" : "Sign again with the development key and the current time";
    b.addEventListener("click", (e) => { e.preventDefault(); act(d.seq, action); });
    actions.append(b, " ");
  }
  s.append(actions);
  item.append(s);

  const body = el("div", "body");
  const facts = el("table");
  const rows = [["Delivery", "#" + d.seq + " " + d.method + " " + d.target + " (from " + d.remote + ", " + d.latency_ms + " ms)"]];
  if (d.reason) rows.push(["Reason", d.reason]);
  if (d.note) rows.push(["Note", d.note]);
  if (d.response) rows.push(["Response", d.response]);
  for (const line of d.log || []) rows.push(["Log", line]);
  for (const [k, v] of rows) {
    const tr = el("tr");
    tr.append(el("td", "muted", k), el("td", "", v));
    facts.append(tr);
  }
  body.append(facts, el("h4", "", "Headers"));
  const hs = el("table", "headers");
  for (const h of d.headers || []) {
    const tr = el("tr");
    tr.append(el("td", "", h.name), el("td", h.masked ? "muted" : "", h.value || ""));
    hs.append(tr);
  }
  body.append(hs, el("h4", "", "Body" + (d.body_base64 ? " (base64)" : "") + (d.truncated ? " (cut)" : "")));
  let text = d.body;
  if (!d.body_base64) {
    try { text = JSON.stringify(JSON.parse(d.body), null, 2); } catch (e) { /* not JSON: as received */ }
  }
  body.append(el("pre", "", text));
  item.append(body);
  return item;
}

function show(data) {
  list.replaceChildren(...data.deliveries.map(render));
  const n = data.deliveries.length;
  document.getElementById("status").textContent = n + " deliveries, newest first, live." +
    (data.unsaved ? " " + data.unsaved + " not written to disk (the writer fell behind)." : "") +
    " Headers and query parameters that carry a signature or a secret are masked.";
  latest = n ? data.deliveries[0].seq : 0;
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

poll();
