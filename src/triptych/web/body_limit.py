"""The request body limit, enforced before anything reads the body: outermost, plain ASGI.

FastAPI reads a route's whole body before it runs the route's dependencies (authentication
among them), so without this an unauthenticated client could make the server read and keep
any amount of data before it answers 401.

- A declared ``Content-Length`` over the limit is answered 413 at once; the body is never read.
- A body without one (chunked) is counted as it arrives; the moment it passes the limit the
  client gets 413 and the application is told the client went away (``http.disconnect``), so
  it stops reading; whatever it then tries to answer is dropped.

The 413 carries ``Connection: close``: the server then closes the connection instead of
reading and discarding the rest of an unwanted upload.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from triptych.errors import TriptychError
from triptych.web.errors import OPENAI_PATH, openai_error, rest_error


class PayloadTooLarge(TriptychError):
    code = "payload_too_large"
    http_status = 413


def describe(size: int) -> str:
    """``1048576`` -> ``1 MiB``; ``1500`` -> ``1500 bytes``."""
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if size >= scale and size % scale == 0:
            return f"{size // scale} {unit}"
    return f"{size} bytes"


class BodyLimit:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_bytes:
            await self._refuse(scope, send)
            return

        received = 0
        answered = False  # the 413 went out: the application's own answer is dropped
        started = False

        async def counted_receive() -> Message:
            nonlocal received, answered
            if answered:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes and not started:
                    answered = True
                    await self._refuse(scope, send)
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if answered:
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        await self.app(scope, counted_receive, guarded_send)

    async def _refuse(self, scope: Scope, send: Send) -> None:
        error = PayloadTooLarge(
            f"The request body is larger than {describe(self.max_bytes)}, the most this "
            f"server accepts; send a smaller request.", limit_bytes=self.max_bytes)
        path = scope.get("path", "").rstrip("/")
        response = openai_error(error) if path == OPENAI_PATH else rest_error(error)
        response.status_code = 413  # OpenAI's shape has no 413 of its own; keep HTTP's
        response.headers["connection"] = "close"

        async def nothing() -> Message:  # the response never reads the request
            return {"type": "http.disconnect"}

        await response(scope, nothing, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            text = value.decode("latin-1").strip()
            return int(text) if text.isdigit() else None  # the server rejects a bad one
    return None
