"""Endpoints for operators and orchestrators: ``/healthz``, ``/readyz``, ``/metrics``.

They are left out of the OpenAPI document (they are not part of the product's API; see
docs/deploy.md), take no API key and are never rate-limited, so a load balancer's probes and
Prometheus's scrapes cannot be locked out. ``/metrics`` asks for ``Authorization: Bearer
<TRIPTYCH_METRICS_TOKEN>`` when that variable is set.
"""

from __future__ import annotations

import asyncio
import hmac
from collections.abc import Callable

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from triptych.service import readiness
from triptych.service.metrics import Exposition, process_registry
from triptych.web.errors import Unauthorized, rest_error

router = APIRouter()

@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is up and answering; touches nothing else (a liveness probe)."""
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(request: Request) -> JSONResponse:
    """Database, broker (when one is configured) and image store all answer: 200 with each
    check's detail, or 503 naming the ones that failed."""
    checks = readiness.checks_for(request.app.state.web.tp)
    outcomes = await asyncio.gather(*(_run(check) for check in checks.values()))
    results = dict(zip(checks, outcomes, strict=True))
    failing = [name for name, result in results.items() if not result["ok"]]
    body = {"status": "unready" if failing else "ready", "failing": failing,
            "checks": results}
    return JSONResponse(body, status_code=503 if failing else 200)


async def _run(check: Callable[[], str]) -> dict[str, object]:
    timeout = readiness.CHECK_TIMEOUT_SECONDS
    try:
        detail = await asyncio.wait_for(asyncio.to_thread(check), timeout)
    except TimeoutError:
        return {"ok": False, "detail": f"no answer within {timeout:g} s"}
    except Exception as exc:
        return {"ok": False, "detail": f"{type(exc).__name__}: {exc}"}
    return {"ok": True, "detail": detail}


@router.get("/metrics")
def metrics(request: Request) -> Response:
    """Prometheus text exposition: this process's histograms plus database-derived series."""
    token = request.app.state.web.config.metrics_token
    if token:
        given = request.headers.get("authorization", "")
        if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
            # JSON, not the pages' redirect to /login: the caller is a scraper.
            return rest_error(Unauthorized("Send Authorization: Bearer "
                                           "<TRIPTYCH_METRICS_TOKEN>."))
    tp = request.app.state.web.tp
    database = tp.database_metrics()
    body = generate_latest(Exposition(process_registry(), database))  # type: ignore[arg-type]
    return Response(body, media_type=CONTENT_TYPE_LATEST)
