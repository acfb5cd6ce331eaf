// Statement dates in the reader's own time zone, worded as the server words them in UTC:
// "today 14:02", "yesterday 09:10", "3 Dec", "3 Dec 2025".
"use strict";
(() => {
  const pad = (n) => String(n).padStart(2, "0");
  const dayStart = (d) => new Date(d.getFullYear(), d.getMonth(), d.getDate());
  const now = new Date();
  for (const el of document.querySelectorAll("time[data-local]")) {
    const at = new Date(el.getAttribute("datetime"));
    if (Number.isNaN(at.getTime())) continue;
    const days = Math.round((dayStart(now) - dayStart(at)) / 86400000);
    const clock = `${pad(at.getHours())}:${pad(at.getMinutes())}`;
    const month = at.toLocaleString("en-GB", { month: "short" }).slice(0, 3);
    let text = `${at.getDate()} ${month}`;
    if (days === 0) text = `today ${clock}`;
    else if (days === 1) text = `yesterday ${clock}`;
    else if (at.getFullYear() !== now.getFullYear()) text += ` ${at.getFullYear()}`;
    el.textContent = text;
    el.title = at.toLocaleString();
  }
})();
