"""ModelCard: what one catalog entry says about a model."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from triptych.catalog.local_model import LocalModel

Family = Literal[
    "diffusion",
    "distilled-diffusion",
    "autoregressive",
    "transformer",
    "diffusion-transformer",
    "diffusion+llm",
]
Tier = Literal["instant", "fast", "medium", "premium"]
Capability = Literal[
    "text-rendering",
    "photorealism",
    "design",
    "vector",
    "character-consistency",
    "creative",
    "unrestricted",
]
TIER_ORDER: dict[str, int] = {"instant": 0, "fast": 1, "medium": 2, "premium": 3}


class ModelCard(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    name: str
    provider: str
    family: Family
    tier: Tier
    credits: int = Field(ge=0, description="credits per image")
    quality: str  # a short label: "draft", "good", "high", "highest"
    description: str  # plain words for end users: what it is and what it is for
    strengths: list[str] = []  # what it is good at, in plain words
    weaknesses: list[str] = []  # what it is bad at, in plain words
    best_for: list[str] = []  # recommender intents, see service/recommend.py
    capabilities: list[Capability] = []
    max_width: int
    max_height: int
    min_width: int = 64
    min_height: int = 64
    default_width: int
    default_height: int
    max_n: int = 4
    takes_seed: bool = True
    default_steps: int | None = None
    max_steps: int | None = None
    local: LocalModel | None = None  # how a local open-weight (diffusers:) model runs here
    engine: str  # "<scheme>:<target>", e.g. "builtin:pico-turbo" or "bfl:flux-2-pro"
    version: str = ""
    builtin: bool = False
    # False: listed (old jobs keep their name) but refuses new jobs. Operator files set it;
    # an admin's run-time switch (service/catalog_overrides.py) overrides it.
    enabled: bool = True

    @field_validator("engine")
    @classmethod
    def _has_scheme(cls, value: str) -> str:
        if ":" not in value:
            raise ValueError("engine binding must look like 'scheme:target'")
        return value

    @model_validator(mode="after")
    def _sizes_in_range(self) -> ModelCard:
        for axis in ("width", "height"):
            low, default, high = (getattr(self, f"{k}_{axis}") for k in ("min", "default", "max"))
            if not low <= default <= high:
                raise ValueError(f"default_{axis} {default} must lie between min_{axis} {low} "
                                 f"and max_{axis} {high}")
        return self

    @property
    def scheme(self) -> str:
        return self.engine.split(":", 1)[0]

    @property
    def target(self) -> str:
        return self.engine.split(":", 1)[1]

    @property
    def tier_rank(self) -> int:
        return TIER_ORDER[self.tier]

    def allows_unrestricted(self) -> bool:
        return "unrestricted" in self.capabilities


def credits_text(n: int) -> str:
    """"1 credit", "3 credits": how every surface writes a price."""
    return f"{n} credit" if n == 1 else f"{n} credits"
