"""Request batching: concurrent ``generate`` calls that can share a batch run as one.

``BatchingEngine`` wraps an engine that also has ``batch_key`` and ``generate_batch``
(``base.BatchableEngine``). Each caller's thread asks for the request's key and joins the
open group of that key, or opens one and becomes its leader. The leader waits until the group
is full (``max_batch``), or the window has passed and no batch of the same key is still
running, then runs the whole group in its own thread: ``generate_batch`` for two or more,
plain ``generate`` for a group of one (a lone request runs exactly as without batching). Every
caller then gets its own result, or its own exception raised in its own thread.

Under load a group keeps filling while the previous batch of its key runs, so batches grow to
what arrives during one batch; a request that arrives while a batch runs waits for the next.
The window is for requests arriving together (clients answered by the same batch come back
at once): it applies while the key is busy, i.e. its last group had company or other callers
were waiting. A request for an idle key (one person making one image at a time) runs at once,
unless ``wait_when_idle``. A None key (or a key that cannot be computed: the request then
fails in ``generate`` with its own error) runs alone at once.

Nothing here holds a lock while an engine runs, and a leader hands results out in a
``finally``: a batch that crashes fails each of its callers with that exception, never
leaves one waiting.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Any

from triptych.engines.base import Engine, EngineResult, GenerationRequest, ProgressCallback


def batchable(engine: object) -> bool:
    return hasattr(engine, "batch_key") and hasattr(engine, "generate_batch")


@dataclass
class _Slot:
    request: GenerationRequest
    progress: ProgressCallback | None
    outcome: EngineResult | BaseException | None = None


@dataclass
class _Group:
    key: Hashable
    slots: list[_Slot] = field(default_factory=list)
    closed: bool = False  # no one joins any more; the leader runs it
    done: threading.Event = field(default_factory=threading.Event)


class BatchingEngine:
    """``engine`` with concurrent requests of equal ``batch_key`` run as one batch.

    ``window``: seconds a group waits for more requests while its key is busy (always, with
    ``wait_when_idle``); ``max_batch``: most requests per batch. ``sizes`` counts the batches
    run by size (for metrics, tests and ``benchmarks/batching.py``)."""

    def __init__(self, engine: Engine, window: float = 0.002, max_batch: int = 8,
                 wait_when_idle: bool = False) -> None:
        if not batchable(engine):
            raise TypeError(f"{type(engine).__name__} has no batch_key/generate_batch")
        self.engine = engine
        self.window = max(0.0, window)
        self.max_batch = max(1, max_batch)
        self.wait_when_idle = wait_when_idle
        self.sizes: Counter[int] = Counter()
        self._cond = threading.Condition()
        self._open: dict[Hashable, _Group] = {}
        self._running: set[Hashable] = set()
        self._waiting: Counter[Hashable] = Counter()  # callers of a key not yet answered
        self._busy: set[Hashable] = set()  # keys whose last group had company

    def __getattr__(self, name: str) -> Any:  # the wrapped engine's other attributes
        return getattr(self.engine, name)

    def generate(self, request: GenerationRequest,
                 progress: ProgressCallback | None = None) -> EngineResult:
        try:
            key = self.engine.batch_key(request)  # type: ignore[attr-defined]
        except Exception:  # noqa: BLE001 - generate raises the request's own error
            key = None
        if key is None or self.max_batch == 1:
            return self.engine.generate(request, progress)
        slot = _Slot(request, progress)
        with self._cond:
            self._waiting[key] += 1
            group = self._open.get(key)
            leader = group is None
            if leader:
                group = self._open[key] = _Group(key)
            group.slots.append(slot)
            if len(group.slots) >= self.max_batch:
                self._close(group)
            self._cond.notify_all()  # a leader waiting for a full group
        if leader:
            self._lead(group)
        else:
            group.done.wait()
        outcome = slot.outcome
        if isinstance(outcome, BaseException):
            raise outcome
        assert outcome is not None
        return outcome

    def _close(self, group: _Group) -> None:
        """Stop ``group`` taking members (caller holds the condition)."""
        group.closed = True
        if self._open.get(group.key) is group:
            del self._open[group.key]

    def _lead(self, group: _Group) -> None:
        key = group.key
        with self._cond:
            busy = (self.wait_when_idle or key in self._busy or key in self._running
                    or self._waiting[key] > len(group.slots))
            deadline = time.monotonic() + (self.window if busy else 0.0)
            # open until full, or until the window has passed and the key's batch is done
            while not group.closed:
                left = deadline - time.monotonic()
                if left <= 0 and key not in self._running:
                    self._close(group)
                    break
                self._cond.wait(left if left > 0 else None)
            while key in self._running:  # a full group waits its turn
                self._cond.wait()
            self._running.add(key)
            if len(group.slots) > 1 or self._waiting[key] > len(group.slots):
                self._busy.add(key)
            else:
                self._busy.discard(key)
        try:
            self._run(group.slots)
        finally:
            with self._cond:
                self._running.discard(key)
                self._waiting[key] -= len(group.slots)
                if self._waiting[key] <= 0:
                    del self._waiting[key]
                self.sizes[len(group.slots)] += 1
                self._cond.notify_all()
            for slot in group.slots:
                if slot.outcome is None:  # the leader itself was interrupted
                    slot.outcome = RuntimeError("the batch stopped before this request ran")
            group.done.set()

    def _run(self, slots: list[_Slot]) -> None:
        if len(slots) == 1:
            slot = slots[0]
            try:
                slot.outcome = self.engine.generate(slot.request, slot.progress)
            except BaseException as exc:  # noqa: BLE001 - handed to its caller
                slot.outcome = exc
            return
        try:
            outcomes = self.engine.generate_batch(  # type: ignore[attr-defined]
                [s.request for s in slots], [s.progress for s in slots])
            if len(outcomes) != len(slots):
                raise RuntimeError(f"generate_batch returned {len(outcomes)} results for "
                                   f"{len(slots)} requests")
        except BaseException as exc:  # noqa: BLE001 - the whole batch failed: each caller
            outcomes = [exc] * len(slots)
        for slot, outcome in zip(slots, outcomes, strict=True):
            slot.outcome = outcome
