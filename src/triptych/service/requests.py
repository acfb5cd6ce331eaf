"""What a user asks for (``GenerationSpec``), its validation against the model's limits and
the account's rights, and its quote. All of it runs before anything is charged."""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from dataclasses import asdict, dataclass, field
from typing import Any

from triptych.catalog.card import ModelCard
from triptych.catalog.plans import Plan
from triptych.db.models import User
from triptych.engines.options import check_options
from triptych.engines.registry import options_for
from triptych.errors import InvalidRequest

MAX_PROMPT_CHARS = 2000
CONTENT_MODES = ("standard", "unrestricted")
_SIZE = re.compile(r"^\s*(\d{1,5})\s*[xX×]\s*(\d{1,5})\s*$")


def parse_size(size: str | None) -> tuple[int, int] | None:
    if size is None or size == "" or size == "auto":
        return None
    match = _SIZE.match(size)
    if not match:
        raise InvalidRequest(f"Size '{size}' is not WIDTHxHEIGHT (for example 1024x1024).",
                             field="size")
    return int(match.group(1)), int(match.group(2))


@dataclass(frozen=True)
class GenerationSpec:
    """A validated, fully resolved request: defaults filled in from the model card."""

    model_id: str
    prompt: str
    seed: int
    width: int
    height: int
    n: int = 1
    steps: int | None = None
    content_mode: str = "standard"
    options: dict[str, Any] = field(default_factory=dict)  # engines/options.py, validated

    def fingerprint(self) -> str:
        """Stable hash of the request, for idempotency-key comparison."""
        fields = asdict(self)
        if not fields["options"]:  # requests without options hash as they always did
            del fields["options"]
        return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()


def resolve(
    card: ModelCard,
    *,
    prompt: str,
    seed: int | None = None,
    size: str | tuple[int, int] | None = None,
    n: int = 1,
    steps: int | None = None,
    content_mode: str = "standard",
    options: dict[str, Any] | None = None,
) -> GenerationSpec:
    """Check a request against the card's limits; fill defaults. (The user's rights are
    checked when the job is submitted, under the user's lock: ``check_rights``.)"""
    if not isinstance(prompt, str) or not prompt.strip():
        raise InvalidRequest("The prompt is empty: describe the image you want.", field="prompt")
    prompt = prompt.strip()
    if len(prompt) > MAX_PROMPT_CHARS:
        raise InvalidRequest(f"The prompt has {len(prompt)} characters; the limit is "
                             f"{MAX_PROMPT_CHARS}.", field="prompt")
    if not isinstance(n, int) or n < 1 or n > card.max_n:
        raise InvalidRequest(f"{card.name} makes 1 to {card.max_n} images per request; "
                             f"you asked for {n}.", field="n")
    dims = parse_size(size) if isinstance(size, str) or size is None else size
    width, height = dims or (card.default_width, card.default_height)
    if not (card.min_width <= width <= card.max_width and
            card.min_height <= height <= card.max_height):
        raise InvalidRequest(
            f"{card.name} takes sizes from {card.min_width}x{card.min_height} to "
            f"{card.max_width}x{card.max_height}; you asked for {width}x{height}.", field="size")
    if steps is not None:
        if card.max_steps is None:
            raise InvalidRequest(f"{card.name} does not take a step count.", field="steps")
        if not 1 <= steps <= card.max_steps:
            raise InvalidRequest(f"{card.name} takes 1 to {card.max_steps} steps.", field="steps")
    if seed is None:
        seed = secrets.randbelow(2**31)
    elif not 0 <= seed < 2**31:
        raise InvalidRequest("The seed must be between 0 and 2147483647.", field="seed")
    if content_mode not in CONTENT_MODES:
        raise InvalidRequest(f"Content mode must be one of {', '.join(CONTENT_MODES)}.",
                             field="content_mode")
    if content_mode == "unrestricted":
        if not card.allows_unrestricted():
            raise InvalidRequest(f"{card.name} has no unrestricted mode.", field="content_mode")
    checked = check_options(options_for(card), options, card.name)
    return GenerationSpec(model_id=card.id, prompt=prompt, seed=seed, width=width,
                          height=height, n=n, steps=steps, content_mode=content_mode,
                          options=checked)


def check_rights(user: User, plan: Plan, spec: GenerationSpec) -> None:
    """What the account may ask for: unrestricted mode is for accounts whose plan allows it
    and that opted in; an image no larger than the plan's size limits."""
    if spec.content_mode == "unrestricted" and (not plan.unrestricted
                                                 or not user.unrestricted_opt_in):
        raise InvalidRequest(f"Unrestricted mode needs a plan that includes it (you are on "
                             f"{plan.name}) and an opt-in (account settings).",
                             field="content_mode")
    check_size(plan, spec.width, spec.height)


def check_size(plan: Plan, width: int, height: int) -> None:
    """Refuse a size over the plan's limits, naming the plan and the limit."""
    refusal = plan.size_refusal(width, height)
    if refusal:
        raise InvalidRequest(f"{refusal} Ask for a smaller size or move to a larger plan.",
                             field="size")


def quote(card: ModelCard, n: int) -> int:
    return card.credits * n
