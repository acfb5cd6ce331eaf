"""Admin: usage over the last days — credits charged and images made, by day and by model,
as server-drawn SVG charts (with the numbers as a table beside them), and failed jobs by
provider."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from triptych.web.deps import StateDep
from triptych.web.pages.common import PageAdmin, render

router = APIRouter()
CHART_W, CHART_H = 300, 100  # the SVG's own units; it stretches to the card's width


def day_bars(series: list[dict[str, Any]], key: str) -> list[dict[str, Any]]:
    """One bar per day: x, width and height in chart units (a day with none has no bar)."""
    top = max((d[key] for d in series), default=0) or 1
    width = CHART_W / max(len(series), 1)
    return [{"x": round(i * width + width * 0.1, 2), "w": round(width * 0.8, 2),
             "h": round(CHART_H * d[key] / top, 2), "day": d["day"], "value": d[key]}
            for i, d in enumerate(series)]


@router.get("/admin/usage", response_class=HTMLResponse)
def usage_page(request: Request, state: StateDep, principal: PageAdmin,
               days: Annotated[int, Query(ge=7, le=365)] = 30) -> Response:
    usage = state.tp.admin.usage(days)
    by_day = usage["by_day"]
    return render(
        request, state, "admin_usage.html", principal, usage=usage, days=days,
        credit_bars=day_bars(by_day, "credits"), image_bars=day_bars(by_day, "images"),
        chart_w=CHART_W, chart_h=CHART_H,
        total_credits=sum(d["credits"] for d in by_day),
        total_images=sum(d["images"] for d in by_day),
        top_credits=max((m["credits"] for m in usage["by_model"]), default=0) or 1,
        top_images=max((m["images"] for m in usage["by_model"]), default=0) or 1)
