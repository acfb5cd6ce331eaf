"""The gallery: one tile per image, grouped by job, newest first; filters for model, date
and favourites; paged. The forms work without script; gallery.js makes the star instant."""

from __future__ import annotations

from datetime import timedelta
from itertools import groupby
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from triptych.service.gallery import GalleryFilter
from triptych.web.deps import StateDep, check_csrf, facade_for
from triptych.web.pages.common import PageUser, render, safe_next
from triptych.web.present import gallery_item_out

router = APIRouter()

PAGE_SIZE = 48  # images, not jobs: a page is about the same height whatever the batch sizes
WINDOWS = {"": ("Any time", None), "1": ("Last 24 hours", 1), "7": ("Last 7 days", 7),
           "30": ("Last 30 days", 30)}


def group_by_job(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Consecutive images of one job under one caption (a job cut by a page break shows on
    both pages)."""
    return [{"job_id": job_id, "images": list(images)}
            for job_id, images in groupby(items, key=lambda i: i["job_id"])]


@router.get("/gallery", response_class=HTMLResponse)
def gallery_page(request: Request, state: StateDep, principal: PageUser, q: str = "",
                 model: str = "", when: str = "", kept: bool = False,
                 page: int = 1) -> Response:
    page = max(1, min(page, 10_000))
    when = when if when in WINDOWS else ""
    days = WINDOWS[when][1]
    since = state.tp.ctx.clock() - timedelta(days=days) if days else None
    where = GalleryFilter(q[:200] or None, model[:100] or None, since, None, kept)
    tp = facade_for(state, principal)
    items = [gallery_item_out(i) for i in tp.gallery(where, limit=PAGE_SIZE + 1,
                                                      offset=(page - 1) * PAGE_SIZE)]
    filters = {"q": q[:200], "model": model[:100], "when": when, "kept": "1" if kept else ""}
    query = {k: v for k, v in filters.items() if v}
    return render(request, state, "gallery.html", principal,
                  groups=group_by_job(items[:PAGE_SIZE]), more=len(items) > PAGE_SIZE,
                  page=page, filters=filters, windows=WINDOWS, models=state.tp.models(),
                  names={c.id: c.name for c in state.tp.catalog},
                  filtered=bool(query),
                  here="/gallery?" + urlencode({**query, "page": page}),
                  newer="/gallery?" + urlencode({**query, "page": page - 1}),
                  older="/gallery?" + urlencode({**query, "page": page + 1}))


@router.post("/gallery/images/{image_id}/delete")
def gallery_delete(request: Request, state: StateDep, principal: PageUser,
                   image_id: Annotated[str, Path(max_length=64)],
                   csrf_token: Annotated[str, Form()] = "",
                   back: Annotated[str, Form()] = "/gallery") -> Response:
    check_csrf(request, principal, csrf_token)
    facade_for(state, principal).delete_image(image_id)
    return RedirectResponse(safe_next(back), status_code=303)


@router.post("/gallery/images/{image_id}/favourite")
def gallery_favourite(request: Request, state: StateDep, principal: PageUser,
                      image_id: Annotated[str, Path(max_length=64)],
                      csrf_token: Annotated[str, Form()] = "",
                      favourite: Annotated[str, Form()] = "1",
                      back: Annotated[str, Form()] = "/gallery") -> Response:
    """The star without script (gallery.js calls the API instead)."""
    check_csrf(request, principal, csrf_token)
    facade_for(state, principal).set_favourite(image_id, favourite == "1")
    return RedirectResponse(safe_next(back), status_code=303)
