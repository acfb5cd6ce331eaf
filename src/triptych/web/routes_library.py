"""``/v1/credits``, ``/v1/history``, ``/v1/gallery`` and ``/v1/images``: what you have and what
you made."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Response

from triptych.service.gallery import GalleryFilter
from triptych.web.deps import UserTp
from triptych.web.present import gallery_item_out, image_out, job_out, naive_utc
from triptych.web.responses import AUTH, errors
from triptych.web.schemas import CreditsPublic, HistoryPage, ImagePublic
from triptych.web.schemas_studio import GalleryPage

router = APIRouter(tags=["library"])

ImageId = Annotated[str, Path(max_length=64)]


@router.get("/v1/credits", response_model=CreditsPublic, responses=errors(*AUTH))
def credits(tp: UserTp, statement: bool = True,
            limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> dict[str, Any]:
    """Balance, this month's allowance and its renewal date, plan, and the statement."""
    return tp.credits(statement=statement, limit=limit)


@router.get("/v1/history", response_model=HistoryPage, responses=errors(*AUTH))
def history(
    tp: UserTp,
    q: Annotated[str | None, Query(max_length=200, description="Words in the prompt.")] = None,
    model: Annotated[str | None, Query(max_length=100)] = None,
    status: Literal["queued", "running", "succeeded", "failed", "canceled"] | None = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> dict[str, Any]:
    """Your jobs, newest first; search by prompt words and model; page with limit/offset."""
    items = tp.history(q, model=model, status=status, limit=limit + 1, offset=offset)
    more = len(items) > limit
    return {"items": [job_out(j) for j in items[:limit]], "limit": limit, "offset": offset,
            "next_offset": offset + limit if more else None}


@router.get("/v1/gallery", response_model=GalleryPage, responses=errors(*AUTH))
def gallery(
    tp: UserTp,
    q: Annotated[str | None, Query(max_length=200, description="Words in the prompt.")] = None,
    model: Annotated[str | None, Query(max_length=100)] = None,
    since: Annotated[datetime | None, Query(description="Made at or after (UTC).")] = None,
    until: Annotated[datetime | None, Query(description="Made before (UTC).")] = None,
    favourites: Annotated[bool, Query(description="Only starred images.")] = False,
    limit: Annotated[int, Query(ge=1, le=100)] = 48,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> dict[str, Any]:
    """Your images, one item per image, newest job first, with their job's prompt and model."""
    where = GalleryFilter(q, model, naive_utc(since), naive_utc(until), favourites)
    items = tp.gallery(where, limit=limit + 1, offset=offset)
    more = len(items) > limit
    return {"items": [gallery_item_out(i) for i in items[:limit]], "limit": limit,
            "offset": offset, "next_offset": offset + limit if more else None}


@router.get("/v1/images/{image_id}", response_model=ImagePublic, responses=errors(*AUTH, 404))
def get_image(image_id: ImageId, tp: UserTp) -> dict[str, Any]:
    return image_out(tp.image(image_id))


@router.get("/v1/images/{image_id}/content", response_class=Response,
            responses={200: {"content": {"image/png": {"schema": {"type": "string",
                                                                  "format": "binary"}},
                                         "image/svg+xml": {"schema": {"type": "string"}}},
                             "description": "The image file (owner only)."},
                       **errors(*AUTH, 404)})
def image_content(image_id: ImageId, tp: UserTp, format: Literal["png", "svg"] = "png",
                  download: bool = False) -> Response:
    """The image bytes: the PNG (with its generation record embedded), or the SVG."""
    image = tp.image(image_id)
    data = tp.image_bytes(image_id, svg=format == "svg")
    media = "image/svg+xml" if format == "svg" else "image/png"
    headers = {"Cache-Control": "private, max-age=3600", "ETag": f'"{image["sha256"]}"'}
    if download:
        headers["Content-Disposition"] = (f'attachment; filename="triptych-{image_id}.'
                                          f'{format}"')
    return Response(data, media_type=media, headers=headers)


@router.delete("/v1/images/{image_id}", status_code=204, responses=errors(*AUTH, 404))
def delete_image(image_id: ImageId, tp: UserTp) -> Response:
    """Remove an image from your gallery (the job and its statement lines stay)."""
    tp.delete_image(image_id)
    return Response(status_code=204)


@router.put("/v1/images/{image_id}/favourite", response_model=ImagePublic,
            responses=errors(*AUTH, 404))
def star_image(image_id: ImageId, tp: UserTp) -> dict[str, Any]:
    """Star an image (idempotent: starring twice keeps the first time)."""
    return image_out(tp.set_favourite(image_id, True))


@router.delete("/v1/images/{image_id}/favourite", response_model=ImagePublic,
               responses=errors(*AUTH, 404))
def unstar_image(image_id: ImageId, tp: UserTp) -> dict[str, Any]:
    """Remove the star (idempotent)."""
    return image_out(tp.set_favourite(image_id, False))
