// The new key's copy button: the clipboard API, with a visible and announced "Copied" state.
"use strict";
(() => {
  for (const button of document.querySelectorAll("button[data-copy]")) {
    const source = document.getElementById(button.dataset.copy);
    const state = button.closest("[data-testid=new-key]")?.querySelector(".copy-state");
    const say = (text) => { if (state) state.textContent = text; };
    button.addEventListener("click", async () => {
      try {
        await navigator.clipboard.writeText(source.textContent.trim());
        button.textContent = "Copied";
        button.dataset.copied = "";
        say("Copied to the clipboard.");
        setTimeout(() => { button.textContent = "Copy"; delete button.dataset.copied; }, 4000);
      } catch {
        // No clipboard access (an insecure origin, or refused): select it for Ctrl+C instead.
        const range = document.createRange();
        range.selectNodeContents(source);
        getSelection().removeAllRanges();
        getSelection().addRange(range);
        say("Selected: press Ctrl+C (Cmd+C on a Mac) to copy.");
      }
    });
  }
})();
