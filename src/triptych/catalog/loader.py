"""Loads ``models.toml`` into ModelCards and answers lookups."""

from __future__ import annotations

import tomllib
from collections.abc import Iterator
from functools import lru_cache
from importlib import resources
from pathlib import Path

from triptych.catalog.card import ModelCard
from triptych.catalog.operator_files import EngineCheck, merge_files


class UnknownModelError(KeyError):
    def __init__(self, model_id: str, known: list[str]) -> None:
        super().__init__(model_id)
        self.model_id = model_id
        self.known = known

    def __str__(self) -> str:
        return f"Unknown model '{self.model_id}'. Known models: {', '.join(self.known)}."


class Catalog:
    def __init__(self, cards: list[ModelCard]) -> None:
        ids = [card.id for card in cards]
        duplicates = {i for i in ids if ids.count(i) > 1}
        if duplicates:
            raise ValueError(f"duplicate model ids in catalog: {sorted(duplicates)}")
        self._cards = {card.id: card for card in cards}

    def __iter__(self) -> Iterator[ModelCard]:
        return iter(self._cards.values())

    def __len__(self) -> int:
        return len(self._cards)

    def __contains__(self, model_id: object) -> bool:
        return model_id in self._cards

    def get(self, model_id: str) -> ModelCard:
        try:
            return self._cards[model_id]
        except KeyError:
            raise UnknownModelError(model_id, list(self._cards)) from None

    def with_card(self, card: ModelCard) -> Catalog:
        """A copy with one card added or replaced (tests and plugins)."""
        cards = dict(self._cards)
        cards[card.id] = card
        return Catalog(list(cards.values()))


def parse_catalog(text: str) -> Catalog:
    data = tomllib.loads(text)
    return Catalog([ModelCard(**entry) for entry in data.get("model", [])])


def builtin_catalog() -> Catalog:
    """The catalog shipped in the package (``models.toml``), before any operator file."""
    text = resources.files("triptych.catalog").joinpath("models.toml").read_text()
    return parse_catalog(text)


@lru_cache(maxsize=8)
def load_catalog(path: Path | None = None, extra: tuple[Path, ...] = (),
                 engine_check: EngineCheck | None = None) -> Catalog:
    """The catalog of ``path`` (default: the built-in one) with the operator's files
    (``extra``, from ``TRIPTYCH_CATALOG``) merged over it; ``CatalogFileError`` names every
    problem in them."""
    base = parse_catalog(Path(path).read_text()) if path is not None else builtin_catalog()
    if not extra:
        return base
    cards, _ = merge_files(list(base), extra, engine_check=engine_check)
    return Catalog(cards)
