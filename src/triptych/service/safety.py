"""The prompt check that runs before anything is charged.

Rules are data: a category, the patterns that trigger it and the content modes in which it
blocks. ``standard`` is everyone's mode; ``unrestricted`` is for pro accounts that opted in,
and only on models whose catalog entry allows it. Some categories (sexual content involving
minors, for one) are blocked in every mode. A block costs nothing and names its rule.

Keyword rules are a first line, not a classifier: hosted providers run their own moderation
too, and an output block from them is refunded like any failure.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from triptych.errors import ModerationBlocked

ALL_MODES = frozenset({"standard", "unrestricted"})
STANDARD_ONLY = frozenset({"standard"})

_MINOR = r"(child|children|kid|kids|minor|minors|underage|under-age|preteen|pre-teen|toddler|" \
         r"infant|baby|babies|boy|girl|schoolgirl|schoolboy|teen|teenage|teenager|loli|shota|" \
         r"\d{1,2}[- ]?(yo|y/o|year[- ]old))"
_SEXUAL = r"(nude|naked|nsfw|sex|sexual|sexy|porn|pornographic|erotic|explicit|topless|" \
          r"lingerie|genital\w*|breasts?|nipples?|orgasm|fetish|undress(ed|ing)?|xxx)"


@dataclass(frozen=True)
class Rule:
    id: str
    category: str
    description: str
    pattern: re.Pattern[str]
    blocked_in: frozenset[str]


def _rule(id: str, category: str, description: str, pattern: str, blocked_in) -> Rule:
    return Rule(id, category, description, re.compile(pattern, re.IGNORECASE), blocked_in)


RULES: tuple[Rule, ...] = (
    _rule("minors-sexual", "sexual content involving minors",
          "sexualised depictions of minors are never generated",
          rf"(\b{_MINOR}\b.*\b{_SEXUAL}\b)|(\b{_SEXUAL}\b.*\b{_MINOR}\b)|\bcsam\b", ALL_MODES),
    _rule("non-consensual", "non-consensual intimate imagery",
          "intimate images of real people without consent are never generated",
          r"\b(deepfake|revenge porn|non-?consensual|without (her|his|their) consent)\b",
          ALL_MODES),
    _rule("terror-howto", "violent extremism",
          "propaganda or instructions for terrorist violence are never generated",
          r"\b(isis|al-?qaeda) (propaganda|recruit\w*)\b|\bhow to (build|make) a (bomb|pipe bomb)",
          ALL_MODES),
    _rule("sexual-explicit", "sexual content",
          "explicit sexual content needs unrestricted mode (pro plan, opted in)",
          rf"\b{_SEXUAL}\b", STANDARD_ONLY),
    _rule("graphic-gore", "graphic violence",
          "graphic gore needs unrestricted mode (pro plan, opted in)",
          r"\b(gore|gory|disembowel\w*|decapitat\w*|dismember\w*|mutilat\w*|entrails|"
          r"beheading|blood[- ]soaked corpse)\b", STANDARD_ONLY),
    _rule("self-harm", "self-harm",
          "depictions that promote self-harm are not generated",
          r"\b(self[- ]harm|cutting (my|her|his) wrists?|suicide (method|instructions))\b",
          STANDARD_ONLY),
)


def find_violation(prompt: str, mode: str) -> Rule | None:
    for rule in RULES:
        if mode in rule.blocked_in and rule.pattern.search(prompt):
            return rule
    return None


def check_prompt(prompt: str, mode: str) -> None:
    """Raise ModerationBlocked (side "input") if a rule blocks this prompt in this mode."""
    rule = find_violation(prompt, mode)
    if rule is None:
        return
    hint = "" if rule.blocked_in == ALL_MODES else " Rephrase the prompt, or use unrestricted mode."
    raise ModerationBlocked(
        f"Blocked by the '{rule.id}' rule ({rule.category}): {rule.description}. "
        f"Nothing was charged.{hint if mode == 'standard' else ''}",
        side="input", rule=rule.id, category=rule.category,
    )
