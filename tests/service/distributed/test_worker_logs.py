"""``triptych worker`` at INFO logs each job once (its own line), not Celery's two more."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from triptych.service.distributed.worker import CELERY_PER_TASK_LOGGERS, one_line_per_job


@pytest.fixture
def celery_loggers() -> Iterator[None]:
    loggers = [logging.getLogger(name) for name in CELERY_PER_TASK_LOGGERS]
    before = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.NOTSET)
    yield
    for logger, level in zip(loggers, before, strict=True):
        logger.setLevel(level)  # setLevel, not the attribute: it clears logging's cache


@pytest.mark.parametrize(("level", "celery_level"), [("info", logging.WARNING),
                                                     ("DEBUG", logging.NOTSET)])
def test_a_job_is_logged_once_at_info(level, celery_level, celery_loggers):
    one_line_per_job(level)
    assert {logging.getLogger(n).level for n in CELERY_PER_TASK_LOGGERS} == {celery_level}
