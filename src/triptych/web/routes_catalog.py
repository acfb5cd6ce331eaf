"""``/v1/models``, ``/v1/quote`` and ``/v1/recommend``: what exists, what it costs, which fits."""

from __future__ import annotations

import functools
from importlib import resources
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query

from triptych.errors import NotFound
from triptych.service.requests import parse_size
from triptych.web.deps import CurrentUser, StateDep, UserTp
from triptych.web.responses import AUTH, errors
from triptych.web.schemas import (
    ModelList,
    ModelPublic,
    QuotePublic,
    QuoteRequest,
    RecommendPublic,
    RecommendRequest,
)

router = APIRouter(tags=["catalog"])


def models_public(models: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in m.items() if k not in ("engine", "version")} for m in models]


@functools.cache
def catalog_created() -> int:
    """OpenAI's ``created`` for every model: when the installed catalog file was written."""
    try:
        path = resources.files("triptych.catalog").joinpath("models.toml")
        return int(path.stat().st_mtime)  # type: ignore[attr-defined]
    except (OSError, AttributeError):  # a zipped install: no file times to read
        return 0


def model_object(model: dict[str, Any]) -> dict[str, Any]:
    return {"object": "model", "created": catalog_created(), "owned_by": model["provider"],
            **model}


@router.get("/v1/models", response_model=ModelList, responses=errors(*AUTH))
def list_models(
    principal: CurrentUser, state: StateDep,
    tier: Annotated[Literal["instant", "fast", "medium", "premium"] | None, Query()] = None,
    capability: Annotated[str | None, Query(max_length=40)] = None,
    available: bool | None = None,
) -> dict[str, Any]:
    """The catalog, fastest and cheapest first, with whether each model can run here, in
    OpenAI's list shape (``client.models.list()``)."""
    models = models_public(state.tp.models(tier=tier, capability=capability,
                                           available=available))
    return {"object": "list", "data": [model_object(m) for m in models]}


@router.get("/v1/models/{model_id}", response_model=ModelPublic,
            responses=errors(*AUTH, 404))
def get_model(principal: CurrentUser, state: StateDep,
              model_id: Annotated[str, Path(max_length=100)]) -> dict[str, Any]:
    """One model (``client.models.retrieve(id)``)."""
    for model in models_public(state.tp.models()):
        if model["id"] == model_id:
            return model_object(model)
    raise NotFound(f"There is no model '{model_id}'; GET /v1/models lists them.",
                   field="model")


@router.post("/v1/quote", response_model=QuotePublic, responses=errors(*AUTH))
def quote(body: QuoteRequest, tp: UserTp) -> dict[str, Any]:
    """What a request would cost and whether your balance covers it. Charges nothing."""
    if body.size:
        parse_size(body.size)  # a malformed size is a 422 here too, not a surprise later
    return tp.quote(body.prompt, body.model, n=body.n, size=body.size, models=body.models)


@router.post("/v1/recommend", response_model=RecommendPublic, responses=errors(*AUTH))
def recommend(body: RecommendRequest, tp: UserTp) -> dict[str, Any]:
    """Which models suit this prompt, with the reasons."""
    return tp.recommend(body.prompt, budget=body.budget, speed=body.speed,
                        include_unavailable=body.include_unavailable, limit=body.limit)
