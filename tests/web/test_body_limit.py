"""The request body limit (``web/body_limit.py``): a 300 MB body, declared or streamed, is
refused with 413 before authentication, right after it passes the limit, and the server's
memory stays where it was. Against a real ``triptych serve`` process, over raw sockets, so
nothing in between buffers the upload."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from tests.support.processes import Proc, serve_source
from triptych.web.body_limit import describe

LIMIT = 1_048_576  # the default
HUGE = 300 * 1024 * 1024
CHUNK = 64 * 1024
MIB = 1024 * 1024


@dataclass
class Server:
    proc: Proc
    port: int

    @property
    def pid(self) -> int:
        assert self.proc.popen is not None
        return self.proc.popen.pid

    def rss(self) -> int:
        """Resident memory of the server process, in bytes (``VmRSS``)."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        raise AssertionError("no VmRSS")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    proc, port = serve_source(tmp_path_factory.mktemp("body-limit"))
    try:
        yield Server(proc, port)
    finally:
        proc.terminate(10)
        # Whatever went wrong, the log says what the server thought of it.
        assert "Traceback" not in proc.text(), proc.text()[-3000:]


@dataclass
class Upload:
    """One POST over a raw socket: the sender writes the body while the reader waits for
    the answer; both note when things happened."""

    sent: int = 0
    passed_at: float | None = None  # when the byte past the limit was handed to the socket
    send_error: str = ""
    answer: bytes = b""
    answered_at: float | None = None
    closed: bool = False
    done: threading.Event = field(default_factory=threading.Event)


def upload(port: int, *, declared: bool, total: int = HUGE, path: str = "/v1/generations",
           content_type: str = "application/json") -> Upload:
    sock = socket.create_connection(("127.0.0.1", port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    framing = (f"Content-Length: {total}" if declared else "Transfer-Encoding: chunked")
    head = (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            f"Content-Type: {content_type}\r\n{framing}\r\n\r\n").encode()
    state = Upload()
    piece = b"x" * CHUNK

    def frame(data: bytes) -> bytes:
        return data if declared else b"%x\r\n%s\r\n" % (len(data), data)

    def send() -> None:
        try:
            if declared:
                state.passed_at = time.monotonic()  # declared: past the limit from the start
            sock.sendall(head)
            if not declared:
                # Up to the limit, then a pause so the server has read all of it: the clock
                # then starts at the one chunk that passes the limit.
                while state.sent + CHUNK <= LIMIT:
                    sock.sendall(frame(piece))
                    state.sent += CHUNK
                time.sleep(0.5)
                state.passed_at = time.monotonic()
            while state.sent < total and not state.done.is_set():
                sock.sendall(frame(piece))
                state.sent += CHUNK
        except OSError as exc:  # the server closed the connection on us: what we want
            state.send_error = type(exc).__name__

    def read() -> None:
        try:
            while True:
                data = sock.recv(65536)
                if not data:
                    state.closed = True
                    return
                if state.answered_at is None:
                    state.answered_at = time.monotonic()
                state.answer += data
        except OSError:
            state.closed = True
        finally:
            state.done.set()

    sender = threading.Thread(target=send, daemon=True)
    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    sender.start()
    state.done.wait(60)
    sender.join(30)
    sock.close()
    return state


def status_and_body(raw: bytes) -> tuple[int, dict]:
    head, _, body = raw.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    return status, json.loads(body)


@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "chunked"])
def test_a_300_mb_body_is_refused_at_the_limit_with_memory_flat(server: Server,
                                                                 declared: bool) -> None:
    # A first small request: whatever a first request allocates is not counted below.
    assert httpx.post(f"http://127.0.0.1:{server.port}/v1/generations",
                      json={"prompt": "x"}).status_code == 401
    before = server.rss()
    state = upload(server.port, declared=declared)
    after = server.rss()

    status, body = status_and_body(state.answer)
    assert status == 413, state.answer[:300]  # not 401: the body never reached the route
    assert body["error"]["code"] == "payload_too_large"
    assert describe(LIMIT) in body["error"]["message"] == (
        "The request body is larger than 1 MiB, the most this server accepts; send a "
        "smaller request.")
    assert b"connection: close" in state.answer.lower()
    assert state.passed_at is not None and state.answered_at is not None
    assert state.answered_at - state.passed_at < 0.1, state.answered_at - state.passed_at
    # The server hung up: the client could not push the rest (only what socket buffers held).
    assert state.closed
    assert state.sent < 64 * MIB, state.sent
    assert after - before < 16 * MIB, (before, after)


@pytest.mark.parametrize(("path", "content_type"), [
    ("/v1/images/generations", "application/json"),
    ("/login", "application/x-www-form-urlencoded"),  # a page's form
])
def test_every_kind_of_route_is_cut_off_at_the_limit(server: Server, path: str,
                                                    content_type: str) -> None:
    state = upload(server.port, declared=False, total=8 * MIB, path=path,
                   content_type=content_type)
    status, body = status_and_body(state.answer)
    assert status == 413 and body["error"]["code"] == "payload_too_large"
    assert state.closed
    # (the fixture checks the server logged no error for any of these)


def test_a_body_within_the_limit_still_reaches_the_route(server: Server) -> None:
    # Just under the limit, streamed: read in full, then authentication answers.
    def chunks() -> Iterator[bytes]:
        yield b'{"prompt": "' + b"x" * (LIMIT - 100) + b'"}'

    reply = httpx.post(f"http://127.0.0.1:{server.port}/v1/generations", content=chunks(),
                       headers={"content-type": "application/json"})
    assert reply.status_code == 401


@pytest.fixture
def web_config():
    from tests.web.conftest import fast_config

    return fast_config(max_body_bytes=1000)


def test_the_openai_route_answers_in_openais_shape(client, alice) -> None:
    reply = client.post("/v1/images/generations", headers=alice,
                        json={"prompt": "x" * 2000, "model": "fake-general"})
    assert reply.status_code == 413
    error = reply.json()["error"]
    assert error["code"] == "payload_too_large" and error["type"] == "invalid_request_error"
    assert "1000 bytes" in error["message"]
    assert reply.headers["x-should-retry"] == "false"


def test_a_small_limit_is_the_operators_to_set(client, alice) -> None:
    assert client.post("/v1/generations", headers=alice, json={
        "prompt": "a red circle", "model": "fake-general"}).status_code == 202
    reply = client.post("/v1/generations", headers=alice,
                        json={"prompt": "x" * 1500, "model": "fake-general"})
    assert reply.status_code == 413 and reply.json()["error"]["limit_bytes"] == 1000
