"""The Celery application: broker settings, queues and message priorities.

Messages are acknowledged after the job ran (``acks_late``) and handed back to the broker
when the worker process dies (``reject_on_worker_lost``), one at a time per worker process
(``prefetch 1``), so a killed worker's job goes to another. Redelivery is only a shortcut:
the job row decides, a duplicate message finds the job claimed and does nothing, and the
sweeper re-publishes a job whose message was lost.
"""

from __future__ import annotations

from celery import Celery
from kombu import Exchange, Queue

from triptych.settings import Settings

TASK = "triptych.run_job"
EXCHANGE = Exchange("triptych", type="direct", durable=True)
MAX_PRIORITY = 9


def is_redis(url: str) -> bool:
    return url.startswith(("redis://", "rediss://"))


def make_queue(name: str) -> Queue:
    return Queue(name, EXCHANGE, routing_key=name, durable=True,
                 queue_arguments={"x-max-priority": MAX_PRIORITY + 1})


def message_priority(job_priority: int, broker_url: str) -> int:
    """A plan's priority (``Job.priority``, 0 first; plans.toml) as the broker's. Redis serves
    the lowest number first, RabbitMQ the highest, so the same intent maps to opposite
    numbers: 0 is the most urgent, 1 (the free plan) the usual level, larger ones later."""
    if is_redis(broker_url):
        return 0 if job_priority == 0 else min(9, 5 + job_priority)
    return MAX_PRIORITY if job_priority == 0 else max(0, 4 - job_priority)


def make_celery(settings: Settings) -> Celery:
    if not settings.broker_url:
        raise ValueError("TRIPTYCH_BROKER_URL is not set")
    app = Celery("triptych", broker=settings.broker_url, set_as_current=False)
    transport: dict = {}
    if is_redis(settings.broker_url):
        # Priority lists per queue, and an unacknowledged message comes back only after a
        # long silence: the lease and the sweeper, not the broker, decide when a job is lost.
        transport = {"queue_order_strategy": "priority", "priority_steps": list(range(10)),
                     "visibility_timeout": max(3600, 2 * settings.job_lease_seconds)}
    app.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        task_acks_on_failure_or_timeout=True,
        worker_prefetch_multiplier=1,
        task_ignore_result=True,
        task_store_errors_even_if_ignored=False,
        task_serializer="json",
        accept_content=["json"],
        broker_transport_options=transport,
        broker_connection_retry_on_startup=True,
        # A publish that cannot reach the broker gives up fast: the job is committed, and the
        # sweeper publishes it again once the broker is back.
        task_publish_retry_policy={"max_retries": 2, "interval_start": 0.1,
                                   "interval_step": 0.2, "interval_max": 0.5},
        worker_hijack_root_logger=False,
        worker_send_task_events=False,
        worker_enable_remote_control=True,
        task_default_exchange=EXCHANGE.name,
        task_default_exchange_type="direct",
        task_create_missing_queues=False,
    )
    from triptych.service.distributed import tasks

    app.task(name=TASK, ignore_result=True)(tasks.run_job)
    return app
