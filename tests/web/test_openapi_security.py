"""The OpenAPI document says which routes need a caller (an API key or the browser session),
though no security dependency runs per request to say it."""

from __future__ import annotations

import re

from triptych.web.openapi_security import REQUIREMENT, SCHEMES

# The documented operations anyone may call: signing up, in and out, and account recovery.
PUBLIC = {("post", f"/v1/auth/{name}")
          for name in ("signup", "login", "verify", "forgot", "reset", "logout")}


def operations(client) -> dict[tuple[str, str], dict]:
    document = client.get("/openapi.json").json()
    assert document["components"]["securitySchemes"] == SCHEMES
    return {(method, path): op for path, methods in document["paths"].items()
            for method, op in methods.items()}


def test_every_operation_but_the_public_ones_needs_a_caller(client):
    ops = operations(client)
    assert PUBLIC <= ops.keys()
    assert {key for key, op in ops.items() if "security" not in op} == PUBLIC
    assert all(op["security"] == REQUIREMENT for key, op in ops.items() if key not in PUBLIC)


def test_each_secured_operation_refuses_a_request_without_a_caller(client):
    for method, path in operations(client).keys() - PUBLIC:
        r = client.request(method, re.sub(r"\{[^}]+\}", "x", path))
        assert r.status_code == 401, (method, path, r.status_code)
