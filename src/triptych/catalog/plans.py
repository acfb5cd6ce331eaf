"""Plans and credit packs as data: ``plans.toml`` beside this module, with an operator's file
(``TRIPTYCH_PLANS``) merged over it field by field.

A plan says what an account gets: its monthly allowance, its queue priority, whether it may
opt in to unrestricted mode, the largest image it may ask for, and (when sold through Stripe)
its price. A pack is a one-off purchase of credits. Every account is on a plan; ``free`` is
the one new accounts start on and the one a cancelled subscription returns to.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

BUILTIN = Path(__file__).with_name("plans.toml")
DEFAULT_PLAN = "free"


class PlansError(ValueError):
    """A plans file that cannot be used; the message names the file and the field."""


class Plan(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    name: str
    monthly_credits: int = Field(0, ge=0)
    priority: int = Field(1, ge=0, le=9)  # lower is served first
    unrestricted: bool = False
    max_width: int = Field(0, ge=0)  # 0: no limit of the plan's own (the model's still apply)
    max_height: int = Field(0, ge=0)
    max_pixels: int = Field(0, ge=0)
    price_cents: int = Field(0, ge=0)  # per interval; 0 and no stripe_price: not for sale
    currency: str = "usd"
    interval: Literal["month", "year"] = "month"
    stripe_price: str | None = None  # an existing Stripe Price instead of inline price data

    @property
    def for_sale(self) -> bool:
        return bool(self.price_cents or self.stripe_price)

    def size_refusal(self, width: int, height: int) -> str | None:
        """Why this plan may not make a ``width``x``height`` image, or None if it may."""
        if self.max_width and width > self.max_width or \
                self.max_height and height > self.max_height:
            return (f"The {self.name} plan makes images up to {self.max_width or 'any'}x"
                    f"{self.max_height or 'any'}; you asked for {width}x{height}.")
        if self.max_pixels and width * height > self.max_pixels:
            return (f"The {self.name} plan makes images up to {self.max_pixels:,} pixels; "
                    f"{width}x{height} is {width * height:,}.")
        return None


class Pack(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    name: str
    credits: int = Field(gt=0)
    price_cents: int = Field(0, ge=0)
    currency: str = "usd"
    stripe_price: str | None = None

    @property
    def for_sale(self) -> bool:
        return bool(self.price_cents or self.stripe_price)


class PlanBook:
    """Every plan and pack of this install."""

    def __init__(self, plans: dict[str, Plan], packs: dict[str, Pack]) -> None:
        if DEFAULT_PLAN not in plans:
            raise PlansError(f"there must be a '{DEFAULT_PLAN}' plan")
        self.plans = plans
        self.packs = packs

    def get(self, plan_id: str) -> Plan:
        """The plan; an unknown id (a plan removed from the file) falls back to free."""
        return self.plans.get(plan_id) or self.plans[DEFAULT_PLAN]

    def monthly_grants(self) -> dict[str, int]:
        return {plan.id: plan.monthly_credits for plan in self.plans.values()}

    def best_paid(self) -> Plan | None:
        """The plan a subscription buys: the one for sale with the most allowance."""
        sold = [p for p in self.plans.values() if p.for_sale]
        return max(sold, key=lambda p: p.monthly_credits, default=None)


def _read(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text())
    except OSError as exc:
        raise PlansError(f"{path}: cannot read it ({exc.strerror})") from None
    except tomllib.TOMLDecodeError as exc:
        raise PlansError(f"{path}: {exc}") from None


def _build(kind: type[Plan] | type[Pack], section: str, raw: dict[str, dict[str, Any]],
           where: dict[str, Path]) -> dict[str, Any]:
    out = {}
    for key, fields in raw.items():
        try:
            out[key] = kind(id=key, **fields)
        except ValidationError as exc:
            err = exc.errors()[0]
            name = ".".join(str(p) for p in err["loc"])
            raise PlansError(f"{where[key]}: [{section}.{key}] {name}: {err['msg']}") from None
        except TypeError as exc:
            raise PlansError(f"{where[key]}: [{section}.{key}] {exc}") from None
    return out


def load_plans(extra: Path | None = None, *, free_monthly: int | None = None,
               pro_monthly: int | None = None) -> PlanBook:
    """The built-in plans; ``free_monthly``/``pro_monthly`` (the older settings) set the
    built-in allowances; ``extra`` (the operator's file) is merged over all of it."""
    merged: dict[str, dict[str, dict[str, Any]]] = {"plans": {}, "packs": {}}
    where: dict[str, dict[str, Path]] = {"plans": {}, "packs": {}}
    files = [BUILTIN] + ([Path(extra)] if extra else [])
    for i, path in enumerate(files):
        data = _read(path)
        unknown = set(data) - {"plans", "packs"}
        if unknown:
            raise PlansError(f"{path}: unknown table(s) {', '.join(sorted(unknown))}; "
                             f"expected [plans.<id>] and [packs.<id>]")
        for section in ("plans", "packs"):
            for key, fields in data.get(section, {}).items():
                if not isinstance(fields, dict):
                    raise PlansError(f"{path}: [{section}.{key}] must be a table")
                if fields.pop("enabled", True) is False:  # an operator removes one
                    merged[section].pop(key, None)
                    continue
                merged[section].setdefault(key, {}).update(fields)
                where[section][key] = path
        if i == 0:  # the settings apply to the built-in plans, before the operator's file
            for plan_id, credits in (("free", free_monthly), ("pro", pro_monthly)):
                if credits is not None and plan_id in merged["plans"]:
                    merged["plans"][plan_id]["monthly_credits"] = credits
    if DEFAULT_PLAN not in merged["plans"]:
        raise PlansError(f"{files[-1]}: the '{DEFAULT_PLAN}' plan cannot be removed (new "
                         f"accounts start on it)")
    return PlanBook(_build(Plan, "plans", merged["plans"], where["plans"]),
                    _build(Pack, "packs", merged["packs"], where["packs"]))
