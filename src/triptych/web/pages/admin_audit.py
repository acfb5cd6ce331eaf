"""Admin: the audit log — every admin action, newest first, filterable by kind."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from triptych.service.audit import ACTIONS
from triptych.web.deps import StateDep
from triptych.web.pages.common import PageAdmin, render

router = APIRouter()
PAGE = 50


@router.get("/admin/audit", response_class=HTMLResponse)
def audit_page(request: Request, state: StateDep, principal: PageAdmin,
               action: Annotated[str, Query(max_length=64)] = "",
               offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0) -> Response:
    action = action if action in ACTIONS else ""
    entries, total = state.tp.admin.audit(limit=PAGE, offset=offset, action=action or None)
    return render(request, state, "admin_audit.html", principal, entries=entries,
                  total=total, action=action, actions=ACTIONS, offset=offset, page_size=PAGE)
