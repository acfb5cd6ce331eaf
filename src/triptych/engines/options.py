"""Per-model request options a user may set (``options`` on a generation): the few knobs an
engine honours beyond prompt, size, seed and count, such as the built-in models' guidance
scale or Recraft's style. Each engine factory declares the ones it accepts (``options``);
anything else is refused before credits are held, naming the option and what is allowed.

Operator-only settings (keys, an account's moderation field) are never options, and no
option changes the price: the quote stays the model's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

from triptych.errors import InvalidRequest

MAX_OPTIONS = 16


@dataclass(frozen=True)
class OptionSpec:
    kind: Literal["number", "integer", "boolean", "choice", "text"]
    help: str
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] = ()
    max_length: int = 500

    def public(self) -> dict[str, Any]:
        """How /v1/models describes the option."""
        out: dict[str, Any] = {"type": self.kind, "description": self.help}
        if self.minimum is not None:
            out["minimum"] = self.minimum
        if self.maximum is not None:
            out["maximum"] = self.maximum
        if self.choices:
            out["choices"] = list(self.choices)
        if self.kind == "text":
            out["max_length"] = self.max_length
        return out

    def check(self, name: str, value: Any) -> Any:
        field = f"options.{name}"
        if self.kind == "boolean":
            if not isinstance(value, bool):
                raise InvalidRequest(f"Option {name} must be true or false.", field=field)
            return value
        if self.kind in ("number", "integer"):
            if isinstance(value, bool) or not isinstance(value, int | float) or (
                    isinstance(value, float) and not math.isfinite(value)):
                raise InvalidRequest(f"Option {name} must be a number.", field=field)
            if self.kind == "integer":
                if value != int(value):
                    raise InvalidRequest(f"Option {name} must be a whole number.", field=field)
                value = int(value)
            if (self.minimum is not None and value < self.minimum) or (
                    self.maximum is not None and value > self.maximum):
                raise InvalidRequest(f"Option {name} must be between {_num(self.minimum)} and "
                                     f"{_num(self.maximum)}; got {_num(value)}.", field=field)
            return value
        if not isinstance(value, str):
            raise InvalidRequest(f"Option {name} must be text.", field=field)
        if self.kind == "choice":
            if value not in self.choices:
                raise InvalidRequest(f"Option {name} must be one of {', '.join(self.choices)}; "
                                     f"got {value!r}.", field=field)
            return value
        if len(value) > self.max_length:
            raise InvalidRequest(f"Option {name} is {len(value)} characters; the limit is "
                                 f"{self.max_length}.", field=field)
        return value


def _num(x: float | None) -> str:
    return "any" if x is None else (str(int(x)) if float(x).is_integer() else str(x))


def check_options(allowed: dict[str, OptionSpec], given: Any, model_name: str
                  ) -> dict[str, Any]:
    """The validated options (a new dict), or InvalidRequest naming the first problem."""
    if given is None:
        return {}
    if not isinstance(given, dict):
        raise InvalidRequest("options must be an object of name: value.", field="options")
    if len(given) > MAX_OPTIONS:
        raise InvalidRequest(f"At most {MAX_OPTIONS} options.", field="options")
    out = {}
    for name, value in given.items():
        spec = allowed.get(name)
        if spec is None:
            takes = (f"it takes {', '.join(sorted(allowed))}" if allowed
                     else "it takes no options")
            raise InvalidRequest(f"{model_name} has no option {name!r}; {takes}.",
                                 field=f"options.{name}")
        out[name] = spec.check(name, value)
    return out
