"""The web UI: server-rendered pages (Jinja2), one module per page, with a little plain
JavaScript (``static/``) that calls the same ``/v1`` API a program would."""

from __future__ import annotations

from fastapi import APIRouter

from triptych.web.pages import (
    account,
    admin,
    admin_audit,
    admin_catalog,
    admin_providers,
    admin_usage,
    admin_users,
    auth,
    compare,
    create,
    credits,
    gallery,
    models,
    picks,
)

router = APIRouter()
for _module in (auth, create, compare, picks, gallery, credits, models, account, admin,
                admin_users, admin_usage, admin_providers, admin_catalog, admin_audit):
    router.include_router(_module.router)
