"""Admin: the catalog's run-time overrides. Each model's card values (built-in catalog plus
the operator's files) beside what applies now; change the price, turn it off or on, or reset
it to its card. Jobs already held keep their price; every change is audited."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Path, Request
from fastapi.responses import HTMLResponse, Response

from triptych.errors import TriptychError
from triptych.web.deps import StateDep, check_csrf
from triptych.web.pages.common import PageAdmin, actor, back, render

router = APIRouter()
ModelId = Annotated[str, Path(max_length=100)]


@router.get("/admin/catalog", response_class=HTMLResponse)
def catalog_page(request: Request, state: StateDep, principal: PageAdmin, done: str = "",
                 error: str = "") -> Response:
    rows = state.tp.admin.catalog()
    files = [str(p) for p in state.tp.settings.catalog_files]
    return render(request, state, "admin_catalog.html", principal, rows=rows, files=files,
                  refresh=state.tp.settings.catalog_refresh_seconds, done=done[:200],
                  error=error[:300])


@router.post("/admin/catalog/{model_id}/price")
def set_price(request: Request, state: StateDep, principal: PageAdmin, model_id: ModelId,
              credits: Annotated[int, Form(ge=0, le=1_000_000)],
              csrf_token: Annotated[str, Form()] = "") -> Response:
    check_csrf(request, principal, csrf_token)
    try:
        row = state.tp.admin.set_price(model_id, credits, actor(principal))
    except TriptychError as exc:
        return back("/admin/catalog", error=exc.message)
    return back("/admin/catalog", done=f"{row.name} now costs {row.credits} credits per image "
                                       f"for new jobs; jobs already held keep their price.")


@router.post("/admin/catalog/{model_id}/{switch}")
def set_switch(request: Request, state: StateDep, principal: PageAdmin, model_id: ModelId,
               switch: Annotated[str, Path(pattern="^(enable|disable|reset)$")],
               csrf_token: Annotated[str, Form()] = "") -> Response:
    check_csrf(request, principal, csrf_token)
    admin, who = state.tp.admin, actor(principal)
    try:
        if switch == "reset":
            row = admin.reset_model(model_id, who)
            said = f"{row.name} follows its card again."
        else:
            row = admin.set_enabled(model_id, switch == "enable", who)
            said = (f"{row.name} is on." if row.enabled else
                    f"{row.name} is off: it takes no new jobs; those already queued or "
                    f"running finish.")
    except TriptychError as exc:
        return back("/admin/catalog", error=exc.message)
    return back("/admin/catalog", done=said)
