"""Progress events across processes and machines, on Redis: a worker anywhere publishes, an
event stream on any API process receives.

Layout (``prefix`` is ``triptych:`` unless a test isolates itself):

* channel ``{prefix}progress:{job_id}`` — every event of the job, as published;
* hash ``{prefix}progress:{job_id}:latest`` — ``seq`` and ``event`` (the last message), so a
  subscriber that comes late starts from the latest; it expires ``IDLE_TTL`` after the job's
  last event, or ``FINAL_TTL`` after a final one;
* channel ``{prefix}progress-wake:{hex}`` — one per process: wakes that process's listener
  when the set of watched jobs changes.

A message is ``b"<seq>\\n<json header>\\n<png bytes>"`` (the preview travels raw, not as
base64). One Lua script stamps ``seq``, stores the message and publishes it, so the stored
latest and the channel never disagree. ``seq`` rises strictly per job (at least the Redis
server's clock in microseconds, at least the previous one plus one), even across the hash
expiring or Redis restarting, so each subscriber drops what it already has and events reach it
in order, however the latest-on-subscribe fetch and the channel interleave.

Receiving: ONE listener thread per process (started by the first ``subscribe``) owns the
pub/sub connection. ``subscribe`` registers a local queue and wakes the listener, which
SUBSCRIBEs the job's channel and, once Redis confirms, fetches the latest event; further
subscribers of the same job share that subscription. ``unsubscribe`` drops the queue, and the
listener UNSUBSCRIBEs within ``listen_timeout`` once a job has no local subscriber. On a lost
connection the listener reconnects, re-subscribes and fetches each job's latest again (events
published in between are summed up by the latest one).

Progress is transient (the job row is the truth), so a publish that cannot reach Redis is
logged and dropped rather than failing the job. Needs Redis >= 5 (TIME inside a script).
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import uuid
from dataclasses import dataclass, field
from typing import Any

import redis
from PIL import Image
from redis.backoff import NoBackoff
from redis.retry import Retry

from triptych.service.progress import FINAL_TTL, IDLE_TTL, ProgressEvent, progress_event

log = logging.getLogger(__name__)

# KEYS[1] latest hash; ARGV: channel, header+png, ttl seconds. Returns the message.
PUBLISH_LUA = """
local now = redis.call('TIME')
local seq = tonumber(now[1]) * 1000000 + tonumber(now[2])
local last = tonumber(redis.call('HGET', KEYS[1], 'seq') or '0')
if seq <= last then seq = last + 1 end
local message = string.format('%d', seq) .. '\\n' .. ARGV[2]
redis.call('HSET', KEYS[1], 'seq', string.format('%d', seq), 'event', message)
redis.call('EXPIRE', KEYS[1], ARGV[3])
redis.call('PUBLISH', ARGV[1], message)
return message
"""

CONNECT_TIMEOUT = 2.0
COMMAND_TIMEOUT = 5.0


def encode(event: ProgressEvent) -> bytes:
    """The header (status, fraction, extra) as JSON, then the preview PNG as it is."""
    header: dict[str, Any] = {"status": event.status, "fraction": event.fraction}
    if event.extra:
        header["extra"] = event.extra
    text = json.dumps(header, separators=(",", ":"), default=str)  # never holds a raw newline
    return text.encode() + b"\n" + (event.preview_png or b"")


def decode(job_id: str, message: bytes) -> tuple[int, ProgressEvent]:
    seq, header, png = message.split(b"\n", 2)
    data = json.loads(header)
    return int(seq), ProgressEvent(job_id, data["status"], float(data["fraction"]), png or None,
                                   data.get("extra", {}))


def _decode_or_none(job_id: str, message: bytes) -> tuple[int, ProgressEvent] | None:
    try:
        return decode(job_id, message)
    except (ValueError, KeyError, TypeError) as exc:
        log.warning("dropping a malformed progress message for job %s (%s)", job_id, exc)
        return None


@dataclass(eq=False)
class _Subscriber:
    queue: queue.Queue[ProgressEvent]
    seen: int = 0  # the highest seq put in the queue


@dataclass(eq=False)
class _Watch:
    """One job's local subscribers, sharing one Redis subscription."""

    subscribers: list[_Subscriber] = field(default_factory=list)
    caught_up: bool = False  # subscribed at Redis, and the latest event fetched after that
    latest: tuple[int, ProgressEvent] | None = None


class RedisProgressHub:
    def __init__(self, url: str, *, prefix: str = "triptych:", final_ttl: float = FINAL_TTL,
                 idle_ttl: float = IDLE_TTL, listen_timeout: float = 1.0) -> None:
        self.prefix = prefix
        self.final_ttl = max(1, round(final_ttl))
        self.idle_ttl = max(1, round(idle_ttl))
        self.listen_timeout = listen_timeout
        self._url = url
        self._redis = redis.Redis.from_url(url, socket_connect_timeout=CONNECT_TIMEOUT,
                                           socket_timeout=COMMAND_TIMEOUT)
        self._publish_script = self._redis.register_script(PUBLISH_LUA)
        self._channel_prefix = f"{prefix}progress:".encode()
        self._wake_channel = f"{prefix}progress-wake:{uuid.uuid4().hex}".encode()
        # CLIENT LIST shows the listener's connection under this name
        self.listener_name = f"{prefix}progress-listener".replace(" ", "_")
        self._lock = threading.Lock()
        self._watches: dict[str, _Watch] = {}
        self._dirty = False  # _watches changed since the listener last looked
        self._listener: threading.Thread | None = None
        self._closed = threading.Event()
        self._failing = False  # log a lost Redis once, not once per event

    @classmethod
    def from_url(cls, url: str, **options: Any) -> RedisProgressHub:
        return cls(url, **options)

    def channel(self, job_id: str) -> bytes:
        return self._channel_prefix + job_id.encode()

    def key(self, job_id: str) -> str:
        return f"{self.prefix}progress:{job_id}:latest"

    # -- publishing (any process) -------------------------------------------------------------

    def publish(self, event: ProgressEvent) -> None:
        ttl = self.final_ttl if event.final else self.idle_ttl
        try:
            self._publish_script(keys=[self.key(event.job_id)],
                                 args=[self.channel(event.job_id), encode(event), ttl])
        except redis.RedisError as exc:
            self._trouble("publish", exc)
        else:
            self._recovered()

    def publish_progress(self, job_id: str, fraction: float, preview: Image.Image | None) -> None:
        self.publish(progress_event(job_id, fraction, preview))

    def latest(self, job_id: str) -> ProgressEvent | None:
        try:
            message = self._redis.hget(self.key(job_id), "event")
        except redis.RedisError as exc:
            self._trouble("read the latest event", exc)
            return None
        return None if message is None else decode(job_id, message)[1]

    def forget(self, job_id: str) -> None:
        try:
            self._redis.delete(self.key(job_id))
        except redis.RedisError as exc:
            self._trouble("forget", exc)

    # -- subscribing (this process) -----------------------------------------------------------

    def subscribe(self, job_id: str,
                  into: queue.Queue[ProgressEvent] | None = None) -> queue.Queue[ProgressEvent]:
        q: queue.Queue[ProgressEvent] = queue.Queue() if into is None else into
        subscriber = _Subscriber(q)
        with self._lock:
            if self._closed.is_set():
                raise RuntimeError("the progress hub is closed")
            watch = self._watches.get(job_id)
            first = watch is None
            if watch is None:
                watch = self._watches[job_id] = _Watch()
                self._dirty = True
            watch.subscribers.append(subscriber)
            if watch.latest is not None:
                self._deliver(subscriber, *watch.latest)
            if self._listener is None:
                self._listener = threading.Thread(target=self._listen, daemon=True,
                                                  name="progress-redis-listener")
                self._listener.start()
        if first:
            self._wake()
        return q

    def unsubscribe(self, job_id: str, q: queue.Queue[ProgressEvent]) -> None:
        with self._lock:
            watch = self._watches.get(job_id)
            if watch is None:
                return
            watch.subscribers = [s for s in watch.subscribers if s.queue is not q]
            if not watch.subscribers:
                del self._watches[job_id]
                self._dirty = True  # the listener unsubscribes on its next turn

    def watched(self) -> set[str]:
        """The jobs this process has subscribers for."""
        with self._lock:
            return set(self._watches)

    def close(self) -> None:
        """Stop the listener and drop the connections (subscribers get nothing more)."""
        self._closed.set()
        self._wake()
        if self._listener is not None:
            self._listener.join(timeout=self.listen_timeout + COMMAND_TIMEOUT)
        self._redis.close()

    # -- the listener thread ------------------------------------------------------------------

    def _listen(self) -> None:
        # Its own client with no silent retries: a lost connection reaches the loop below,
        # which rebuilds every subscription from what ``_watches`` wants.
        client = redis.Redis.from_url(self._url, socket_connect_timeout=CONNECT_TIMEOUT,
                                      socket_keepalive=True, health_check_interval=30,
                                      retry=Retry(NoBackoff(), 0),
                                      client_name=self.listener_name)
        pubsub: redis.client.PubSub | None = None
        subscribed: set[str] = set()  # jobs whose last command sent was SUBSCRIBE
        pending: dict[str, int] = {}  # job -> (un)subscribe confirmations still to come
        backoff = 0.5
        try:
            while not self._closed.is_set():
                try:
                    if pubsub is None:
                        pubsub = client.pubsub()
                        pubsub.subscribe(self._wake_channel)
                        with self._lock:
                            self._dirty = True
                            for watch in self._watches.values():
                                watch.caught_up = False
                    self._sync(pubsub, subscribed, pending)
                    message = pubsub.get_message(timeout=self.listen_timeout)
                    if message is not None:
                        self._handle(pubsub, message, subscribed, pending)
                    backoff = 0.5
                except Exception as exc:  # never let the one listener die
                    if self._closed.is_set():
                        break
                    if isinstance(exc, redis.RedisError | OSError):
                        log.warning("progress listener lost Redis (%s); retrying in %.1f s",
                                    exc, backoff)
                    else:
                        log.exception("progress listener failed; restarting in %.1f s", backoff)
                    if pubsub is not None:
                        pubsub.close()
                    pubsub = None
                    subscribed.clear()
                    pending.clear()
                    self._closed.wait(backoff)
                    backoff = min(backoff * 2, 10.0)
        finally:
            if pubsub is not None:
                pubsub.close()
            client.close()

    def _sync(self, pubsub: redis.client.PubSub, subscribed: set[str],
              pending: dict[str, int]) -> None:
        """Bring the Redis subscriptions in line with the watched jobs."""
        with self._lock:
            if not self._dirty:
                return
            self._dirty = False
            wanted = set(self._watches)
            behind = {job for job, watch in self._watches.items() if not watch.caught_up}
        add, drop = wanted - subscribed, subscribed - wanted
        if add:
            pubsub.subscribe(*(self.channel(job) for job in add))
        if drop:
            pubsub.unsubscribe(*(self.channel(job) for job in drop))
        for job in add | drop:
            pending[job] = pending.get(job, 0) + 1
        subscribed.difference_update(drop)
        subscribed.update(add)
        for job in behind - add:
            if not pending.get(job):  # still subscribed from an earlier watch of the job
                self._catch_up(job)

    def _handle(self, pubsub: redis.client.PubSub, message: dict[str, Any],
                subscribed: set[str], pending: dict[str, int]) -> None:
        channel = message["channel"]
        if channel == self._wake_channel or not channel.startswith(self._channel_prefix):
            return
        job_id = channel[len(self._channel_prefix):].decode()
        kind = message["type"]
        if kind == "message":
            decoded = _decode_or_none(job_id, message["data"])
            with self._lock:
                watch = self._watches.get(job_id)
                if watch is not None and decoded is not None:
                    self._offer(watch, *decoded)
        elif kind in ("subscribe", "unsubscribe"):
            left = pending.get(job_id, 0) - 1
            if left > 0:
                pending[job_id] = left  # a later command will settle the state
                return
            pending.pop(job_id, None)
            if job_id in subscribed:
                self._catch_up(job_id)

    def _catch_up(self, job_id: str) -> None:
        """Once subscribed: the latest event, for whoever subscribed before the channel was."""
        message = self._redis.hget(self.key(job_id), "event")
        decoded = None if message is None else _decode_or_none(job_id, message)
        with self._lock:
            watch = self._watches.get(job_id)
            if watch is None:
                return
            watch.caught_up = True
            if decoded is not None:
                self._offer(watch, *decoded)

    # -- delivery (under the lock) ------------------------------------------------------------

    def _offer(self, watch: _Watch, seq: int, event: ProgressEvent) -> None:
        if watch.latest is None or seq > watch.latest[0]:
            watch.latest = (seq, event)
        for subscriber in watch.subscribers:
            self._deliver(subscriber, seq, event)

    @staticmethod
    def _deliver(subscriber: _Subscriber, seq: int, event: ProgressEvent) -> None:
        if seq > subscriber.seen:
            subscriber.seen = seq
            subscriber.queue.put(event)

    # -- helpers ------------------------------------------------------------------------------

    def _wake(self) -> None:
        try:
            self._redis.publish(self._wake_channel, b"")
        except redis.RedisError as exc:  # the listener looks again within listen_timeout
            self._trouble("wake the listener", exc)

    def _trouble(self, what: str, exc: Exception) -> None:
        if not self._failing:
            self._failing = True
            log.warning("progress hub could not %s on Redis (%s); progress is dropped until "
                        "it is back", what, exc)

    def _recovered(self) -> None:
        if self._failing:
            self._failing = False
            log.info("progress hub reaches Redis again")
