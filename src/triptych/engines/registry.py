"""Maps the scheme of a catalog engine binding (``builtin:pico-turbo``) to its factory.

Built-in schemes are imported lazily from the modules named here, so a missing optional
dependency of one provider never breaks the others. Tests (and plugins) add schemes with
``register``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from triptych.engines.base import Availability, Engine, EngineFactory
from triptych.engines.batching import BatchingEngine, batchable
from triptych.engines.errors import ProviderUnavailableError

if TYPE_CHECKING:
    from triptych.catalog.card import ModelCard
    from triptych.engines.options import OptionSpec
    from triptych.settings import Settings

# scheme -> module exposing a module-level ``factory`` implementing EngineFactory
_BUILTIN_SCHEMES = {
    "builtin": "triptych.engines.builtin",
    "diffusers": "triptych.engines.diffusers_engine",
    "bfl": "triptych.engines.providers.bfl",
    "gemini": "triptych.engines.providers.gemini",
    "xai": "triptych.engines.providers.xai",
    "recraft": "triptych.engines.providers.recraft",
    "byteplus": "triptych.engines.providers.byteplus",
    "fal": "triptych.engines.providers.fal",
    "replicate": "triptych.engines.providers.replicate",
    "openai": "triptych.engines.providers.openai",
}

_registered: dict[str, EngineFactory] = {}


def register(scheme: str, factory: EngineFactory) -> None:
    _registered[scheme] = factory


def unregister(scheme: str) -> None:
    _registered.pop(scheme, None)


def factory_for(scheme: str) -> EngineFactory | None:
    if scheme in _registered:
        return _registered[scheme]
    module_name = _BUILTIN_SCHEMES.get(scheme)
    if module_name is None:
        return None
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and module_name.startswith(exc.name):
            return None  # adapter not installed in this build
        raise
    return getattr(module, "factory", None)


def known_schemes() -> list[str]:
    return sorted({*_BUILTIN_SCHEMES, *_registered})


def binding_problem(engine: str) -> str:
    """What is wrong with a catalog engine binding (``scheme:target``), or "" when an adapter
    is installed for it and takes that target (checked without a key or a network call)."""
    scheme, _, target = engine.partition(":")
    factory = factory_for(scheme)
    if factory is None:
        return f"no adapter for '{scheme}' (adapters: {', '.join(known_schemes())})"
    checker = getattr(factory, "engine_cls_target_problem", None)
    return checker(target) if checker is not None else ""


def availability(card: ModelCard, settings: Settings) -> Availability:
    if not card.enabled:
        return Availability(False, "turned off by the administrator")
    factory = factory_for(card.scheme)
    if factory is None:
        return Availability(False, f"no engine installed for '{card.scheme}'")
    return factory.availability(card, settings)


def options_for(card: ModelCard) -> dict[str, OptionSpec]:
    """The request options the card's model takes (``engines/options.py``)."""
    factory = factory_for(card.scheme)
    declared = getattr(factory, "options", None)
    return dict(declared(card)) if declared is not None else {}


def create_engine(card: ModelCard, settings: Settings) -> Engine:
    factory = factory_for(card.scheme)
    if factory is None:
        raise ProviderUnavailableError(
            f"Model '{card.id}' has no engine installed for '{card.scheme}'."
        )
    status = factory.availability(card, settings)
    if not status.available:
        raise ProviderUnavailableError(f"Model '{card.id}' is unavailable: {status.reason}")
    engine = factory.create(card, settings)
    if settings.batching and batchable(engine):
        # every process that builds engines (server, Celery worker) batches the same way
        return BatchingEngine(engine, window=settings.batch_window_ms / 1000,
                              max_batch=settings.batch_max)
    return engine
