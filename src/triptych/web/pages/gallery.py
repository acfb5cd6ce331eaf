"""The gallery: the user's images, searchable, newest first."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote as urlquote

from fastapi import APIRouter, Form, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from triptych.web.deps import StateDep, check_csrf, facade_for
from triptych.web.pages.common import PageUser, render, safe_next
from triptych.web.present import job_out

router = APIRouter()


PAGE_SIZE = 24


@router.get("/gallery", response_class=HTMLResponse)
def gallery_page(request: Request, state: StateDep, principal: PageUser, q: str = "",
                 model: str = "", page: int = 1) -> Response:
    page = max(1, min(page, 10_000))
    tp = facade_for(state, principal)
    items = tp.history(q[:200] or None, model=model[:100] or None, limit=PAGE_SIZE + 1,
                       offset=(page - 1) * PAGE_SIZE)
    return render(request, state, "gallery.html", principal,
                  jobs=[job_out(j) for j in items[:PAGE_SIZE]], more=len(items) > PAGE_SIZE,
                  page=page, q=q[:200], model=model[:100], models=state.tp.models(),
                  urlquote=urlquote)


@router.post("/gallery/images/{image_id}/delete")
def gallery_delete(request: Request, state: StateDep, principal: PageUser,
                   image_id: Annotated[str, Path(max_length=64)],
                   csrf_token: Annotated[str, Form()] = "",
                   back: Annotated[str, Form()] = "/gallery") -> Response:
    check_csrf(request, principal, csrf_token)
    facade_for(state, principal).delete_image(image_id)
    return RedirectResponse(safe_next(back), status_code=303)
