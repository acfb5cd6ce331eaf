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

function recordList(job) {
  const dl = document.createDocumentFragment();
  const rec = (job.images[0] && job.images[0].record) || {};
  const rows = [
    ["Model", job.model, "model"], ["Status", job.status, "status"], ["Prompt", job.prompt, "prompt"],
    ["Seed", job.seed, "seed"], ["Size", job.size, "size"],
    ["Steps", job.steps === null ? "default" : job.steps, "steps"],
    ["Credits charged", job.charged, "charged"],
    ["Time", job.seconds === null ? "—" : `${job.seconds.toFixed(2)} s`, "seconds"],
    ["Version", rec.model_version || "—", "version"], ["Family", rec.family || "—", "family"],
    ["Job", job.id, "id"],
  ];
  for (const [label, value, field] of rows) {
    dl.append(el("dt", { text: label }), el("dd", { text: String(value), "data-field": field }));
  }
  return dl;
}

/* -- Create ---------------------------------------------------------------------------- */

function initCreate() {
  const form = document.getElementById("create-form");
  const prompt = document.getElementById("prompt");
  const model = document.getElementById("model");
  const n = document.getElementById("n");
  const size = document.getElementById("size");
  const seed = document.getElementById("seed");
  const quote = document.getElementById("quote");
  const info = document.getElementById("model-info");
  const generate = document.getElementById("generate");
  const recBox = document.getElementById("recommendations");
  let quoteSeq = 0;
  let recSeq = 0;

  const describeModel = () => {
    const opt = model.selectedOptions[0];
    if (!opt) { info.textContent = ""; return; }
    info.textContent = `${opt.dataset.family} · ${opt.dataset.tier} · ${plural(+opt.dataset.credits, "credit")}` +
      (opt.dataset.strengths ? ` · good at ${opt.dataset.strengths}` : "");
  };

  const updateQuote = async () => {
    const seq = ++quoteSeq;
    if (!model.value) { quote.textContent = "No model can run here yet."; generate.disabled = true; return; }
    try {
      const q = await api("POST", "/v1/quote", { model: model.value, n: +n.value });
      if (seq !== quoteSeq) return;
      quote.replaceChildren("This costs ", el("strong", { id: "quote-total", "data-credits": q.total, text: plural(q.total, "credit") }),
        `. You have ${q.available}.`, q.affordable ? "" : ` Not enough: your allowance renews on ${q.renews_on}.`);
      generate.disabled = !q.affordable;
    } catch (e) { quote.textContent = e.message; }
  };

  const recommend = debounce(async () => {
    const text = prompt.value.trim();
    const seq = ++recSeq;
    if (!text) { recBox.replaceChildren(el("p", { class: "hint", text: "Start typing a prompt." })); return; }
    try {
      const r = await api("POST", "/v1/recommend", { prompt: text, limit: 3 });
      if (seq !== recSeq) return;
      const list = el("ol", { class: "recs" });
      for (const rec of r.recommendations) {
        list.append(el("li", { "data-model": rec.model },
          el("strong", { text: rec.name }), ` — ${rec.tier}, ${plural(rec.credits, "credit")}`,
          el("p", { class: "why", text: rec.reasons.join(" ") }),
          el("button", { type: "button", text: `Use ${rec.name}`, onclick: () => {
            model.value = rec.model; describeModel(); updateQuote(); model.focus();
          } })));
      }
      const intents = r.intents.filter((i) => i.score >= 0.45 && i.id !== "general").map((i) => i.label).join(", ");
      recBox.replaceChildren(el("p", { class: "hint", text: intents ? `Looks like: ${intents}.` : "A general picture." }),
        r.recommendations.length ? list : el("p", { text: "No model fits; try another budget or speed." }));
    } catch (e) {
      if (seq === recSeq) recBox.replaceChildren(el("p", { class: "hint", text: e.message }));
    }
  }, 350);

  const progressSection = document.getElementById("progress-section");
  const bar = document.getElementById("progress");
  const progressText = document.getElementById("progress-text");
  const preview = document.getElementById("preview");
  const result = document.getElementById("result");

  const showResult = (job) => {
    progressSection.hidden = true;
    result.hidden = false;
    const images = document.getElementById("result-images");
    images.replaceChildren();
    if (job.status !== "succeeded") {
      images.append(el("p", { class: "error", role: "alert", text: (job.error && job.error.message) || `The job was ${job.status}.` }));
    }
    for (const image of job.images) {
      images.append(el("figure", {}, el("img", { src: image.url, alt: job.prompt, width: image.width, height: image.height, class: "pixel", "data-testid": "result-image" })));
    }
    document.getElementById("result-record").replaceChildren(recordList(job));
    const full = document.getElementById("result-full-record");
    full.hidden = !job.images.length;
    if (job.images.length) full.querySelector("pre").textContent = JSON.stringify(job.images[0].record, null, 2);
    const dl = document.getElementById("download");
    dl.hidden = !job.images.length;
    if (job.images.length) dl.href = `${job.images[0].url}?download=1`;
    document.getElementById("open-job").href = `/jobs/${job.id}`;
    const params = new URLSearchParams({ prompt: job.prompt, seed: job.seed, models: job.model });
    document.getElementById("compare-link").href = `/compare?${params}`;
    result.dataset.jobId = job.id;
    result.focus();
    refreshBalance();
    updateQuote();
  };

  const run = async (submitter) => {
    showError("");
    generate.disabled = true;
    try {
      const job = await submitter();
      refreshBalance();
      progressSection.hidden = false;
      result.hidden = true;
      bar.value = 0;
      preview.hidden = true;
      progressText.textContent = `Queued on ${job.model}: ${plural(job.quoted_credits, "credit")} held.`;
      followJob(job, {
        onProgress: (p) => {
          bar.value = p.fraction;
          progressText.textContent = `${p.status} — ${Math.round(p.fraction * 100)}%`;
          if (p.preview) { preview.src = p.preview; preview.hidden = false; }
        },
        onDone: (j) => { generate.disabled = false; showResult(j); },
      });
    } catch (e) {
      generate.disabled = false;
      showError(e.message);
    }
  };

  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const body = { prompt: prompt.value.trim(), model: model.value, n: +n.value };
    if (!body.prompt) { showError("Describe the image you want."); prompt.focus(); return; }
    if (seed.value !== "") body.seed = +seed.value;
    if (size.value.trim()) body.size = size.value.trim();
    run(() => api("POST", "/v1/generations", body));
  });

  document.getElementById("rerender-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const jobId = result.dataset.jobId;
    const target = document.getElementById("rerender-model").value;
    if (jobId) run(() => api("POST", `/v1/jobs/${jobId}/rerender`, { model: target }));
  });

  prompt.addEventListener("input", recommend);
  model.addEventListener("change", () => { describeModel(); updateQuote(); });
  n.addEventListener("change", updateQuote);
  describeModel();
  updateQuote();
  if (prompt.value.trim()) recommend();
}

/* -- Job page: re-render ---------------------------------------------------------------- */

function initJob() {
  const form = document.getElementById("rerender-form");
  if (!form) return;
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    try {
      const job = await api("POST", `/v1/jobs/${form.dataset.jobId}/rerender`,
        { model: document.getElementById("rerender-model").value });
      window.location.href = `/jobs/${job.id}?pending=1`;
    } catch (e) { showError(e.message); }
  });
  const view = document.getElementById("job-view");
  const status = view && view.querySelector('[data-field="status"]');
  if (status && ["queued", "running"].includes(status.textContent)) {
    followJob({ id: view.dataset.jobId }, { onProgress: () => {}, onDone: () => window.location.reload() });
  }
}

/* -- confirmations on destructive forms -------------------------------------------------- */

document.addEventListener("submit", (ev) => {
  const msg = ev.target.dataset && ev.target.dataset.confirm;
  if (msg && !window.confirm(msg)) ev.preventDefault();
});

document.addEventListener("DOMContentLoaded", () => {
  const page = document.body.dataset.page;
  if (page === "create") initCreate();
  else if (page === "job") initJob();
});
