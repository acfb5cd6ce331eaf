"""A plan's queue priority (0 first) as each broker's message priority."""

from triptych.service.distributed.celery_app import MAX_PRIORITY, message_priority


def test_plan_priority_maps_to_each_broker_in_the_same_order():
    redis = [message_priority(p, "redis://h") for p in range(10)]
    rabbit = [message_priority(p, "amqp://h") for p in range(10)]
    assert redis[:3] == [0, 6, 7] and redis == sorted(redis)  # Redis: lowest first
    assert rabbit[:3] == [MAX_PRIORITY, 3, 2] and rabbit == sorted(rabbit, reverse=True)
    assert all(0 <= r <= 9 for r in redis + rabbit)
