"""Worker pools: which kind of process runs which catalog model.

A pool is chosen from the engine binding, so the catalog stays the one place that says where
a model runs: ``builtin:`` models are CPU-bound nets (process concurrency), ``diffusers:`` and
other local open-weight engines need a ``gpu`` machine, and everything else is a hosted
provider reached over HTTP (I/O-bound: thread concurrency). Each pool has one Celery queue,
so a worker only receives jobs for the pools it serves.
"""

from __future__ import annotations

from fnmatch import fnmatchcase

from triptych.catalog.card import ModelCard

POOLS = ("builtin", "hosted", "gpu")
LOCAL_GPU_SCHEMES = frozenset({"diffusers"})


def pool_of(card: ModelCard) -> str:
    if card.builtin or card.scheme == "builtin":
        return "builtin"
    if card.scheme in LOCAL_GPU_SCHEMES:
        return "gpu"
    return "hosted"


def queue_name(pool: str) -> str:
    return f"triptych.{pool}"


def queue_for(card: ModelCard) -> str:
    """One queue per model inside its pool, so ``--models pico-*`` takes only those models."""
    return f"{queue_name(pool_of(card))}.{card.id}"


def repeatable(card: ModelCard) -> bool:
    """Whether a job whose worker died may simply run again. Local compute costs nothing
    twice; a hosted provider may already be generating (and charging for) the first
    attempt, so that job is refunded instead of being sent a second time."""
    return pool_of(card) != "hosted"


def matches(card: ModelCard, patterns: list[str]) -> bool:
    """``--models`` patterns: shell-style globs over model ids (``pico-*``), a pool name
    (``builtin``, ``hosted``, ``gpu``) or a provider (``bfl``); no pattern matches all."""
    if not patterns:
        return True
    return any(p == pool_of(card) or p == card.provider or fnmatchcase(card.id, p)
               for p in patterns)
