"""Residency: which local models stay loaded, per device, within a memory budget.

A model is loaded the first time a job needs it and then stays resident, so the next job for
it skips the load (seconds to minutes for open-weight pipelines). Loading another model on a
device whose budget it would exceed first evicts the least recently used idle models there;
a model running a job is never evicted. A model idle for longer than ``keep_alive`` seconds
is let go at the next visit (0: kept until the budget needs the room).

The cost of a model is measured after it loads (bytes of its parameters and buffers on the
device; see ``module_bytes``); before it loads it is estimated by the caller (the weight
files' size). A model larger than its device's whole budget still loads, alone, and the
report says the device is over budget: the budget is a plan, the device's real limit is what
fails (an out-of-memory error for that job).

One manager per process (``shared``); engines load through it and the scheduler asks it which
models are resident (``is_resident``) to prefer their queued jobs.
"""

from __future__ import annotations

import gc
import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from triptych.settings import Settings

log = logging.getLogger("triptych.residency")

GB = 1024**3


@dataclass
class Resident:
    key: str
    device: str
    value: Any
    bytes: int  # counted against the device's budget
    load_seconds: float
    last_used: float
    in_use: int = 0
    hits: int = 0
    unload: Callable[[Any], None] | None = None


@dataclass
class Counters:
    loads: int = 0
    hits: int = 0
    evictions: int = 0
    expired: int = 0
    load_seconds: float = 0.0
    evicted: list[str] = field(default_factory=list)  # most recent last, a few kept


def parse_budgets(text: str) -> dict[str, int]:
    """``"24"`` (every device) or ``"cuda:0=22,cuda:1=40,cpu=16"`` (GiB) -> bytes per device;
    the key ``*`` holds a budget for every device not named."""
    out: dict[str, int] = {}
    for part in filter(None, (p.strip() for p in (text or "").split(","))):
        name, _, value = part.rpartition("=")
        try:
            gib = float(value)
        except ValueError:
            raise ValueError(f"residency budget {part!r}: expected GiB, e.g. cuda:0=22") from None
        out[normalise_device(name) if name else "*"] = int(gib * GB)
    return out


def normalise_device(device: str) -> str:
    return "cuda:0" if device == "cuda" else device


def module_bytes(*modules: Any) -> int:
    """Bytes of the parameters and buffers of torch modules (each tensor counted once)."""
    seen: set[int] = set()
    total = 0
    for module in modules:
        tensors = [*module.parameters(), *module.buffers()]
        for t in tensors:
            if id(t) not in seen and t.device.type != "meta":
                seen.add(id(t))
                total += t.numel() * t.element_size()
    return total


class Residency:
    def __init__(self, budgets: dict[str, int] | None = None, keep_alive: float = 0.0,
                 clock: Callable[[], float] = time.monotonic,
                 device_total: Callable[[str], int | None] | None = None) -> None:
        self.budgets = dict(budgets or {})
        self.keep_alive = keep_alive
        self.clock = clock
        self.device_total = device_total or _device_total
        self.counters = Counters()
        self._models: dict[str, Resident] = {}
        self._loading: dict[str, int] = {}  # key -> estimated bytes, while it loads
        self._lock = threading.RLock()
        self._key_locks: dict[str, threading.Lock] = {}

    # ------------------------------------------------------------------ budgets
    def budget(self, device: str) -> int | None:
        """Bytes allowed on ``device``: its own budget, else ``*``, else (CUDA) 90% of the
        card's memory; None: no limit (CPU and MPS without a setting)."""
        device = normalise_device(device)
        if device in self.budgets:
            return self.budgets[device]
        if "*" in self.budgets:
            return self.budgets["*"]
        total = self.device_total(device)
        return int(total * 0.9) if total else None

    def used(self, device: str) -> int:
        device = normalise_device(device)
        with self._lock:
            return (sum(r.bytes for r in self._models.values() if r.device == device)
                    + sum(b for k, b in self._loading.items() if k.startswith(device + "|")))

    # ------------------------------------------------------------------ use
    def is_resident(self, key: str) -> bool:
        with self._lock:
            return key in self._models

    @contextmanager
    def use(self, key: str, device: str, load: Callable[[], Any], *, estimate: int = 0,
            measure: Callable[[Any], int] | None = None,
            unload: Callable[[Any], None] | None = None) -> Iterator[Any]:
        """The loaded model for ``key`` (loading it, after making room, when not resident),
        pinned for the duration of the block so nothing evicts it mid-job."""
        device = normalise_device(device)
        resident = self._acquire(key, device, load, estimate, measure, unload)
        try:
            yield resident.value
        finally:
            with self._lock:
                resident.in_use -= 1
                resident.last_used = self.clock()

    def _acquire(self, key: str, device: str, load: Callable[[], Any], estimate: int,
                 measure: Callable[[Any], int] | None,
                 unload: Callable[[Any], None] | None) -> Resident:
        self.expire()
        with self._lock:
            key_lock = self._key_locks.setdefault(key, threading.Lock())
        with key_lock:  # one load per model at a time; other models go on meanwhile
            with self._lock:
                hit = self._models.get(key)
                if hit is not None:
                    hit.in_use += 1
                    hit.hits += 1
                    hit.last_used = self.clock()
                    self.counters.hits += 1
                    return hit
                self._make_room(device, estimate, keep=key)
                self._loading[f"{device}|{key}"] = estimate
            started = time.perf_counter()
            try:
                value = load()
            finally:
                with self._lock:
                    self._loading.pop(f"{device}|{key}", None)
            seconds = time.perf_counter() - started
            cost = measure(value) if measure is not None else estimate
            with self._lock:
                resident = Resident(key, device, value, cost, seconds, self.clock(), in_use=1,
                                    unload=unload)
                self._models[key] = resident
                self.counters.loads += 1
                self.counters.load_seconds += seconds
                self._make_room(device, 0, keep=key)  # the estimate may have been low
            log.info("loaded %s on %s in %.1f s (%.2f GiB)", key, device, seconds, cost / GB)
            return resident

    def _make_room(self, device: str, need: int, keep: str) -> None:
        """Evict idle models on ``device``, least recently used first, until ``need`` more
        bytes fit its budget (or nothing idle is left). Called with the lock held."""
        budget = self.budget(device)
        if budget is None:
            return
        idle = sorted((r for r in self._models.values()
                       if r.device == device and r.in_use == 0 and r.key != keep),
                      key=lambda r: r.last_used)
        for victim in idle:
            if self.used(device) + need <= budget:
                return
            self._drop(victim)
            self.counters.evictions += 1

    def _drop(self, resident: Resident) -> None:
        self._models.pop(resident.key, None)
        self.counters.evicted = [*self.counters.evicted[-9:], resident.key]
        log.info("evicting %s from %s (%.2f GiB)", resident.key, resident.device,
                 resident.bytes / GB)
        if resident.unload is not None:
            try:
                resident.unload(resident.value)
            except Exception:
                log.warning("unloading %s failed", resident.key, exc_info=True)
        resident.value = None
        release_memory(resident.device)

    # ------------------------------------------------------------------ letting go
    def evict(self, key: str) -> bool:
        """Unload ``key`` now if it is idle; False when not resident or running a job."""
        with self._lock:
            resident = self._models.get(key)
            if resident is None or resident.in_use:
                return False
            self._drop(resident)
            self.counters.evictions += 1
            return True

    def evict_idle(self, device: str, keep: str | None = None) -> list[str]:
        """Unload every idle model on ``device`` but ``keep`` (after an out-of-memory)."""
        device = normalise_device(device)
        with self._lock:
            victims = [r for r in self._models.values()
                       if r.device == device and not r.in_use and r.key != keep]
            for r in victims:
                self._drop(r)
                self.counters.evictions += 1
            return [r.key for r in victims]

    def expire(self) -> list[str]:
        """Unload models idle for longer than ``keep_alive`` (when it is set)."""
        if self.keep_alive <= 0:
            return []
        now = self.clock()
        with self._lock:
            stale = [r for r in self._models.values()
                     if not r.in_use and now - r.last_used > self.keep_alive]
            for r in stale:
                self._drop(r)
                self.counters.expired += 1
            return [r.key for r in stale]

    def clear(self) -> None:
        with self._lock:
            for r in list(self._models.values()):
                self._drop(r)

    # ------------------------------------------------------------------ report
    def report(self) -> dict[str, Any]:
        """What is resident, what it costs and how each device stands against its budget."""
        self.expire()
        now = self.clock()
        with self._lock:
            models = [{
                "model": r.key, "device": r.device, "bytes": r.bytes,
                "gib": round(r.bytes / GB, 3), "in_use": r.in_use, "hits": r.hits,
                "load_seconds": round(r.load_seconds, 3),
                "idle_seconds": round(max(0.0, now - r.last_used), 1),
            } for r in sorted(self._models.values(), key=lambda r: -r.last_used)]
            devices = {}
            for device in sorted({r.device for r in self._models.values()}
                                 | {d for d in self.budgets if d != "*"}):
                budget = self.budget(device)
                used = self.used(device)
                devices[device] = {"used_bytes": used, "budget_bytes": budget,
                                   "over_budget": budget is not None and used > budget}
            c = self.counters
            return {"models": models, "devices": devices, "keep_alive_seconds": self.keep_alive,
                    "loads": c.loads, "hits": c.hits, "evictions": c.evictions,
                    "expired": c.expired, "load_seconds": round(c.load_seconds, 3)}


def _device_total(device: str) -> int | None:
    if not device.startswith("cuda"):
        return None
    try:
        import torch

        if not torch.cuda.is_available():
            return None
        index = int(device.split(":")[1]) if ":" in device else 0
        return int(torch.cuda.get_device_properties(index).total_memory)
    except Exception:
        return None


def release_memory(device: str) -> None:
    """Collect what was let go and give the CUDA allocator's cache back to the device."""
    gc.collect()
    if device.startswith("cuda"):
        try:
            import torch

            torch.cuda.empty_cache()
        except Exception:
            pass


# ---------------------------------------------------------------------- the process's manager
_shared: Residency | None = None
_shared_lock = threading.Lock()


def shared(settings: Settings | None = None) -> Residency:
    """This process's manager, built from the settings on first use."""
    global _shared
    with _shared_lock:
        if _shared is None:
            if settings is None:
                from triptych.settings import Settings

                settings = Settings()
            _shared = Residency(parse_budgets(settings.residency_budget_gb),
                                settings.residency_keep_alive_seconds)
        return _shared


def use_shared(manager: Residency | None) -> None:
    """Replace this process's manager (tests; None: rebuilt from settings on next use)."""
    global _shared
    with _shared_lock:
        _shared = manager


def current() -> Residency | None:
    """The process's manager if one exists (readers must not create one)."""
    return _shared
