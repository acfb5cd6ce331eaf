"""The credits page: balance and statement."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from triptych.web.deps import StateDep, facade_for
from triptych.web.pages.common import PageUser, render

router = APIRouter()


@router.get("/credits", response_class=HTMLResponse)
def credits_page(request: Request, state: StateDep, principal: PageUser) -> Response:
    credits = facade_for(state, principal).credits(statement=True, limit=200)
    return render(request, state, "credits.html", principal, credits=credits)
