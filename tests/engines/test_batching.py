"""The batcher (engines/batching.py) with a fake batchable engine."""

from __future__ import annotations

import random
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from PIL import Image

from triptych.engines.base import (
    BatchableEngine,
    EngineImage,
    EngineResult,
    GenerationRequest,
)
from triptych.engines.batching import BatchingEngine, batchable


class Cancelled(Exception):
    pass


class FakeBatchable:
    """Images whose colour is the seed; ``options``: ``key`` (the batch key, None: alone),
    ``fail`` (this request's own error), ``crash`` (the whole batch raises)."""

    def __init__(self, gate: threading.Event | None = None) -> None:
        self.gate = gate  # generate_batch waits for it: a batch that is still running
        self.started = threading.Event()
        self.batches: list[list[int]] = []  # seeds per generate_batch call
        self.alone: list[int] = []  # seeds run through generate
        self._lock = threading.Lock()

    def batch_key(self, request: GenerationRequest):
        if request.options.get("bad_key"):
            raise ValueError("cannot key this")
        return request.options.get("key", "k")

    def _result(self, request: GenerationRequest) -> EngineResult:
        if request.options.get("fail"):
            raise ValueError(f"request {request.seed} is bad")
        image = Image.new("RGB", (4, 4), (request.seed % 256, 0, 0))
        return EngineResult(images=[EngineImage(image, notes={"seed": request.seed})])

    def generate(self, request, progress=None):
        with self._lock:
            self.alone.append(request.seed)
        if progress is not None:
            progress(1.0, None)
        return self._result(request)

    def generate_batch(self, requests, progress):
        with self._lock:
            self.batches.append([r.seed for r in requests])
        self.started.set()
        if self.gate is not None:
            assert self.gate.wait(10)
        if any(r.options.get("crash") for r in requests):
            raise RuntimeError("the whole batch broke")
        out = []
        for request, cb in zip(requests, progress, strict=True):
            try:
                if cb is not None:
                    cb(0.5, None)
                out.append(self._result(request))
            except Exception as exc:  # noqa: BLE001 - its slot
                out.append(exc)
        return out


def req(seed: int, **options) -> GenerationRequest:
    return GenerationRequest("a cat", 64, 64, seed, options=options)


def run_all(engine, requests, progress=None):
    """Call engine.generate for every request at once from its own thread; outcomes in order."""
    barrier = threading.Barrier(len(requests))

    def one(i_request):
        i, request = i_request
        barrier.wait()
        try:
            return engine.generate(request, progress[i] if progress else None)
        except Exception as exc:  # noqa: BLE001 - compared by the test
            return exc

    with ThreadPoolExecutor(len(requests)) as pool:
        return list(pool.map(one, enumerate(requests), timeout=30))


def seed_of(result: EngineResult) -> int:
    return result.images[0].notes["seed"]


def test_fake_is_batchable_and_plain_engines_are_not():
    assert batchable(FakeBatchable()) and isinstance(FakeBatchable(), BatchableEngine)
    assert not batchable(object())
    with pytest.raises(TypeError):
        BatchingEngine(object())  # type: ignore[arg-type]


def test_requests_within_the_window_form_one_batch():
    fake = FakeBatchable()
    engine = BatchingEngine(fake, window=2.0, max_batch=4, wait_when_idle=True)
    results = run_all(engine, [req(s) for s in range(4)])
    assert [seed_of(r) for r in results] == [0, 1, 2, 3]  # each caller its own result
    assert len(fake.batches) == 1 and sorted(fake.batches[0]) == [0, 1, 2, 3]
    assert engine.sizes == {4: 1}


def test_a_lone_request_runs_through_generate_without_waiting():
    fake = FakeBatchable()
    engine = BatchingEngine(fake, window=60.0)  # idle: a wait would hang the test
    assert seed_of(engine.generate(req(7))) == 7
    assert seed_of(engine.generate(req(8))) == 8
    assert fake.alone == [7, 8] and fake.batches == []


def test_a_busy_key_waits_the_window_for_company():
    fake = FakeBatchable()
    engine = BatchingEngine(fake, window=2.0, max_batch=3)
    engine._busy.add("k")  # as after a batch with company: clients come back together
    results = run_all(engine, [req(s) for s in range(3)])
    assert [seed_of(r) for r in results] == [0, 1, 2]
    assert [sorted(b) for b in fake.batches] == [[0, 1, 2]]


def test_max_batch_caps_the_group():
    fake = FakeBatchable()
    engine = BatchingEngine(fake, window=1.0, max_batch=3, wait_when_idle=True)
    results = run_all(engine, [req(s) for s in range(7)])
    assert sorted(seed_of(r) for r in results) == list(range(7))
    sizes = [len(b) for b in fake.batches] + [1] * len(fake.alone)
    assert max(sizes) <= 3 and sum(sizes) == 7


def test_different_keys_never_share_a_batch():
    fake = FakeBatchable()
    engine = BatchingEngine(fake, window=1.0, max_batch=8, wait_when_idle=True)
    run_all(engine, [req(s, key="a" if s % 2 else "b") for s in range(6)])
    for batch in fake.batches:
        assert len({s % 2 for s in batch}) == 1


def test_none_key_or_a_key_that_fails_runs_alone_at_once():
    fake = FakeBatchable()
    engine = BatchingEngine(fake, window=60.0)  # a wait would hang the test, not pass it
    assert seed_of(engine.generate(req(1, key=None))) == 1
    assert seed_of(engine.generate(req(2, bad_key=True))) == 2
    assert fake.alone == [1, 2]


def test_one_request_failing_fails_only_that_caller():
    fake = FakeBatchable()
    engine = BatchingEngine(fake, window=2.0, max_batch=3, wait_when_idle=True)
    results = run_all(engine, [req(0), req(1, fail=True), req(2)])
    assert seed_of(results[0]) == 0 and seed_of(results[2]) == 2
    assert isinstance(results[1], ValueError) and "request 1" in str(results[1])


def test_a_crashed_batch_fails_every_caller_with_its_error():
    fake = FakeBatchable()
    engine = BatchingEngine(fake, window=2.0, max_batch=3, wait_when_idle=True)
    results = run_all(engine, [req(0), req(1, crash=True), req(2)])
    assert all(isinstance(r, RuntimeError) and "whole batch" in str(r) for r in results)
    # and the key is free again: the next request runs
    assert seed_of(engine.generate(req(3))) == 3


def test_a_cancelled_request_drops_out_alone():
    fake = FakeBatchable()
    engine = BatchingEngine(fake, window=2.0, max_batch=3, wait_when_idle=True)
    heard: list[int] = []

    def listen(i):
        def cb(fraction, preview):
            heard.append(i)
        return cb

    def cancel(fraction, preview):
        raise Cancelled()

    results = run_all(engine, [req(0), req(1), req(2)], [listen(0), cancel, listen(2)])
    assert isinstance(results[1], Cancelled)
    assert seed_of(results[0]) == 0 and seed_of(results[2]) == 2
    assert sorted(heard) == [0, 2]


def test_requests_arriving_while_a_batch_runs_wait_for_the_next():
    gate = threading.Event()
    fake = FakeBatchable(gate)
    engine = BatchingEngine(fake, window=10.0, max_batch=3, wait_when_idle=True)
    with ThreadPoolExecutor(8) as pool:
        first = [pool.submit(engine.generate, req(s)) for s in (0, 1, 2)]  # a full batch
        assert fake.started.wait(10)  # running, held at the gate
        engine.window, engine.max_batch = 0.0, 8  # from now on: no wait, room for all
        late = [pool.submit(engine.generate, req(s)) for s in (10, 11, 12)]
        while len(getattr(engine._open.get("k"), "slots", [])) < 3:
            threading.Event().wait(0.01)  # all three joined the group waiting its turn
        gate.set()
        outs = [f.result(timeout=30) for f in first + late]
    assert [seed_of(r) for r in outs] == [0, 1, 2, 10, 11, 12]
    # the late ones did not join the running batch nor run alone: the window had passed,
    # but the group stayed open while its key's batch ran
    assert [sorted(b) for b in fake.batches] == [[0, 1, 2], [10, 11, 12]]


def test_many_threads_many_keys_no_deadlock_and_no_lost_result():
    fake = FakeBatchable()
    engine = BatchingEngine(fake, window=0.001, max_batch=5)
    rng = random.Random(7)
    requests = [req(s, key=rng.choice(["a", "b", "c", None]),
                    **({"fail": True} if s % 9 == 0 else {})) for s in range(96)]
    results = run_all(engine, requests)
    for request, result in zip(requests, results, strict=True):
        if request.options.get("fail"):
            assert isinstance(result, ValueError) and f"request {request.seed} " in str(result)
        else:
            assert seed_of(result) == request.seed
    ran = sorted([s for b in fake.batches for s in b] + fake.alone)
    assert ran == list(range(96))  # every request ran exactly once
    assert all(len(b) <= 5 for b in fake.batches)


def test_registry_wraps_batchable_engines_unless_switched_off(settings):
    from triptych.catalog.card import ModelCard
    from triptych.engines import registry
    from triptych.engines.base import Availability

    class Factory:
        def create(self, card, settings):
            return FakeBatchable()

        def availability(self, card, settings):
            return Availability(True)

    registry.register("fakebatch", Factory())
    try:
        card = ModelCard(id="fb", name="FB", provider="Test", family="diffusion",
                         tier="fast", credits=1, quality="draft", description="fake",
                         max_width=64, max_height=64, default_width=64, default_height=64,
                         engine="fakebatch:x")
        settings.batch_window_ms, settings.batch_max = 5.0, 3
        wrapped = registry.create_engine(card, settings)
        assert isinstance(wrapped, BatchingEngine)
        assert (wrapped.window, wrapped.max_batch) == (0.005, 3)
        settings.batching = False
        assert isinstance(registry.create_engine(card, settings), FakeBatchable)
    finally:
        registry.unregister("fakebatch")
