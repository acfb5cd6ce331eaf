"""Your picks: win rates from the images you chose on compare sheets, per model and per kind
of prompt."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from triptych.web.deps import StateDep, facade_for
from triptych.web.pages.common import PageUser, render
from triptych.web.routes_compare import picks_summary

router = APIRouter()


@router.get("/picks", response_class=HTMLResponse)
def picks_page(request: Request, state: StateDep, principal: PageUser) -> Response:
    summary = picks_summary(facade_for(state, principal))
    return render(request, state, "picks.html", principal, summary=summary)
