/* A job's own page: the stage follows the job live (progress, preview, cancel) and the page
   reloads once it settles, so the record beside it is the server's; vary and render on open
   the new job's page. */
"use strict";

function initJob() {
  const data = document.getElementById("job-data");
  if (!data) return;
  const job = JSON.parse(data.textContent);
  const wasRunning = !FINAL_STATES.includes(job.status);
  const goTo = (j) => { window.location.href = `/jobs/${j.id}`; };
  const stage = makeStage({ onStarted: goTo, onDone: () => { if (wasRunning) window.location.reload(); } });
  stage.follow(job);

  const form = document.getElementById("rerender-form");
  if (form) {
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const model = document.getElementById("rerender-model").value;
      if (!model) return;
      await stage.start(() => api("POST", `/v1/jobs/${job.id}/rerender`, { model }));
    });
    const select = document.getElementById("rerender-model");
    const why = document.getElementById("rerender-why");
    const button = document.getElementById("rerender");
    const describe = () => {
      const opt = select.selectedOptions[0];
      why.textContent = (opt && opt.dataset.reason) || "";
      button.textContent = opt && opt.value ? `Render · ${plural(+opt.dataset.credits, "credit")}` : "Render";
      button.disabled = !select.value;
    };
    select.addEventListener("change", describe);
    describe();
  }
  const vary = document.getElementById("vary");
  if (vary) vary.addEventListener("click", () => stage.start(() => api("POST", `/v1/jobs/${job.id}/vary`)));
}

document.addEventListener("DOMContentLoaded", initJob);
