"""Reading a job's Server-Sent Events stream in tests."""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx


def read_events(stream: httpx.Response,
                on_event: Callable[[str, dict], None] | None = None) -> list[tuple[str, dict]]:
    """Every (event name, data) until the stream ends; ``on_event`` sees each as it comes."""
    events: list[tuple[str, dict]] = []
    name = None
    for line in stream.iter_lines():
        if line.startswith("event: "):
            name = line.removeprefix("event: ")
        elif line.startswith("data: "):
            events.append((name, json.loads(line.removeprefix("data: "))))
            if on_event is not None:
                on_event(*events[-1])
    return events
