"""The Engine protocol: one method, ``generate``, like an httpx transport.

An engine knows how to run one family of models (our built-in nets, a hosted provider's API).
It never touches credits, storage or the database: the service does that around it.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from PIL import Image

if TYPE_CHECKING:
    from triptych.catalog.card import ModelCard
    from triptych.settings import Settings

# progress(fraction_done in [0, 1], optional preview image of the result forming). A callback
# may also have a ``wants_preview()`` method: False means a picture passed now would be
# dropped, so an engine can skip decoding one (a preview can cost a third of a fast image).
ProgressCallback = Callable[[float, Image.Image | None], None]


@dataclass(frozen=True)
class GenerationRequest:
    prompt: str
    width: int
    height: int
    seed: int
    n: int = 1
    steps: int | None = None  # None: the model's default
    content_mode: str = "standard"  # "standard" or "unrestricted"
    target: str = ""  # the provider-side model id from the catalog binding
    options: dict[str, Any] = field(default_factory=dict)


@dataclass
class EngineImage:
    image: Image.Image  # decoded and checked raster (a PNG preview for vector output)
    svg: bytes | None = None  # vector source, when the model returns SVG
    notes: dict[str, Any] = field(default_factory=dict)  # e.g. revised_prompt


@dataclass
class EngineResult:
    images: list[EngineImage]
    model_version: str = ""
    steps: int | None = None
    provider_cost: str | None = None  # what the provider says it charged, for the operator
    notes: dict[str, Any] = field(default_factory=dict)  # approximations made, e.g. size snap


@runtime_checkable
class Engine(Protocol):
    def generate(
        self, request: GenerationRequest, progress: ProgressCallback | None = None
    ) -> EngineResult: ...


@runtime_checkable
class BatchableEngine(Engine, Protocol):
    """An engine that can also run several requests as one batch (``engines/batching.py``
    collects them). Optional: the batcher checks for both methods with ``hasattr``."""

    def batch_key(self, request: GenerationRequest) -> Hashable | None:
        """Requests with equal keys can share one batch (same model, steps, guidance, options
        that change the computation); None: this request always runs alone."""
        ...

    def generate_batch(
        self, requests: list[GenerationRequest], progress: list[ProgressCallback | None]
    ) -> list[EngineResult | BaseException]:
        """One result, or that request's own exception, per request, in order. Each request
        samples from its own seed (its images match what it would give alone, within 2 levels
        of 255 per pixel) and hears its own fraction and previews; a callback that raises (a
        cancel) drops only its request, whose slot then holds the exception."""
        ...


@dataclass(frozen=True)
class Availability:
    available: bool
    reason: str = ""


class EngineFactory(Protocol):
    """What an engine module registers: build an engine for a card, and say if it can run.
    A factory may also say which request options a card's model takes: ``options(card)``
    returning ``{name: engines.options.OptionSpec}`` (none when it has no such method)."""

    def create(self, card: ModelCard, settings: Settings) -> Engine: ...

    def availability(self, card: ModelCard, settings: Settings) -> Availability: ...
