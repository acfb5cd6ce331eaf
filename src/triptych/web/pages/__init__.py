"""The web UI: server-rendered pages (Jinja2), one module per page, with a little plain
JavaScript (``static/``) that calls the same ``/v1`` API a program would."""

from __future__ import annotations

from fastapi import APIRouter

from triptych.web.pages import (
    account,
    admin,
    auth,
    compare,
    create,
    credits,
    gallery,
    models,
    picks,
)

router = APIRouter()
for _module in (auth, create, compare, picks, gallery, credits, models, account, admin):
    router.include_router(_module.router)
