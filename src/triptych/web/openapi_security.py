"""Who may call each route, in the OpenAPI document: an API key (bearer) or the browser
session, on every route whose dependencies include ``deps.current_user``.

Declared here rather than as FastAPI security dependencies: those would be resolved on every
request, a measurable share of a short request's CPU, only to be documented."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from fastapi import FastAPI, routing
from fastapi.dependencies.models import Dependant

from triptych.web import sessions

SCHEMES: dict[str, dict[str, str]] = {
    "HTTPBearer": {"type": "http", "scheme": "bearer",
                   "description": "A Triptych API key (tpk_…)."},
    "APIKeyCookie": {"type": "apiKey", "in": "cookie", "name": sessions.COOKIE,
                     "description": "Browser session; writes also need the X-CSRF-Token "
                                    "header."},
}
REQUIREMENT = [{name: []} for name in SCHEMES]  # either one


def depends_on(dependant: Dependant, call: Callable[..., Any]) -> bool:
    return any(sub.call is call or depends_on(sub, call) for sub in dependant.dependencies)


def api_routes(app: FastAPI) -> Iterator[Any]:
    """The app's API routes with their paths as served (recent FastAPI keeps an included
    router whole and gives its routes through ``iter_route_contexts``)."""
    contexts = getattr(routing, "iter_route_contexts", None)
    for route in contexts(app.routes) if contexts else app.routes:
        if isinstance(getattr(route, "original_route", route), routing.APIRoute):
            yield route


def add_security(app: FastAPI, document: dict[str, Any], caller: Callable[..., Any]) -> None:
    """Mark every documented operation whose route depends on ``caller`` as needing one of
    ``SCHEMES``."""
    marked = False
    for route in api_routes(app):
        if not (route.include_in_schema and depends_on(route.dependant, caller)):
            continue
        for method in route.methods:
            operation = document["paths"].get(route.path_format, {}).get(method.lower())
            if operation is not None:
                operation["security"] = REQUIREMENT
                marked = True
    if marked:
        document.setdefault("components", {}).setdefault("securitySchemes", {}).update(SCHEMES)
