"""Bodies of the studio's own routes: favourites, the gallery list, re-render choices."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class GalleryImage(BaseModel):
    id: str
    job_id: str
    index: int
    width: int
    height: int
    seed: int | None
    favourite: bool
    prompt: str
    model: str
    created_at: str
    compare_id: str | None
    url: str = Field(description="The image bytes (owner only).")


class GalleryPage(BaseModel):
    items: list[GalleryImage]
    limit: int
    offset: int
    next_offset: int | None


class RerenderChoice(BaseModel):
    model: str
    name: str
    tier: str
    credits: int
    direction: Literal["up", "same", "down"] = Field(
        description="Against the current model: a higher tier, the same tier, or cheaper.")
    reason: str


class RerenderChoices(BaseModel):
    current: str
    default: str | None = Field(description="The recommended better model; null when none "
                                "ranks above or beside the current one.")
    choices: list[RerenderChoice]
