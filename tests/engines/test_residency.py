"""The residency manager: budgets per device, LRU eviction, pinning, keep-alive, reports."""

from __future__ import annotations

import threading

import pytest
import torch

from triptych.engines.residency import GB, Residency, module_bytes, parse_budgets


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def loader(name: str, log: list[str]):
    def load():
        log.append(name)
        return {"name": name}
    return load


def use(manager: Residency, key: str, cost: int, log: list[str], device: str = "cuda:0"):
    with manager.use(key, device, loader(key, log), estimate=cost, measure=lambda _: cost) as m:
        return m


def test_parse_budgets():
    assert parse_budgets("") == {}
    assert parse_budgets("24") == {"*": 24 * GB}
    assert parse_budgets("cuda=22, cuda:1=40,cpu=0.5") == {
        "cuda:0": 22 * GB, "cuda:1": 40 * GB, "cpu": GB // 2}
    with pytest.raises(ValueError, match="GiB"):
        parse_budgets("cuda:0=lots")


def test_a_resident_model_is_a_hit():
    log: list[str] = []
    manager = Residency({"*": 100})
    first = use(manager, "a", 60, log)
    assert use(manager, "a", 60, log) is first
    assert log == ["a"]
    report = manager.report()
    assert (report["loads"], report["hits"]) == (1, 1)
    assert report["models"][0]["model"] == "a" and report["models"][0]["bytes"] == 60


def test_the_least_recently_used_idle_model_goes_first():
    clock = Clock()
    log: list[str] = []
    manager = Residency({"cuda:0": 100}, clock=clock)
    for key in ("a", "b"):
        clock.now += 1
        use(manager, key, 40, log)
    clock.now += 1
    use(manager, "a", 40, log)  # a is now more recent than b
    clock.now += 1
    use(manager, "c", 40, log)  # 120 > 100: b goes
    assert [manager.is_resident(k) for k in "abc"] == [True, False, True]
    assert manager.report()["evictions"] == 1
    assert manager.report()["devices"]["cuda:0"] == {
        "used_bytes": 80, "budget_bytes": 100, "over_budget": False}


def test_budgets_are_per_device():
    log: list[str] = []
    manager = Residency({"cuda:0": 100, "cuda:1": 100})
    use(manager, "a", 80, log, "cuda:0")
    use(manager, "b", 80, log, "cuda:1")
    assert manager.is_resident("a") and manager.is_resident("b")


def test_a_model_in_use_is_never_evicted():
    log: list[str] = []
    manager = Residency({"*": 100})
    with manager.use("a", "cuda:0", loader("a", log), estimate=80, measure=lambda _: 80):
        use(manager, "b", 80, log)  # no room, but a is running: both stay, over budget
        assert manager.is_resident("a")
        assert manager.report()["devices"]["cuda:0"]["over_budget"]
        assert not manager.evict("a")
    use(manager, "c", 80, log)  # now idle models make room
    assert manager.is_resident("c") and not manager.is_resident("a")


def test_unload_is_called_on_eviction():
    unloaded = []
    manager = Residency({"*": 10})
    with manager.use("a", "cpu", lambda: "A", measure=lambda _: 8, unload=unloaded.append):
        pass
    with manager.use("b", "cpu", lambda: "B", measure=lambda _: 8, unload=unloaded.append):
        pass
    assert unloaded == ["A"]


def test_keep_alive_lets_idle_models_go():
    clock = Clock()
    log: list[str] = []
    manager = Residency(keep_alive=60, clock=clock)
    use(manager, "a", 1, log, "cpu")
    clock.now = 59
    assert manager.expire() == []
    clock.now = 61
    assert manager.report()["models"] == []
    assert manager.report()["expired"] == 1


def test_two_threads_load_a_model_once():
    log: list[str] = []
    manager = Residency()
    gate = threading.Barrier(4)

    def go():
        gate.wait()
        use(manager, "a", 1, log, "cpu")

    threads = [threading.Thread(target=go) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert log == ["a"]


def test_no_budget_on_the_cpu_by_default():
    manager = Residency(device_total=lambda _d: None)
    assert manager.budget("cpu") is None
    assert Residency(device_total=lambda _d: 1000).budget("cuda:0") == 900


def test_module_bytes_counts_parameters_and_buffers_once():
    net = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.BatchNorm1d(4))
    shared = torch.nn.Linear(4, 4)
    # linear 20 floats, norm 4+4 floats, running stats 4+4 floats, a step count (int64)
    assert module_bytes(net) == (20 + 8 + 8) * 4 + 8
    assert module_bytes(shared, shared) == module_bytes(shared)
