"""HTTP request latency for ``/metrics``, as plain ASGI middleware (no response buffering, so
event streams flow untouched).

Requests are labelled by route template (``/v1/jobs/{job_id}``, never the raw path, so the
number of series stays bounded) and timed to the response's headers.
"""

from __future__ import annotations

import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from triptych.service.metrics import observe_request

UNMATCHED = "unmatched"  # every path no route knows: one series, not one per scanner probe


class RequestMetrics:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        observed = False

        async def send_timed(message: Message) -> None:
            nonlocal observed
            if message["type"] == "http.response.start" and not observed:
                observed = True
                observe_request(_route(scope), scope["method"], message["status"],
                                time.perf_counter() - started)
            await send(message)

        try:
            await self.app(scope, receive, send_timed)
        finally:
            if not observed:  # raised before any response: the server answers 500
                observe_request(_route(scope), scope["method"], 500,
                                time.perf_counter() - started)


def _route(scope: Scope) -> str:
    route = scope.get("route")  # set by the router on the shared scope once it matched
    return getattr(route, "path", None) or UNMATCHED
