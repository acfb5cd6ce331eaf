/* Triptych web UI: plain JavaScript, no build step, no external code.
   Every call goes to the same /v1 API programs use; cookie writes send X-CSRF-Token.
   User text is only ever set with textContent (never innerHTML). */
"use strict";

const csrf = () => (document.querySelector('meta[name="csrf-token"]') || {}).content || "";

async function api(method, url, body) {
  const init = { method, credentials: "same-origin", headers: { "X-CSRF-Token": csrf() } };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const res = await fetch(url, init);
  const data = res.status === 204 ? null : await res.json().catch(() => null);
  if (!res.ok) {
    const err = new Error((data && data.error && data.error.message) || `HTTP ${res.status}`);
    err.status = res.status;
    err.code = data && data.error && data.error.code;
    throw err;
  }
  return data;
}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "text") node.textContent = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children) if (c !== null && c !== undefined) node.append(c);
  return node;
}

function debounce(fn, ms) {
  let t;
  return (...args) => { clearTimeout(t); t = setTimeout(() => fn(...args), ms); };
}

function showError(message) {
  const box = document.getElementById("form-error");
  if (!box) return;
  box.textContent = message || "";
  box.hidden = !message;
}

async function refreshBalance() {
  const badge = document.getElementById("credit-balance");
  if (!badge) return;
  try {
    const c = await api("GET", "/v1/credits?statement=false");
    badge.textContent = c.available;
  } catch (_) { /* the header keeps its last value */ }
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const plural = (n, word) => `${n} ${word}${n === 1 ? "" : "s"}`;

/* -- following a job: SSE with a polling fallback ------------------------------------- */

function followJob(job, { onProgress, onDone }) {
  let finished = false;
  const finish = (j) => { if (!finished) { finished = true; onDone(j); } };
  const poll = async () => {
    while (!finished) {
      const j = await api("GET", `/v1/jobs/${job.id}`).catch(() => null);
      if (j && ["succeeded", "failed", "canceled"].includes(j.status)) return finish(j);
      await sleep(1000);
    }
  };
  if (!window.EventSource) { poll(); return; }
  const es = new EventSource(`/v1/jobs/${job.id}/events`);
  es.addEventListener("progress", (e) => onProgress(JSON.parse(e.data)));
  es.addEventListener("done", (e) => { es.close(); finish(JSON.parse(e.data)); });
  es.onerror = () => { es.close(); if (!finished) poll(); };
}

/* -- confirmations on destructive forms -------------------------------------------------- */

document.addEventListener("submit", (ev) => {
  const msg = ev.target.dataset && ev.target.dataset.confirm;
  if (msg && !window.confirm(msg)) ev.preventDefault();
});
// Each page starts itself from its own script (create.js, job.js, gallery.js, compare.js).
