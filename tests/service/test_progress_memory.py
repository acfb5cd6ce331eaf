"""The in-process progress hub: delivery, latest-on-subscribe, and forgetting jobs."""

from __future__ import annotations

import queue

from triptych.service.progress import MemoryProgressHub, ProgressEvent


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def test_subscribers_get_the_latest_then_every_event():
    hub = MemoryProgressHub()
    hub.publish_progress("a", 0.2, None)
    hub.publish_progress("a", 1.5, None)  # clamped
    q = hub.subscribe("a")
    assert q.get_nowait().fraction == 1.0
    hub.publish(ProgressEvent("a", "succeeded", 1.0))
    assert q.get_nowait().status == "succeeded" and q.empty()
    hub.unsubscribe("a", q)
    hub.publish_progress("a", 0.5, None)
    assert q.empty()


def test_subscribe_into_a_given_queue():
    hub = MemoryProgressHub()
    mine: queue.Queue[ProgressEvent] = queue.Queue()
    assert hub.subscribe("a", mine) is mine
    hub.publish_progress("a", 0.5, None)
    assert mine.get_nowait().fraction == 0.5


def test_finished_jobs_are_forgotten_after_final_ttl():
    clock = Clock()
    hub = MemoryProgressHub(final_ttl=60, idle_ttl=3600, now=clock)
    hub.publish_progress("done", 0.5, None)
    hub.publish(ProgressEvent("done", "failed", 1.0, extra={"error": "x"}))
    hub.publish_progress("running", 0.5, None)
    clock.t += 59
    assert hub.latest("done").status == "failed" and hub.tracked() == 2
    clock.t += 2
    assert hub.latest("done") is None  # dropped a minute after its final event
    assert hub.latest("running").fraction == 0.5  # still going: kept
    assert hub.tracked() == 1


def test_jobs_gone_quiet_are_forgotten_after_idle_ttl():
    clock = Clock()
    hub = MemoryProgressHub(final_ttl=60, idle_ttl=600, now=clock)
    hub.publish_progress("stuck", 0.1, None)
    hub.publish_progress("alive", 0.1, None)
    clock.t += 500
    hub.publish_progress("alive", 0.2, None)  # each event renews the job's time
    clock.t += 200
    assert hub.latest("stuck") is None
    assert hub.latest("alive").fraction == 0.2
    hub.forget("alive")
    assert hub.tracked() == 0


def test_a_subscriber_outlives_the_forgotten_state():
    clock = Clock()
    hub = MemoryProgressHub(final_ttl=1, now=clock)
    q = hub.subscribe("a")
    hub.publish(ProgressEvent("a", "canceled", 1.0))
    clock.t += 5
    assert hub.tracked() == 0
    hub.publish(ProgressEvent("a", "running", 0.1))  # a rerun under the same id
    assert [q.get_nowait().status, q.get_nowait().status] == ["canceled", "running"]
