"""Service dicts → public API dicts: image bytes are addressed by id, never by path."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any


def image_out(image: dict[str, Any]) -> dict[str, Any]:
    out = {k: image[k] for k in ("id", "job_id", "index", "media_type", "width", "height",
                                 "sha256", "record")}
    out["url"] = f"/v1/images/{image['id']}/content"
    out["svg_url"] = f"/v1/images/{image['id']}/content?format=svg" if image.get(
        "svg_path") else None
    out["media_type"] = "image/png"  # the content URL serves the PNG; SVG via svg_url
    out["favourite"] = bool(image.get("favourite"))
    return out


def gallery_item_out(item: dict[str, Any]) -> dict[str, Any]:
    return {**item, "url": f"/v1/images/{item['id']}/content"}


def naive_utc(moment: datetime | None) -> datetime | None:
    """The database keeps naive UTC: an aware time from a query string is converted."""
    if moment is None or moment.tzinfo is None:
        return moment
    return moment.astimezone(UTC).replace(tzinfo=None)


def job_out(job: dict[str, Any]) -> dict[str, Any]:
    out = dict(job)
    out["images"] = [image_out(i) for i in job.get("images", [])]
    if out.get("error"):
        out["error"] = {**out["error"], "code": out["error"].get("code") or out["status"]}
    return out


def accepted_out(job: dict[str, Any]) -> dict[str, Any]:
    return {**job_out(job), "quoted_credits": job["cost"],
            "events_url": f"/v1/jobs/{job['id']}/events"}
