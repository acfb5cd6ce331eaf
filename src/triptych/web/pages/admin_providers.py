"""Admin: provider health — what ``triptych providers check`` says (one free call per
configured provider, side by side), with each provider's models and recent failures."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from triptych.service.provider_health import FAILED, check_providers
from triptych.web.deps import StateDep
from triptych.web.pages.common import PageAdmin, render

router = APIRouter()
WORDS = {"ok": "working", "unverified": "key set, not verified", "not_configured":
         "not configured", "auth_failed": "key refused", "out_of_credit": "out of credit",
         "unavailable": "unavailable", "unreachable": "unreachable", "error": "error"}


@router.get("/admin/providers", response_class=HTMLResponse)
def providers_page(request: Request, state: StateDep, principal: PageAdmin) -> Response:
    tp = state.tp
    rows = check_providers(tp.settings, tp.catalog)
    failures = {f["provider"]: f for f in tp.admin.usage(7)["failures"]}
    models: dict[str, list[str]] = {}
    for card in tp.catalog:
        models.setdefault(card.scheme, []).append(card.name)
    providers = [{**row, "words": WORDS.get(row["status"], row["status"]),
                  "failed": row["status"] in FAILED, "models": models.get(row["provider"], [])}
                 for row in rows]
    names = {card.scheme: card.provider for card in tp.catalog}
    for p in providers:
        p["failures"] = failures.get(names.get(p["provider"], ""), None)
    return render(request, state, "admin_providers.html", principal, providers=providers)
