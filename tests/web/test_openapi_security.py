"""The OpenAPI document says which routes need a caller (an API key or the browser session),
though no security dependency runs per request to say it."""

from __future__ import annotations

from triptych.web.deps import current_user
from triptych.web.openapi_security import REQUIREMENT, SCHEMES, api_routes, depends_on


def test_routes_that_need_a_caller_say_so(app, client):
    document = client.get("/openapi.json").json()
    assert document["components"]["securitySchemes"] == SCHEMES
    operations = {(path, method): op for path, methods in document["paths"].items()
                  for method, op in methods.items()}
    assert operations[("/v1/generations", "post")]["security"] == REQUIREMENT
    assert operations[("/v1/jobs/{job_id}/events", "get")]["security"] == REQUIREMENT
    assert operations[("/v1/admin/jobs", "get")]["security"] == REQUIREMENT  # via admin_user
    assert "security" not in operations[("/v1/auth/login", "post")]
    for route in api_routes(app):
        for method in route.methods if route.include_in_schema else ():
            secured = "security" in operations[(route.path_format, method.lower())]
            assert secured == depends_on(route.dependant, current_user), route.path_format


def test_a_secured_route_still_refuses_a_request_without_a_caller(client):
    r = client.post("/v1/generations", json={"prompt": "x"})
    assert r.status_code == 401 and r.json()["error"]["code"] == "unauthorized"
