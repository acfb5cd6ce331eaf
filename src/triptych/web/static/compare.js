/* Triptych compare page: one prompt on two to four models side by side, the keeper, blind
   picks. Plain JavaScript, no build step; uses app.js's helpers (api, el, showError,
   refreshBalance, sleep, plural), loaded before it on every page. User text is only set with
   textContent. */
"use strict";

(() => {
/* -- the page --------------------------------------------------------------------------- */

const TIER_RANK = { instant: 0, fast: 1, medium: 2, premium: 3 };
const LETTERS = "ABCD";

/* A blind sheet keeps its shuffled order across reloads (per tab). */
function blindOrder(cmp) {
  const key = `triptych-blind-${cmp.id}`;
  const ids = cmp.jobs.map((j) => j.id);
  try {
    const saved = JSON.parse(sessionStorage.getItem(key) || "null");
    if (Array.isArray(saved) && saved.length === ids.length && saved.every((id) => ids.includes(id))) return saved;
  } catch (_) { /* a fresh shuffle */ }
  const order = [...ids];
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }
  try { sessionStorage.setItem(key, JSON.stringify(order)); } catch (_) { /* private mode */ }
  return order;
}

/* The default for "render the keeper on": the cheapest model of the next tier up that can
   run here, never a cheaper one than the keeper's; on the top tier, the keeper's own tier. */
function upgradeFor(keeperModel, select) {
  const options = [...select.options].filter((o) => !o.disabled);
  const keeper = [...select.options].find((o) => o.value === keeperModel);
  if (!keeper) return null;
  const rank = TIER_RANK[keeper.dataset.tier];
  const credits = +keeper.dataset.credits;
  const better = options.filter((o) => TIER_RANK[o.dataset.tier] > rank && +o.dataset.credits >= credits);
  if (better.length) {
    const next = Math.min(...better.map((o) => TIER_RANK[o.dataset.tier]));
    return better.filter((o) => TIER_RANK[o.dataset.tier] === next)
      .sort((a, b) => +a.dataset.credits - +b.dataset.credits)[0];
  }
  const same = options.filter((o) => o.value !== keeperModel && +o.dataset.credits >= credits);
  return same.sort((a, b) => +b.dataset.credits - +a.dataset.credits)[0] || keeper;
}

function initCompare() {
  const form = document.getElementById("compare-form");
  const boxes = () => [...form.querySelectorAll('input[name="models"]:checked')];
  const names = Object.fromEntries([...form.querySelectorAll('input[name="models"]')].map((b) => [b.value, b.dataset.name]));
  const nameOf = (model) => names[model] || model;
  const quote = document.getElementById("quote");
  const runButton = document.getElementById("run-compare");
  const blindBox = document.getElementById("blind");
  const section = document.getElementById("compare-results");
  const grid = document.getElementById("compare-grid");
  const statusLine = document.getElementById("compare-status");
  const blindNote = document.getElementById("blind-note");
  const premiumForm = document.getElementById("premium-form");
  const premiumSelect = document.getElementById("premium-model");
  const premiumNote = document.getElementById("premium-note");
  let current = null;
  let blind = blindBox.checked || new URLSearchParams(location.search).get("blind") === "1";
  let keeperShown = null;

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

  const act = async (fn) => { showError(""); try { render(await fn()); } catch (e) { showError(e.message); } };

  const pickBlind = (cmp, job, order) => act(async () => {
    await api("POST", `/v1/compare/${cmp.id}/pick`, { job_id: job.id, blind: true, shown: order });
    // The pick is also the keeper: the next step is rendering it on a better model.
    return api("POST", `/v1/compare/${cmp.id}/keeper`, { job_id: job.id });
  });

  const keep = async (cmp, job, order) => {
    await act(() => api("POST", `/v1/compare/${cmp.id}/keeper`, { job_id: job.id }));
    // Keeping an image is choosing it: it counts as an open pick, unless a blind pick (the
    // purer signal) was already made on this sheet. Recorded after the keeper shows.
    if (cmp.pick && cmp.pick.blind) return;
    try {
      const pick = await api("POST", `/v1/compare/${cmp.id}/pick`, { job_id: job.id, blind: false, shown: order });
      if (current && current.id === cmp.id && current.keeper_job_id === job.id) render({ ...current, pick });
    } catch (_) { /* the keeper stands; the pick is a bonus signal */ }
  };

  const render = (cmp) => {
    current = cmp;
    section.hidden = false;
    const done = cmp.status === "done";
    const hidden = blind && !cmp.pick;  // names stay hidden until the blind pick
    const order = blind ? blindOrder(cmp) : cmp.jobs.map((j) => j.id);
    const jobs = order.map((id) => cmp.jobs.find((j) => j.id === id));
    const pickable = jobs.filter((j) => j.status === "succeeded").length >= 2;
    grid.replaceChildren();
    grid.style.setProperty("--cells", jobs.length);
    jobs.forEach((job, i) => {
      const isKeeper = cmp.keeper_job_id === job.id;
      const isPick = cmp.pick && cmp.pick.job_id === job.id;
      const title = hidden ? `Image ${LETTERS[i]}` : nameOf(job.model);
      const cell = el("article", { class: "compare-cell" + (isKeeper ? " keeper" : "") + (isPick ? " picked" : ""),
        "data-model": hidden ? null : job.model, "data-job-id": job.id, "aria-label": title });
      const head = el("h3", { class: "cell-title", text: title });
      if (isPick) head.append(" ", el("span", { class: "badge", text: cmp.pick.blind ? "Your blind pick" : "Your pick" }));
      cell.append(head);
      if (job.images.length) {
        cell.append(el("img", { src: job.images[0].url, alt: hidden ? `${title}: ${job.prompt}` : `${nameOf(job.model)}: ${job.prompt}`,
          width: job.width, height: job.height }));
      } else {
        cell.append(el("p", { class: job.status === "failed" ? "error cell-empty" : "hint cell-empty",
          text: job.status === "failed" ? (job.error && job.error.message) || "This model failed; its credits were refunded." : `${job.status === "queued" ? "Waiting" : "Drawing"}…` }));
      }
      if (!hidden) {
        const secs = job.seconds === null ? "—" : `${job.seconds.toFixed(1)} s`;
        const credits = job.status === "succeeded" ? plural(job.charged, "credit") : job.status === "failed" ? "refunded" : plural(job.cost, "credit") + " held";
        cell.append(el("p", { class: "meta", "data-testid": "cell-meta", text: `${credits} · ${secs}` }));
      }
      const actions = el("div", { class: "actions" });
      if (job.status === "succeeded" && hidden && done && pickable) {
        actions.append(el("button", { type: "button", class: "primary", text: `Pick ${LETTERS[i]}`,
          onclick: () => pickBlind(cmp, job, order) }));
      } else if (job.status === "succeeded" && !hidden) {
        actions.append(el("button", { type: "button", "aria-pressed": isKeeper ? "true" : "false", text: isKeeper ? "Keeper ✓" : "Keep this",
          onclick: () => keep(cmp, job, order) }));
        actions.append(el("a", { href: `/jobs/${job.id}`, class: "button", text: "Open" }));
      }
      if (actions.childNodes.length) cell.append(actions);
      grid.append(cell);
    });
    blindNote.hidden = !hidden;
    if (blind && cmp.pick) {
      blindNote.hidden = false;
      blindNote.textContent = `You picked ${nameOf(cmp.pick.model)}. The names are shown now.`;
    }
    statusLine.textContent = done
      ? `Done: ${plural(cmp.total_charged, "credit")} charged (quoted ${cmp.total_cost}; failures are refunded). Seed ${cmp.seed}.`
      : `Running… ${plural(cmp.total_cost, "credit")} held.`;
    const keeperJob = cmp.jobs.find((j) => j.id === cmp.keeper_job_id);
    premiumForm.hidden = !(done && keeperJob && !hidden);
    if (keeperJob && keeperShown !== keeperJob.id) {
      keeperShown = keeperJob.id;
      const target = upgradeFor(keeperJob.model, premiumSelect);
      if (target) target.selected = true;
      premiumNote.textContent = `Your keeper came from ${nameOf(keeperJob.model)}; the same prompt and seed run again on the model you choose.`;
    }
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

  form.addEventListener("change", (ev) => { if (ev.target !== blindBox) updateQuote(); });
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    showError("");
    const models = boxes().map((b) => b.value);
    const body = { prompt: document.getElementById("prompt").value.trim(), models };
    const seed = document.getElementById("seed").value;
    if (seed !== "") body.seed = +seed;
    if (!body.prompt) { showError("Describe the image you want."); document.getElementById("prompt").focus(); return; }
    runButton.disabled = true;
    blind = blindBox.checked;
    keeperShown = null;
    try {
      const cmp = await api("POST", "/v1/compare", body);
      history.replaceState(null, "", `/compare/${cmp.id}${blind ? "?blind=1" : ""}`);
      refreshBalance();
      render(cmp);
      section.scrollIntoView({ block: "start" });
      await poll(cmp.id);
    } catch (e) { showError(e.message); }
    runButton.disabled = false;
  });
  premiumForm.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    if (!current || !current.keeper_job_id) return;
    try {
      const job = await api("POST", `/v1/jobs/${current.keeper_job_id}/rerender`, { model: premiumSelect.value });
      window.location.href = `/jobs/${job.id}`;
    } catch (e) { showError(e.message); }
  });
  updateQuote();
  if (form.dataset.compareId) poll(form.dataset.compareId).catch((e) => showError(e.message));
}

document.addEventListener("DOMContentLoaded", () => {
  if (document.getElementById("compare-form")) initCompare();
});
})();
