/* The create page: prompt, model and count; the cost and balance beside Generate; live
   recommendations as you type; Ctrl/Cmd+Enter generates. Results go to the stage (studio.js). */
"use strict";

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
  const stage = makeStage();
  let quoteSeq = 0;
  let recSeq = 0;
  let affordable = true;

  const describeModel = () => {
    const opt = model.selectedOptions[0];
    if (!opt) { info.textContent = ""; return; }
    info.textContent = `${opt.dataset.family} · ${opt.dataset.tier} · ${plural(+opt.dataset.credits, "credit")} an image` +
      (opt.dataset.strengths ? ` · good at ${opt.dataset.strengths}` : "");
  };

  const updateQuote = async () => {
    const seq = ++quoteSeq;
    if (!model.value) { quote.textContent = "No model can run here yet."; generate.disabled = true; return; }
    try {
      const q = await api("POST", "/v1/quote", { model: model.value, n: +n.value });
      if (seq !== quoteSeq) return;
      affordable = q.affordable;
      quote.replaceChildren(el("strong", { id: "quote-total", "data-credits": q.total, text: plural(q.total, "credit") }),
        " · you have ", el("span", { id: "quote-available", text: String(q.available) }),
        q.affordable ? "" : `. Not enough: fewer images or a cheaper model, or wait for ${q.renews_on}.`);
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
          el("button", { type: "button", class: "small", text: `Use ${rec.name}`, onclick: () => {
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

  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    showError("");
    const body = { prompt: prompt.value.trim(), model: model.value, n: +n.value };
    if (!body.prompt) { showError("Describe the image you want."); prompt.focus(); return; }
    if (!affordable) { showError(quote.textContent); return; }
    if (seed.value !== "") body.seed = +seed.value;
    if (size.value.trim()) body.size = size.value.trim();
    generate.disabled = true;
    const job = await stage.start(() => api("POST", "/v1/generations", body));
    generate.disabled = false;
    if (job && window.matchMedia("(max-width: 900px)").matches) {
      document.getElementById("stage").scrollIntoView({ behavior: "smooth", block: "start" });
    }
    updateQuote();
  });

  // Ctrl+Enter (Cmd+Enter on a Mac) anywhere in the form generates, as in every studio.
  form.addEventListener("keydown", (ev) => {
    if (ev.key === "Enter" && (ev.ctrlKey || ev.metaKey)) {
      ev.preventDefault();
      if (!generate.disabled) form.requestSubmit();
    }
  });

  // The balance changes when a job settles: keep the quote's "you have" in step.
  new MutationObserver(updateQuote).observe(document.getElementById("credit-balance"), { childList: true });

  prompt.addEventListener("input", recommend);
  model.addEventListener("change", () => { describeModel(); updateQuote(); });
  n.addEventListener("change", updateQuote);
  describeModel();
  updateQuote();
  if (prompt.value.trim()) recommend();
}

document.addEventListener("DOMContentLoaded", initCreate);
