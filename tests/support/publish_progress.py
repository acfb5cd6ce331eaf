"""A stand-in worker process: publishes a job's progress to the shared Redis hub and exits.

``python -m tests.support.publish_progress URL PREFIX JOB_ID STEPS``: ``STEPS`` running events
(fraction ``i/STEPS``, a preview ``8+i`` pixels wide), then ``succeeded``."""

from __future__ import annotations

import sys

from PIL import Image

from triptych.service.progress import ProgressEvent
from triptych.service.progress_redis import RedisProgressHub


def main(url: str, prefix: str, job_id: str, steps: int) -> None:
    hub = RedisProgressHub(url, prefix=prefix)
    for i in range(1, steps + 1):
        hub.publish_progress(job_id, i / steps, Image.new("RGB", (8 + i, 8), "gray"))
    hub.publish(ProgressEvent(job_id, "succeeded", 1.0, extra={"by": "child"}))
    hub.close()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]))
