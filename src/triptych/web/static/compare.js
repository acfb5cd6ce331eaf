/* Triptych compare page: one prompt on two to four models side by side, the keeper, blind
   picks. Plain JavaScript, no build step; self-contained (its own small helpers) so the page
   does not depend on app.js's internals. User text is only set with textContent. */
"use strict";

(() => {
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
    badge.textContent = (await api("GET", "/v1/credits?statement=false")).available;
  } catch (_) { /* the header keeps its last value */ }
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const plural = (n, word) => `${n} ${word}${n === 1 ? "" : "s"}`;

/* -- the page ---------------------------------------------------------------------------- */

function initCompare() {
  const form = document.getElementById("compare-form");
  const boxes = () => [...form.querySelectorAll('input[name="models"]:checked')];
  const quote = document.getElementById("quote");
  const runButton = document.getElementById("run-compare");
  const section = document.getElementById("compare-results");
  const grid = document.getElementById("compare-grid");
  const statusLine = document.getElementById("compare-status");
  const premiumForm = document.getElementById("premium-form");
  let current = null;

  const updateQuote = async () => {
    const models = boxes().map((b) => b.value);
    if (models.length < 2 || models.length > 4) {
      quote.textContent = `Pick two to four models (${models.length} picked).`;
      runButton.disabled = true;
      return;
    }
    try {
      const q = await api("POST", "/v1/quote", { models });
      quote.replaceChildren("This comparison costs ", el("strong", { id: "compare-quote-total", "data-credits": q.total, text: plural(q.total, "credit") }),
        `. You have ${q.available}.`);
      runButton.disabled = !q.affordable;
    } catch (e) { quote.textContent = e.message; }
  };

  const render = (cmp) => {
    current = cmp;
    section.hidden = false;
    grid.replaceChildren();
    for (const job of cmp.jobs) {
      const cell = el("article", { class: "compare-cell" + (cmp.keeper_job_id === job.id ? " keeper" : ""), "data-model": job.model, "data-job-id": job.id });
      cell.append(el("h3", { text: job.model }));
      if (job.images.length) cell.append(el("img", { src: job.images[0].url, alt: `${job.model}: ${job.prompt}`, width: job.width, height: job.height }));
      else cell.append(el("p", { class: job.status === "failed" ? "error" : "hint", text: job.status === "failed" ? (job.error && job.error.message) || "failed" : `${job.status}…` }));
      const secs = job.seconds === null ? "—" : `${job.seconds.toFixed(2)} s`;
      cell.append(el("p", { class: "meta", "data-testid": "cell-meta", text: `${plural(job.status === "succeeded" ? job.charged : job.cost, "credit")} · ${secs} · ${job.status}` }));
      if (job.status === "succeeded") {
        const isKeeper = cmp.keeper_job_id === job.id;
        cell.append(el("button", { type: "button", "aria-pressed": isKeeper ? "true" : "false", text: isKeeper ? "Keeper ✓" : "Keep this",
          onclick: async () => { try { render(await api("POST", `/v1/compare/${cmp.id}/keeper`, { job_id: job.id })); } catch (e) { showError(e.message); } } }));
        cell.append(" ", el("a", { href: `/jobs/${job.id}`, text: "Open" }));
      }
      grid.append(cell);
    }
    const done = cmp.status === "done";
    statusLine.textContent = done
      ? `Done: ${plural(cmp.total_charged, "credit")} charged (quoted ${cmp.total_cost}). Seed ${cmp.seed}.`
      : `Running… ${plural(cmp.total_cost, "credit")} held.`;
    premiumForm.hidden = !(done && cmp.keeper_job_id);
  };

  const poll = async (id) => {
    // Quick at first, then every two seconds: slow premium models must not eat the rate limit.
    for (let i = 0; ; i++) {
      let cmp;
      try {
        cmp = await api("GET", `/v1/compare/${id}`);
      } catch (e) {
        if (e.status !== 429) throw e;
        await sleep(5000);
        continue;
      }
      render(cmp);
      if (cmp.status === "done") { refreshBalance(); updateQuote(); return; }
      await sleep(Math.min(2000, 250 * 1.25 ** i));
    }
  };

  form.addEventListener("change", updateQuote);
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    showError("");
    const models = boxes().map((b) => b.value);
    const body = { prompt: document.getElementById("prompt").value.trim(), models };
    const seed = document.getElementById("seed").value;
    if (seed !== "") body.seed = +seed;
    if (!body.prompt) { showError("Describe the image you want."); return; }
    runButton.disabled = true;
    try {
      const cmp = await api("POST", "/v1/compare", body);
      history.replaceState(null, "", `/compare/${cmp.id}`);
      refreshBalance();
      await poll(cmp.id);
    } catch (e) { showError(e.message); }
    runButton.disabled = false;
  });
  premiumForm.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    if (!current || !current.keeper_job_id) return;
    try {
      const job = await api("POST", `/v1/jobs/${current.keeper_job_id}/rerender`, { model: document.getElementById("premium-model").value });
      window.location.href = `/jobs/${job.id}`;
    } catch (e) { showError(e.message); }
  });
  const premium = document.querySelector('#premium-model option[data-tier="premium"]:not([disabled])');
  if (premium) premium.selected = true;
  updateQuote();
  if (form.dataset.compareId) poll(form.dataset.compareId).catch((e) => showError(e.message));
}

document.addEventListener("DOMContentLoaded", () => {
  if (document.getElementById("compare-form")) initCompare();
});
})();
