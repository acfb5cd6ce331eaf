"""Fake provider servers speaking each contract over real HTTP on 127.0.0.0/8.

``FakeServer`` is a threaded ``http.server`` on a free port of a given loopback address;
routes are ``(method, regex) -> handler(call, match) -> Resp``, and every request is logged
as a ``Call`` so tests can assert on headers, bodies, counts and timing. One ``Fake*`` class
per provider installs a happy-path script that tests then override route by route.
"""

from __future__ import annotations

import base64
import io
import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from PIL import Image
from tests.support.ports import free_port

from triptych.engines.providers.http import HttpConfig, RetryPolicy

KEY = "sk-test-SECRET-key-1234567890"

# Tiny waits everywhere: the production defaults (0.5 s backoff, 1 s polls, 180 s reads) are
# constructor parameters, so tests pass these instead of patching sleeps.
FAST = HttpConfig(
    connect_timeout=2.0,
    read_timeout=5.0,  # generous: the machine may be busy; timeout tests use TIGHT
    retry=RetryPolicy(attempts=3, base_delay=0.01, max_delay=0.02, max_retry_after=5.0),
    poll_interval=0.01,
    poll_max_interval=0.02,
    poll_deadline=5.0,
    max_download_bytes=200_000,
    max_body_bytes=1_000_000,
)
# For the tests that wait for a read timeout or a polling deadline to pass.
TIGHT = replace(FAST, read_timeout=0.3, poll_deadline=0.5)


def png_bytes(width: int = 64, height: int = 48, color: tuple[int, int, int] = (200, 30, 30)
              ) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buf, format="PNG")
    return buf.getvalue()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


SVG = (b'<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64" viewBox="0 0 64 64">'
       b'<rect width="64" height="64" fill="#336699"/><circle cx="32" cy="32" r="16" '
       b'fill="#ffcc00"/></svg>')


@dataclass
class Resp:
    status: int = 200
    json: Any = None
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    no_length: bool = False  # stream until close, with no Content-Length

    def encode(self) -> tuple[bytes, dict[str, str]]:
        headers = dict(self.headers)
        if self.json is not None:
            headers.setdefault("content-type", "application/json")
            return json.dumps(self.json).encode(), headers
        headers.setdefault("content-type", "application/octet-stream")
        return self.body, headers


def text(status: int, message: str, **headers: str) -> Resp:
    return Resp(status, body=message.encode(), headers={"content-type": "text/plain", **headers})


@dataclass
class Call:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    at: float
    host: str

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


Handler = Callable[[Call, re.Match[str]], Resp | None]  # None: fall through to older routes


class _Server(ThreadingHTTPServer):
    # socketserver's default listen backlog is 5: with dozens of clients connecting at once,
    # the overflow waits out a 1 s SYN retransmit, as no real provider would make it wait.
    request_queue_size = 256


class FakeServer:
    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        self.routes: list[tuple[str, re.Pattern[str], Handler]] = []
        self.calls: list[Call] = []
        self._lock = threading.Lock()
        fake = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out in two writes: with Nagle's algorithm the body waits
            # for the client's delayed ACK, 40 ms a reply that no real provider adds.
            disable_nagle_algorithm = True

            def log_message(self, *args: Any) -> None:
                pass

            def _serve(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else b""
                call = Call(self.command, self.path,
                            {k.lower(): v for k, v in self.headers.items()}, body,
                            time.monotonic(), fake.host)
                with fake._lock:
                    fake.calls.append(call)
                resp = fake.dispatch(call)
                if resp.delay:
                    time.sleep(resp.delay)
                payload, headers = resp.encode()
                try:
                    self.send_response(resp.status)
                    for k, v in headers.items():
                        self.send_header(k, v)
                    if resp.no_length:
                        self.send_header("connection", "close")
                        self.close_connection = True
                    else:
                        self.send_header("content-length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a timeout test)

            do_GET = do_POST = do_PUT = do_DELETE = _serve

        self.port = free_port(host)
        self._server = _Server((host, self.port), _Handler)
        self._server.daemon_threads = True
        self._server.block_on_close = False
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.02}, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def allow(self) -> str:
        """This server as a ``TRIPTYCH_UPSTREAM_ALLOW`` entry: its address and port only."""
        return f"{self.host}:{self.port}"

    def route(self, method: str, pattern: str, handler: Handler | Resp | list[Resp]) -> None:
        """Add (in front, so it wins) a route; a list of Resp is served in turn, last repeats."""
        if isinstance(handler, Resp):
            fixed = handler

            def handler(call: Call, match: re.Match[str]) -> Resp:
                return fixed
        elif isinstance(handler, list):
            queue = list(handler)

            def handler(call: Call, match: re.Match[str]) -> Resp:
                return queue.pop(0) if len(queue) > 1 else queue[0]
        self.routes.insert(0, (method.upper(), re.compile(pattern), handler))

    def once(self, method: str, pattern: str, *responses: Resp) -> None:
        """Serve these responses first, then fall through to the route installed before."""
        queue = list(responses)

        def handler(call: Call, match: re.Match[str]) -> Resp | None:
            return queue.pop(0) if queue else None
        self.routes.insert(0, (method.upper(), re.compile(pattern), handler))

    def dispatch(self, call: Call) -> Resp:
        for method, pattern, handler in list(self.routes):
            match = pattern.fullmatch(call.path)
            if method == call.method and match:
                resp = handler(call, match)
                if resp is not None:
                    return resp
        return Resp(404, json={"detail": f"no fake route for {call.method} {call.path}"})

    def calls_to(self, method: str, pattern: str) -> list[Call]:
        rx = re.compile(pattern)
        return [c for c in self.calls if c.method == method and rx.fullmatch(c.path)]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


# ------------------------------------------------------------------ provider fakes


class Fake:
    """A provider's happy path on ``main`` (API host) and ``alt`` (second host: polling
    URLs, CDN). ``image`` is what the result carries; tests swap it for garbage."""

    name: str
    module: str
    target: str
    submit: tuple[str, str]  # the method and path regex of the billed call
    auth_header: str = "authorization"
    auth_value: str = f"Bearer {KEY}"
    retries_submit_5xx: bool = False
    url_results: bool = False  # the image is downloaded from ``alt``
    storm_headers: dict[str, str] = {}  # headers on the fake's 5xx answers

    def __init__(self, main: FakeServer, alt: FakeServer) -> None:
        self.main = main
        self.alt = alt
        self.image = png_bytes()
        self.install()

    def install(self) -> None:
        raise NotImplementedError

    def engine(self, **kw: Any):
        import importlib

        module = importlib.import_module(f"triptych.engines.providers.{self.module}")
        factory = module.factory
        # Downloads may reach exactly the fake CDN (a loopback address, so refused otherwise).
        engine = factory.engine_cls(api_key=KEY, base_url=self.main.url, model=self.target,
                                    config=kw.pop("config", FAST),
                                    trusted_hosts=kw.pop("trusted_hosts", ("127.0.0.2",)),
                                    upstream_allow=kw.pop("upstream_allow", self.alt.allow))
        return engine

    def serve_files(self) -> None:
        self.alt.route("GET", r"/files/(?P<name>[^?]+)(\?.*)?",
                       lambda c, m: Resp(body=self.image,
                                         headers={"content-type": "image/png"}))

    def file_url(self, name: str = "out.png") -> str:
        return f"{self.alt.url}/files/{name}?sig=abc"

    def error(self, status: int, **kw: Any) -> Resp:
        """A typical JSON error body for this provider."""
        return Resp(status, json={"error": {"message": f"error {status}", **kw}})


class FakeOpenAI(Fake):
    name = module = "openai"
    target = "gpt-image-1"
    submit = ("POST", r"/v1/images/generations")
    retries_submit_5xx = True

    def install(self) -> None:
        def generate(call: Call, m: re.Match[str]) -> Resp:
            n = (call.json() or {}).get("n", 1)
            return Resp(json={"created": 1, "data": [{"b64_json": b64(self.image)}] * n,
                              "usage": {"total_tokens": 10}})
        self.main.route("POST", r"/v1/images/generations", generate)
        self.main.route("GET", r"/v1/models", Resp(json={"data": [{"id": "gpt-image-1"}]}))

    def error(self, status: int, **kw: Any) -> Resp:
        return Resp(status, json={"error": {"message": f"error {status}", "type": "x",
                                            "param": None, "code": None, **kw}})


class FakeXai(Fake):
    name = module = "xai"
    target = "grok-imagine-image"
    submit = ("POST", r"/v1/images/generations")

    def install(self) -> None:
        def generate(call: Call, m: re.Match[str]) -> Resp:
            body = call.json() or {}
            if "size" in body:
                return Resp(400, json={"code": "Client specified an invalid argument",
                                       "error": "Argument not supported: size"})
            n = body.get("n", 1)
            return Resp(json={"data": [{"b64_json": b64(self.image), "respect_moderation": True,
                                        "revised_prompt": "a revised prompt"}] * n,
                              "model": "grok-imagine-image"})
        self.main.route("POST", r"/v1/images/generations", generate)
        self.main.route("GET", r"/v1/models", Resp(json={"data": []}))

    def error(self, status: int, **kw: Any) -> Resp:
        return Resp(status, json={"code": "Client specified an invalid argument",
                                  "error": f"error {status}"})


class FakeGemini(Fake):
    name = module = "gemini"
    target = "gemini-3.1-flash-image-preview"
    submit = ("POST", r"/v1beta/models/[^/:]+:generateContent")
    auth_header = "x-goog-api-key"
    auth_value = KEY
    retries_submit_5xx = True

    def install(self) -> None:
        def generate(call: Call, m: re.Match[str]) -> Resp:
            return Resp(json={
                "candidates": [{"content": {"role": "model", "parts": [
                    {"text": "thinking", "thought": True},
                    {"text": "Here is your image."},
                    {"inlineData": {"mimeType": "image/png", "data": b64(self.image)}},
                ]}, "finishReason": "STOP", "index": 0}],
                "usageMetadata": {"totalTokenCount": 1290},
                "modelVersion": "gemini-3.1-flash-image-preview-0926",
            })
        self.main.route("POST", r"/v1beta/models/[^/:]+:generateContent", generate)
        self.main.route("GET", r"/v1beta/models(\?.*)?", Resp(json={"models": []}))

    def error(self, http_status: int, **kw: Any) -> Resp:  # type: ignore[override]
        status = http_status
        names = {400: "INVALID_ARGUMENT", 403: "PERMISSION_DENIED", 429: "RESOURCE_EXHAUSTED",
                 500: "INTERNAL", 503: "UNAVAILABLE"}
        err = {"code": status, "message": f"error {status}",
               "status": names.get(status, "UNKNOWN"), **kw}
        return Resp(status, json={"error": err})


class FakeRecraft(Fake):
    name = module = "recraft"
    target = "recraftv4_pro"
    submit = ("POST", r"/v1/images/generations")

    def install(self) -> None:
        def generate(call: Call, m: re.Match[str]) -> Resp:
            body = call.json() or {}
            n = body.get("n", 1)
            if body.get("model", "").endswith("_vector"):
                item = {"image_id": "11111111-2222", "url": self.file_url("logo.svg")}
            else:
                item = {"image_id": "11111111-2222", "b64_json": b64(self.image),
                        "features": {"nsfw_score": 0.01}}
            return Resp(json={"created": 1, "credits": 250, "data": [item] * n})
        self.main.route("POST", r"/v1/images/generations", generate)
        self.main.route("GET", r"/v1/users/me", Resp(json={"id": "u", "credits": 1000}))
        self.alt.route("GET", r"/files/logo\.svg(\?.*)?",
                       lambda c, m: Resp(body=self.image, headers={"content-type":
                                                                   "image/svg+xml"}))

    def error(self, status: int, **kw: Any) -> Resp:
        return text(status, f"error {status}")


class FakeBytePlus(Fake):
    name = module = "byteplus"
    target = "seedream-5-0-260128"
    submit = ("POST", r"/api/v3/images/generations")

    def install(self) -> None:
        def generate(call: Call, m: re.Match[str]) -> Resp:
            return Resp(json={"model": "seedream-5-0-260128", "created": 1,
                              "data": [{"b64_json": b64(self.image), "size": "1920x1920"}],
                              "usage": {"generated_images": 1, "output_tokens": 16384}})
        self.main.route("POST", r"/api/v3/images/generations", generate)

    def error(self, status: int, **kw: Any) -> Resp:
        return Resp(status, json={"error": {"code": kw.pop("code", "InternalServiceError"),
                                            "message": f"error {status}. Request ID: 1",
                                            "type": "BadRequest"}})


class FakeBfl(Fake):
    name = module = "bfl"
    target = "flux-2-pro"
    submit = ("POST", r"/v1/flux-2-pro")
    auth_header = "x-key"
    auth_value = KEY
    url_results = True

    def install(self) -> None:
        self.polls = 0
        self.final: dict[str, Any] = {"status": "Ready",
                                      "result": {"sample": self.file_url("sample.png"),
                                                 "prompt": "p", "seed": 7}}
        self.main.route("POST", r"/v1/flux-2-pro", lambda c, m: Resp(json={
            "id": "task-1", "polling_url": f"{self.alt.url}/v1/get_result?id=task-1",
            "cost": 4.5, "input_mp": 0, "output_mp": 1.05}))

        def poll(call: Call, m: re.Match[str]) -> Resp:
            self.polls += 1
            if self.polls < 3:
                return Resp(json={"id": "task-1", "status": "Pending", "result": None,
                                  "progress": 0.3 * self.polls})
            return Resp(json={"id": "task-1", "result": None, "progress": None, **self.final})
        self.alt.route("GET", r"/v1/get_result\?id=task-1", poll)
        self.main.route("GET", r"/v1/get_result\?id=.*",
                        Resp(404, json={"id": "x", "status": "Task not found"}))
        self.serve_files()

    def error(self, status: int, **kw: Any) -> Resp:
        return Resp(status, json={"detail": f"error {status}"})


class FakeFal(Fake):
    name = module = "fal"
    target = "fal-ai/bitdance"
    submit = ("POST", r"/fal-ai/bitdance")
    auth_value = f"Key {KEY}"
    url_results = True
    # fal retries a 5xx submit only when it is an ingress error (no request id): an app error
    # carries one, so the storm must not be repeated.
    storm_headers = {"x-fal-request-id": "req-storm"}

    def install(self) -> None:
        self.statuses = [{"status": "IN_QUEUE", "queue_position": 0},
                         {"status": "IN_PROGRESS", "logs": []},
                         {"status": "COMPLETED", "logs": [], "metrics": {}}]
        self.output: dict[str, Any] = {"images": [{"url": self.file_url("1.png"), "width": 64,
                                                   "height": 48,
                                                   "content_type": "image/png"}],
                                       "seed": 42, "has_nsfw_concepts": [False]}
        base = f"{self.alt.url}/fal-ai/bitdance/requests/req-1"
        self.main.route("POST", r"/fal-ai/bitdance", lambda c, m: Resp(json={
            "request_id": "req-1", "status_url": f"{base}/status", "response_url": base,
            "cancel_url": f"{base}/cancel"}))

        def status(call: Call, m: re.Match[str]) -> Resp:
            return Resp(json=self.statuses.pop(0) if len(self.statuses) > 1
                        else self.statuses[0])
        self.alt.route("GET", r"/fal-ai/bitdance/requests/req-1/status", status)
        self.alt.route("GET", r"/fal-ai/bitdance/requests/req-1", lambda c, m: Resp(
            json=self.output))
        self.main.route("GET", r"/fal-ai/bitdance/requests/[^/]+/status",
                        Resp(404, json={"detail": "Request not found"}))
        self.serve_files()

    def error(self, status: int, **kw: Any) -> Resp:
        return Resp(status, json={"detail": f"error {status}"})


class FakeReplicate(Fake):
    name = module = "replicate"
    target = "acme/painter"
    submit = ("POST", r"/v1/models/acme/painter/predictions")
    url_results = True

    def install(self) -> None:
        self.polls = 0
        self.final: dict[str, Any] = {"status": "succeeded",
                                      "output": [self.file_url("p1.png")],
                                      "metrics": {"predict_time": 1.5}}
        self.main.route("POST", r"/v1/models/acme/painter/predictions", lambda c, m: Resp(
            201, json={"id": "p1", "status": "starting", "output": None, "error": None,
                       "urls": {"get": f"{self.main.url}/v1/predictions/p1"}}))

        def poll(call: Call, m: re.Match[str]) -> Resp:
            self.polls += 1
            if self.polls < 2:
                return Resp(json={"id": "p1", "status": "processing", "output": None})
            return Resp(json={"id": "p1", "version": "v123", "error": None, **self.final})
        self.main.route("GET", r"/v1/predictions/p1", poll)
        self.main.route("POST", r"/v1/predictions/p1/cancel", Resp(json={"id": "p1",
                                                                      "status": "canceled"}))
        self.main.route("GET", r"/v1/account", Resp(json={"username": "acme"}))
        self.serve_files()

    def error(self, status: int, **kw: Any) -> Resp:
        return Resp(status, json={"title": f"error {status}", "detail": f"error {status}",
                                  "status": status})


ALL_FAKES: list[type[Fake]] = [FakeBfl, FakeGemini, FakeXai, FakeRecraft, FakeBytePlus, FakeFal,
                               FakeReplicate, FakeOpenAI]
