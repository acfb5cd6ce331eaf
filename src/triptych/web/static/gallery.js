/* The gallery: the star toggles at once through the API (the form posts without script);
   an open action menu closes on Esc or a click elsewhere. Needs app.js (api). */
"use strict";

function initGallery() {
  for (const form of document.querySelectorAll(".fav-form")) {
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const star = form.querySelector(".star");
      const on = star.getAttribute("aria-pressed") !== "true";
      star.disabled = true;
      try {
        const image = await api(on ? "PUT" : "DELETE", `/v1/images/${star.dataset.imageId}/favourite`);
        star.setAttribute("aria-pressed", String(image.favourite));
        star.textContent = image.favourite ? "★" : "☆";
        form.querySelector('input[name="favourite"]').value = image.favourite ? "0" : "1";
      } catch (e) {
        star.title = e.message;
      }
      star.disabled = false;
      star.focus();
    });
  }
  const menus = [...document.querySelectorAll("details.menu")];
  document.addEventListener("click", (ev) => {
    for (const m of menus) if (m.open && !m.contains(ev.target)) m.open = false;
  });
  for (const m of menus) {
    m.addEventListener("keydown", (ev) => {
      if (ev.key === "Escape" && m.open) { m.open = false; m.querySelector("summary").focus(); }
    });
    m.addEventListener("toggle", () => {
      if (!m.open) return;
      for (const other of menus) if (other !== m) other.open = false;
    });
  }
}

document.addEventListener("DOMContentLoaded", initGallery);
