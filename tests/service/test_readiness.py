"""Readiness checks that depend on what a process loads at start."""

from __future__ import annotations

import threading

import pytest

from triptych.service import recommend
from triptych.service.readiness import check_recommender


def test_not_ready_until_the_recommender_has_loaded(monkeypatch):
    """From the call that starts the background warm-up until the sentence model has
    loaded, /readyz's recommender check fails, then passes (also when loading failed:
    the recommender then works on keywords)."""
    release, entered = threading.Event(), threading.Event()

    def slow_matrix():
        entered.set()
        release.wait(10)
        raise OSError("no sentence model here")

    monkeypatch.setattr(recommend, "_example_matrix", slow_matrix)
    monkeypatch.setattr(recommend, "WARMED", threading.Event())  # as in a fresh process
    recommend.warm_up_in_background()
    with pytest.raises(RuntimeError, match="loading the recommender"):
        check_recommender(recommend.WARMING)  # even before the thread has started
    assert entered.wait(10)
    release.set()
    for _ in range(500):
        if not recommend.WARMING.is_set():
            break
        threading.Event().wait(0.01)
    assert check_recommender(recommend.WARMING) == "ok"
