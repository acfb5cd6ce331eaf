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


def test_gpu_models_batch_in_threads_too():
    from triptych.catalog.card import ModelCard

    gpu = ModelCard(id="local-flux", name="Local", provider="Local", family="diffusion",
                    tier="fast", credits=1, quality="high", description="a local model",
                    max_width=1024, max_height=1024, default_width=1024, default_height=1024,
                    engine="diffusers:/models/flux")
    assert (plan([gpu], ["gpu"], None, batch=8).pool, plan([gpu], ["gpu"], None, batch=8)
            .concurrency) == ("threads", 8)
    assert plan([gpu], ["gpu"], None).pool == "solo"  # batching off: one job at a time
