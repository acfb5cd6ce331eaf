"""A job's life: queued -> running -> succeeded | failed | canceled (a lost running job
may go back to queued). Members are ``str``: they compare equal to the column's values."""

from __future__ import annotations

from enum import StrEnum


class JobStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELED = "canceled"


QUEUED, RUNNING = JobStatus.QUEUED, JobStatus.RUNNING
SUCCEEDED, FAILED, CANCELED = JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELED
IN_FLIGHT = (QUEUED, RUNNING)  # holding credits, counted against the in-flight cap
FINAL = (SUCCEEDED, FAILED, CANCELED)  # settled: nothing about the job changes again
