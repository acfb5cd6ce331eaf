"""Local TCP ports for tests: one free to listen on, one where connections are refused."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator

_GIVEN: set[int] = set()
_LOCK = threading.Lock()


def free_port(host: str = "127.0.0.1") -> int:
    """A port free to listen on now, and never handed out before in this process: a port
    chosen for a process that has not bound it yet would otherwise be free to choose again
    for the next one (an API's port became a worker's metrics port that way)."""
    with _LOCK:
        while True:
            with socket.socket() as sock:
                sock.bind((host, 0))
                port = sock.getsockname()[1]
            if port not in _GIVEN:
                _GIVEN.add(port)
                return port


@contextlib.contextmanager
def refused_port() -> Iterator[int]:
    """A port bound but never listening, held for the block: connecting to it is refused."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    try:
        yield sock.getsockname()[1]
    finally:
        sock.close()
