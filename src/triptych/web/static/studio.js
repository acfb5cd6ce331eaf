/* The stage: one job's images as a grid sized to the viewport, with live progress while it
   runs, cancel, download all, per-image actions (download, vary, render on another model,
   delete) and a lightbox with keyboard navigation. Used by the create page and a job's page.
   Needs app.js (api, el, followJob, refreshBalance, plural). */
"use strict";

const FINAL_STATES = ["succeeded", "failed", "canceled"];

/* Display names of the catalog: from the page's model pickers, else the stage's own map. */
function modelNames() {
  const names = {};
  const stage = document.getElementById("stage");
  if (stage && stage.dataset.models) Object.assign(names, JSON.parse(stage.dataset.models));
  for (const opt of document.querySelectorAll("option[data-name]")) names[opt.value] = opt.dataset.name;
  return names;
}

const choicesCache = new Map();
function rerenderChoices(jobId) {
  if (!choicesCache.has(jobId)) {
    choicesCache.set(jobId, api("GET", `/v1/jobs/${jobId}/rerender-choices`).catch((e) => {
      choicesCache.delete(jobId);
      throw e;
    }));
  }
  return choicesCache.get(jobId);
}

const DIRECTION_LABELS = { up: "Better", same: "Same tier", down: "Cheaper drafts" };

/* A <select> of the models to render on next: better tiers first, the default recommended. */
function fillChoices(select, why, button, choices) {
  select.replaceChildren();
  for (const direction of ["up", "same", "down"]) {
    const members = choices.choices.filter((c) => c.direction === direction);
    if (!members.length) continue;
    const group = el("optgroup", { label: DIRECTION_LABELS[direction] });
    for (const c of members) {
      group.append(el("option", { value: c.model, "data-credits": c.credits, "data-reason": c.reason,
        "data-direction": c.direction, text: `${c.name} — ${plural(c.credits, "credit")}` }));
    }
    select.append(group);
  }
  if (choices.default) select.value = choices.default;
  else select.prepend(el("option", { value: "", text: "Already the best model here", selected: true }));
  const describe = () => {
    const opt = select.selectedOptions[0];
    why.textContent = opt && opt.dataset.reason ? opt.dataset.reason : "Nothing ranks above this model here.";
    button.disabled = !select.value;
    button.textContent = select.value ? `Render · ${plural(+opt.dataset.credits, "credit")}` : "Render";
  };
  select.addEventListener("change", describe);
  describe();
}

/* ``onStarted(job)``: a new job (vary, render on) goes there instead of onto this stage;
   ``onDone(job)``: told when the job on the stage has settled. */
function makeStage({ onStarted, onDone } = {}) {
  const $ = (id) => document.getElementById(id);
  const stage = $("stage");
  const shots = $("shots");
  const text = $("stage-text");
  const bar = $("progress");
  const cancelButton = $("cancel-job");
  const downloadAll = $("download-all");
  const openJob = $("open-job");
  const compareLink = $("compare-link");
  const errorBox = $("stage-error");
  const details = $("result-details");
  const names = modelNames();
  const nameOf = (id) => names[id] || id;
  let current = null; // the job on the stage
  let settled = new Set(); // jobs already shown as final (SSE and cancel may both report)
  let stepTimer = null;

  const setError = (message) => { errorBox.textContent = message || ""; errorBox.hidden = !message; };
  const show = (node, visible) => { node.hidden = !visible; };
  const heldText = (job) => el("strong", { "data-testid": "held", text: `held ${plural(job.cost, "credit")}` });

  /* -- running ------------------------------------------------------------------------- */

  function pendingTiles(job, label) {
    shots.dataset.count = Math.min(job.n, 4);
    shots.replaceChildren();
    for (let i = 0; i < job.n; i++) {
      shots.append(el("li", { class: "shot pending" },
        el("div", { class: "placeholder", "aria-hidden": "true", text: i === 0 ? label : "" })));
    }
  }

  function running(job) {
    current = job;
    stage.dataset.jobId = job.id;
    setError("");
    if (details) show(details, false);
    show(downloadAll, false);
    show(compareLink, false);
    openJob.href = `/jobs/${job.id}`;
    show(openJob, window.location.pathname !== openJob.pathname); // not on the job's own page
    cancelButton.disabled = false;
    cancelButton.textContent = "Cancel";
    show(cancelButton, true);
    bar.value = 0;
    show(bar, true);
    const queued = job.status === "queued";
    text.replaceChildren(`${queued ? "Queued" : "Running"} on ${nameOf(job.model)} · `, heldText(job));
    pendingTiles(job, queued ? "Queued" : "Working…");
    stepTimer = null;
  }

  function progress(p) {
    if (!current || FINAL_STATES.includes(p.status)) return;
    bar.value = p.fraction;
    const pct = Math.round(p.fraction * 100);
    text.replaceChildren(`Running on ${nameOf(current.model)} · ${pct}% · `, heldText(current));
    if (p.preview) {
      const first = shots.querySelector(".shot.pending");
      if (first) {
        first.replaceChildren(el("img", { src: p.preview, alt: `Preview, ${pct}% done`, class: "pixel preview", "data-testid": "preview" }));
      }
    }
  }

  /* -- done ---------------------------------------------------------------------------- */

  function recordRows(job) {
    const rec = (job.images[0] && job.images[0].record) || {};
    const rows = [
      ["Model", nameOf(job.model), "model"], ["Model id", job.model, "model-id"],
      ["Status", job.status, "status"], ["Prompt", job.prompt, "prompt"],
      ["Seed", job.seed, "seed"], ["Size", job.size, "size"],
      ["Steps", job.steps === null ? "default" : job.steps, "steps"],
      ["Credits charged", job.charged, "charged"],
      ["Time", job.seconds === null ? "—" : `${job.seconds.toFixed(2)} s`, "seconds"],
      ["Version", rec.model_version || "—", "version"], ["Job", job.id, "id"],
    ];
    return rows.flatMap(([label, value, field]) =>
      [el("dt", { text: label }), el("dd", { text: String(value), "data-field": field })]);
  }

  function done(job) {
    if (!current || job.id !== current.id || settled.has(job.id)) return;
    settled.add(job.id);
    current = job;
    show(bar, false);
    show(cancelButton, false);
    refreshBalance();
    if (job.status === "succeeded") {
      const secs = job.seconds === null ? "" : ` · ${job.seconds.toFixed(1)} s`;
      text.replaceChildren(el("strong", { text: nameOf(job.model) }),
        ` · seed ${job.seed} · ${job.size}${secs} · ${plural(job.charged, "credit")}`);
      downloadAll.href = `/v1/jobs/${job.id}/images.zip`;
      show(downloadAll, job.images.length > 0);
      const params = new URLSearchParams({ prompt: job.prompt, seed: job.seed, models: job.model });
      compareLink.href = `/compare?${params}`;
      show(compareLink, true);
      if (details) {  // the create page's record (a job's page has its own, server-rendered)
        $("result-record").replaceChildren(...recordRows(job));
        $("result-full-record").textContent = job.images.length ? JSON.stringify(job.images[0].record, null, 2) : "";
        show(details, true);
      }
      tiles(job);
    } else if (job.status === "canceled") {
      text.replaceChildren(el("strong", { "data-testid": "refunded", text: `Cancelled — ${plural(job.cost, "credit")} refunded.` }));
      emptyTiles("Cancelled. Nothing was charged.");
    } else {
      text.replaceChildren(`${nameOf(job.model)} · nothing charged`);
      setError((job.error && job.error.message) || `The job ${job.status}.`);
      emptyTiles("No image this time.");
    }
    if (onDone) onDone(job);
  }

  function emptyTiles(message) {
    shots.dataset.count = 1;
    shots.replaceChildren(el("li", { class: "empty" }, el("p", { text: message })));
  }

  /* -- tiles and their actions --------------------------------------------------------- */

  function tiles(job) {
    const count = job.images.length;
    shots.dataset.count = Math.min(count, 4);
    shots.replaceChildren();
    if (!count) { emptyTiles("Every image of this job was deleted."); return; }
    job.images.forEach((image, i) => shots.append(tile(job, image, i)));
  }

  function tile(job, image, i) {
    const seed = image.record.seed ?? job.seed + image.index;
    const n = job.images.length;
    const open = el("button", { type: "button", class: "shot-open", "aria-label": `Image ${i + 1} of ${n}, seed ${seed}: open large`,
      onclick: () => lightbox.open(job, i) },
      el("img", { src: image.url, alt: job.prompt, width: image.width, height: image.height, class: "pixel", "data-testid": "result-image" }));
    const tools = el("div", { class: "shot-tools" },
      el("a", { class: "button tool", href: `${image.url}?download=1`, download: "", "aria-label": `Download image ${i + 1}` },
        el("span", { class: "icon", "aria-hidden": "true", text: "⤓" }), el("span", { class: "label", text: "Download" })),
      el("button", { type: "button", class: "tool", "aria-label": `Vary image ${i + 1}: same prompt and model, new seed`,
        title: "Same prompt and model, a new seed", onclick: () => vary(job) },
        el("span", { class: "icon", "aria-hidden": "true", text: "↻" }), el("span", { class: "label", text: "Vary" })),
      renderMenu(job, seed, i),
      el("span", { class: "spacer" }),
      el("button", { type: "button", class: "tool danger", "aria-label": `Delete image ${i + 1}`, title: "Delete",
        onclick: () => remove(job, image) }, el("span", { class: "icon", "aria-hidden": "true", text: "🗑" })));
    return el("li", { class: "shot", "data-image-id": image.id, "data-index": i }, open, tools);
  }

  function renderMenu(job, seed, i) {
    const id = `render-${job.id.slice(0, 8)}-${i}`;
    const select = el("select", { id, name: "model" });
    const why = el("p", { class: "hint why", "aria-live": "polite" });
    const go = el("button", { type: "submit", class: "primary small", text: "Render" });
    const form = el("form", { class: "render-pop", "data-testid": "render-form" },
      el("label", { for: id, text: `Render image ${i + 1} on` }), select, why, go);
    const menu = el("details", { class: "render-menu" },
      el("summary", { class: "button tool", "aria-label": `Render image ${i + 1} on another model` },
        el("span", { class: "icon", "aria-hidden": "true", text: "⇪" }), el("span", { class: "label", text: "Render on…" })),
      form);
    menu.addEventListener("toggle", async () => {
      if (!menu.open || select.options.length) return;
      try {
        fillChoices(select, why, go, await rerenderChoices(job.id));
        select.focus();
      } catch (e) { why.textContent = e.message; }
    });
    menu.addEventListener("keydown", (ev) => {
      if (ev.key === "Escape") { ev.stopPropagation(); menu.open = false; menu.querySelector("summary").focus(); }
    });
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      if (!select.value) return;
      menu.open = false;
      start(() => api("POST", `/v1/jobs/${job.id}/rerender`, { model: select.value, seed }));
    });
    return menu;
  }

  const vary = (job) => start(() => api("POST", `/v1/jobs/${job.id}/vary`));

  async function remove(job, image) {
    if (!window.confirm("Delete this image? It leaves your gallery; the credits stay spent.")) return;
    try {
      await api("DELETE", `/v1/images/${image.id}`);
      job.images = job.images.filter((im) => im.id !== image.id);
      tiles(job);
      const next = shots.querySelector(".shot-open");
      (next || text).focus();
      show(downloadAll, job.images.length > 0);
    } catch (e) { setError(e.message); }
  }

  /* -- submit and follow --------------------------------------------------------------- */

  async function start(submitter) {
    setError("");
    try {
      const job = await submitter();
      refreshBalance();
      if (onStarted) onStarted(job);
      else follow(job);
      return job;
    } catch (e) {
      setError(e.message);
      return null;
    }
  }

  function follow(job) {
    running(job);
    if (FINAL_STATES.includes(job.status)) { done(job); return; }
    followJob(job, {
      onProgress: (p) => { if (current && current.id === job.id) progress(p); },
      onDone: (j) => done(j),
    });
  }

  cancelButton.addEventListener("click", async () => {
    if (!current) return;
    cancelButton.disabled = true;
    cancelButton.textContent = "Cancelling…";
    try {
      const job = await api("POST", `/v1/jobs/${current.id}/cancel`);
      if (FINAL_STATES.includes(job.status)) done(job);
      else text.replaceChildren(`Cancelling… your ${plural(job.cost, "credit")} come back when ${nameOf(job.model)} stops.`);
    } catch (e) {
      cancelButton.disabled = false;
      cancelButton.textContent = "Cancel";
      setError(e.message);
    }
  });

  const lightbox = makeLightbox(() => current, nameOf);
  return { start, follow, done, get current() { return current; } };
}

/* The lightbox: a modal <dialog> (Esc closes it, focus stays inside), ← and → step through
   the job's images, and focus goes back to the tile of the image last shown. */
function makeLightbox(currentJob, nameOf) {
  const dialog = document.getElementById("lightbox");
  const img = document.getElementById("lightbox-image");
  const caption = document.getElementById("lightbox-caption");
  const download = document.getElementById("lightbox-download");
  let index = 0;

  const showImage = () => {
    const job = currentJob();
    const image = job.images[index];
    const seed = image.record.seed ?? job.seed + image.index;
    img.src = image.url;
    img.alt = job.prompt;
    caption.textContent = `${index + 1} of ${job.images.length} · ${nameOf(job.model)} · seed ${seed} · “${job.prompt}”`;
    download.href = `${image.url}?download=1`;
  };
  const step = (delta) => {
    const n = currentJob().images.length;
    index = (index + delta + n) % n;
    showImage();
  };
  dialog.addEventListener("keydown", (ev) => {
    if (ev.key === "ArrowRight") { ev.preventDefault(); step(1); }
    else if (ev.key === "ArrowLeft") { ev.preventDefault(); step(-1); }
  });
  dialog.addEventListener("close", () => {
    const target = document.querySelectorAll("#shots .shot-open")[index];
    if (target) target.focus();
  });
  dialog.addEventListener("click", (ev) => { if (ev.target === dialog) dialog.close(); });
  document.getElementById("lightbox-prev").addEventListener("click", () => step(-1));
  document.getElementById("lightbox-next").addEventListener("click", () => step(1));
  document.getElementById("lightbox-close").addEventListener("click", () => dialog.close());
  return {
    open(job, i) {
      index = i;
      showImage();
      const several = job.images.length > 1;
      document.getElementById("lightbox-prev").hidden = !several;
      document.getElementById("lightbox-next").hidden = !several;
      dialog.showModal();
      document.getElementById("lightbox-close").focus();
    },
  };
}
