"""A job and its images as plain dicts: what the facade returns, the API presents and a
job's final progress event carries (so a watcher needs no read of the row it already has)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from triptych.db.models import Image, Job


def job_public(job: Job, images: list[Image] | None = None) -> dict[str, Any]:
    return {
        "id": job.id, "status": job.status, "model": job.model_id, "prompt": job.prompt,
        "seed": job.seed, "size": f"{job.width}x{job.height}", "width": job.width,
        "height": job.height, "n": job.n, "steps": job.steps, "content_mode": job.content_mode,
        "cost": job.cost, "charged": job.charged,
        "seconds": job.seconds, "created_at": job.created_at.isoformat(timespec="seconds"),
        "finished_at": job.finished_at.isoformat(timespec="seconds") if job.finished_at else None,
        "compare_id": job.compare_id, "parent_job_id": job.parent_job_id,
        "error": ({"code": job.error_code, "message": job.error_message,
                   "field": job.error_field, "side": job.error_side}
                  if job.error_code else None),
        "options": (job.notes or {}).get("options") or {},
        "notes": job.notes or {},
        "images": [image_public(i) for i in images or []],
    }


def image_public(image: Image) -> dict[str, Any]:
    return {"id": image.id, "job_id": image.job_id, "index": image.index, "path": image.path,
            "svg_path": image.svg_path, "sha256": image.sha256, "media_type": image.media_type,
            "width": image.width, "height": image.height, "record": image.record,
            "favourite": getattr(image, "favourite_at", None) is not None}  # a fresh one: None
