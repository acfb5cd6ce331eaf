"""``triptych worker``'s plan: which execution pool and how many jobs at once."""

from __future__ import annotations

from triptych.catalog.loader import load_catalog
from triptych.service.distributed.worker import plan


def test_builtin_models_batch_in_threads_of_one_process():
    cards = list(load_catalog())
    batching = plan(cards, ["builtin"], None, batch=8)
    assert (batching.pool, batching.concurrency) == ("threads", 8)
    assert plan(cards, ["builtin"], 3, batch=8).concurrency == 3  # --concurrency wins
    assert plan(cards, ["builtin"], 1, batch=8).pool == "solo"


def test_without_batching_builtin_models_take_processes():
    cards = list(load_catalog())
    assert (plan(cards, ["builtin"], None).pool, plan(cards, ["builtin"], None).concurrency) \
        == ("solo", 1)
    assert plan(cards, ["builtin"], 2).pool == "prefork"
    assert plan(cards, ["hosted"], None, batch=8).pool == "threads"  # hosted: unchanged
