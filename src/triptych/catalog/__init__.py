"""The model catalog: one declarative file (``models.toml``) and its loader."""

from triptych.catalog.card import ModelCard
from triptych.catalog.loader import Catalog, load_catalog

__all__ = ["Catalog", "ModelCard", "load_catalog"]
