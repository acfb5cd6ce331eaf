"""The compare page: one prompt on up to four models side by side."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse, Response

from triptych.service.requests import MAX_PROMPT_CHARS
from triptych.web.deps import StateDep, facade_for
from triptych.web.pages.common import PageUser, grouped_models, render

router = APIRouter()


@router.get("/compare", response_class=HTMLResponse)
def compare_page(request: Request, state: StateDep, principal: PageUser, prompt: str = "",
                 seed: str = "", models: str = "", blind: bool = False) -> Response:
    return render(request, state, "compare.html", principal, groups=grouped_models(state),
                  prompt=prompt[:MAX_PROMPT_CHARS], seed=seed[:12], chosen=models.split(",")[:4],
                  compare_id=None, blind=blind)


@router.get("/compare/{compare_id}", response_class=HTMLResponse)
def compare_view(request: Request, state: StateDep, principal: PageUser,
                 compare_id: Annotated[str, Path(max_length=64)],
                 blind: bool = False) -> Response:
    from triptych.web.routes_compare import compare_status

    status = compare_status(facade_for(state, principal), compare_id)  # owner check
    return render(request, state, "compare.html", principal, groups=grouped_models(state),
                  prompt=status["prompt"], seed=str(status["seed"]),
                  chosen=[j["model"] for j in status["jobs"]], compare_id=compare_id,
                  blind=blind)
