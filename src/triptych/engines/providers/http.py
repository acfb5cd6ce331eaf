"""The one HTTP layer every hosted-provider adapter uses.

What it guarantees, so no adapter has to remember:

- **Timeouts.** Separate connect and read timeouts on every call (``HttpConfig``).
- **Retries with jittered backoff** on 408/429/5xx and connection failures. ``Retry-After``
  (seconds or an HTTP date) and ``retry-after-ms`` are honoured, and so is a delay the
  provider puts in the body (an adapter's ``retry_after`` hook, e.g. Gemini's
  ``RetryInfo.retryDelay``). A wait longer than ``RetryPolicy.max_retry_after`` (60 s), or
  one that would take the sleeping for one request past ``RetryPolicy.max_total_wait``
  (120 s), is not slept through: the call fails as retryable instead, carrying the delay.
- **No double submits.** A non-idempotent request (a POST that starts paid work) is retried
  only when the provider cannot have acted on it: the connection was never made, or it was
  refused with 429. 5xx and read timeouts are retried for such a request only when the adapter
  says its provider guarantees that is safe (``retry_5xx=True``, or a ``should_retry`` hook).
- **A polling deadline** (``poll``) and a **size cap** on every body and download.
- **Keys stay secret.** Auth headers go only to the provider's own hosts (the base URL's host
  plus ``trusted_hosts``); downloads of result URLs never carry them; every error ``detail``
  passes through ``redact``.
- **Downloads stay outside the operator's network.** A result URL, and every redirect from it
  (followed here, at most ``HttpConfig.max_redirects``), connects only to a public address,
  checked after DNS resolution and pinned for the connection (``upstream``); the operator's
  allow-list (``TRIPTYCH_UPSTREAM_ALLOW``) lets a self-hosted upstream through.

Bodies are read fully (capped) into a small ``Reply`` so adapters classify errors from status,
headers and text without touching streams.
"""

from __future__ import annotations

import base64
import binascii
import email.utils
import json
import logging
import random
import re
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import urljoin, urlsplit

import httpx

from triptych.engines.errors import (
    EngineError,
    FatalError,
    ProviderUnavailableError,
    RetryableError,
)
from triptych.engines.providers.upstream import PinnedTransport, RefusedUpstream, UpstreamGuard

log = logging.getLogger("triptych.providers")

T = TypeVar("T")

RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 4  # tries of one request in all, the first included
    base_delay: float = 0.5  # backoff before try k+1 is uniform(0, base * 2**k): "full jitter"
    max_delay: float = 8.0
    max_retry_after: float = 60.0  # a provider asking for longer: fail now, retryable later
    # All the sleeping one request may do between its tries. A provider asking for waits that
    # add up to more (a 37 s quota window three times) is given up on, retryable later: a
    # worker should not sit on one job for minutes.
    max_total_wait: float = 120.0


@dataclass(frozen=True)
class HttpConfig:
    connect_timeout: float = 5.0
    read_timeout: float = 180.0  # synchronous generation endpoints can take minutes
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    poll_interval: float = 1.0  # first wait between status polls; grows 1.5x per poll
    poll_max_interval: float = 5.0
    poll_deadline: float = 300.0  # seconds from submit until we give up waiting
    max_download_bytes: int = 50 * 1024 * 1024  # one result image or SVG
    max_body_bytes: int = 200 * 1024 * 1024  # one JSON body; base64 images make these large
    max_redirects: int = 5  # signed CDN URLs redirect once or twice


class Redactor:
    """Replaces every known secret in a string with ``***``."""

    def __init__(self, secrets: Iterable[str | None]) -> None:
        self._secrets = sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text


@dataclass
class Reply:
    status: int
    headers: httpx.Headers
    body: bytes
    url: str
    attempts: int = 1

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip().lower()

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    def json_or_none(self) -> Any:
        """The parsed body, or None when it is not JSON (some providers answer in plain text)."""
        try:
            return json.loads(self.body)
        except (ValueError, UnicodeDecodeError):
            return None


def parse_retry_after(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """Seconds to wait from ``retry-after-ms`` or ``Retry-After`` (seconds or HTTP date)."""
    raw_ms = headers.get("retry-after-ms")
    if raw_ms:
        try:
            return max(0.0, float(raw_ms) / 1000.0)
        except ValueError:
            pass
    raw = headers.get("retry-after")
    if not raw:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    current = time.time() if now is None else now
    return max(0.0, when.timestamp() - current)


_DURATION = re.compile(r"(-?)(\d+)(?:\.(\d{1,9}))?s")


def parse_duration(value: Any) -> float | None:
    """Seconds in a protobuf ``Duration`` as JSON writes it (``"37s"``, ``"1.5s"``,
    ``"0.000001s"``), or as ``{"seconds", "nanos"}``; None when it is neither. Negative
    durations count as 0 (no wait)."""
    if isinstance(value, str):
        match = _DURATION.fullmatch(value.strip())
        if not match:
            return None
        sign, whole, frac = match.groups()
        seconds = int(whole) + (int(frac.ljust(9, "0")) / 1e9 if frac else 0.0)
        return 0.0 if sign else seconds
    if isinstance(value, dict) and ("seconds" in value or "nanos" in value):
        try:
            seconds = float(value.get("seconds") or 0) + float(value.get("nanos") or 0) / 1e9
        except (TypeError, ValueError):
            return None
        return max(0.0, seconds)
    return None


def host_of(url: str) -> str:
    return (urlsplit(url).hostname or "").lower()


def _host_matches(host: str, pattern: str) -> bool:
    pattern = pattern.lower()
    if pattern.startswith("."):
        return host.endswith(pattern) or host == pattern[1:]
    return host == pattern


class ProviderHttp:
    """One provider's HTTP client: auth headers, retries, caps, redaction."""

    def __init__(
        self,
        *,
        display: str,
        base_url: str,
        auth_headers: Mapping[str, str],
        secrets: Iterable[str | None],
        config: HttpConfig | None = None,
        trusted_hosts: Iterable[str] = (),
        transport: httpx.BaseTransport | None = None,
        should_retry: Callable[[Reply], bool | None] | None = None,
        retry_after: Callable[[Reply], float | None] | None = None,
        upstream: UpstreamGuard | None = None,
    ) -> None:
        self.display = display
        self.upstream = upstream or UpstreamGuard()
        self._should_retry = should_retry
        # Seconds the provider asked for: headers by default; an adapter adds its body's say.
        self._retry_after = retry_after or (lambda reply: parse_retry_after(reply.headers))
        self.base_url = base_url.rstrip("/")
        self.config = config or HttpConfig()
        self.redact = Redactor(secrets)
        self._auth = dict(auth_headers)
        self._trusted = [host_of(self.base_url), *trusted_hosts]
        cfg = self.config
        self._client = httpx.Client(
            timeout=httpx.Timeout(
                connect=cfg.connect_timeout,
                read=cfg.read_timeout,
                write=cfg.read_timeout,
                pool=cfg.connect_timeout,
            ),
            follow_redirects=False,  # a redirect could carry the auth header to another host
            transport=transport,
            headers={"user-agent": "triptych"},
        )
        self._download_client = httpx.Client(
            timeout=httpx.Timeout(connect=cfg.connect_timeout, read=cfg.read_timeout,
                                  write=cfg.read_timeout, pool=cfg.connect_timeout),
            follow_redirects=False,  # download() follows them, checking each hop's address
            transport=PinnedTransport(self.upstream, transport),
            headers={"user-agent": "triptych"},
        )

    def close(self) -> None:
        self._client.close()
        self._download_client.close()

    # -------------------------------------------------------------- urls and trust

    def url(self, path: str) -> str:
        return f"{self.base_url}/{path.lstrip('/')}"

    def is_trusted(self, url: str) -> bool:
        host = host_of(url)
        return bool(host) and any(_host_matches(host, p) for p in self._trusted)

    def _check_url(self, url: str, what: str) -> None:
        try:
            scheme = urlsplit(url).scheme.lower()
        except ValueError as exc:  # e.g. an unclosed [IPv6 bracket
            raise FatalError(f"{self.display} returned an unusable {what}.",
                             detail=self.redact(f"{url[:200]}: {exc}")) from None
        if scheme not in ("http", "https"):
            raise FatalError(
                f"{self.display} returned an unusable {what}.",
                detail=self.redact(f"{what} with scheme {scheme!r}: {url[:200]}"),
            )

    # -------------------------------------------------------------- requests

    def send(
        self,
        method: str,
        url: str,
        *,
        json_body: Any = None,
        headers: Mapping[str, str] | None = None,
        idempotent: bool | None = None,
        retry_5xx: bool = False,
        should_retry: Callable[[Reply], bool | None] | None = None,
        timeout: float | None = None,
    ) -> Reply:
        """Send one authenticated request, retrying what is safe to retry.

        Returns the final ``Reply`` whatever its status (the adapter maps errors); raises
        ``RetryableError`` when the connection failed or timed out for good.
        ``should_retry(reply)`` may force the decision for a retryable status (True/False).
        """
        self._check_url(url, "URL")
        if not self.is_trusted(url):
            # Never send the key to a host the operator did not configure.
            raise ProviderUnavailableError(
                f"Provider unavailable: {self.display} pointed Triptych at an unexpected host.",
                detail=self.redact(f"refused to send credentials to {host_of(url)!r} ({url})"),
            )
        if idempotent is None:
            idempotent = method.upper() in ("GET", "HEAD", "PUT", "DELETE", "OPTIONS")
        merged = {**self._auth, **(headers or {})}
        return self._with_retries(
            lambda: self._request_once(self._client, method, url, json_body, merged, timeout,
                                       self.config.max_body_bytes),
            idempotent=idempotent,
            retry_5xx=retry_5xx or idempotent,
            should_retry=should_retry or self._should_retry,
            what=f"{method.upper()} {url}",
        )

    def download(self, url: str, *, max_bytes: int | None = None) -> tuple[bytes, str]:
        """Fetch a result the provider pointed at (no credentials); returns (bytes, type)."""
        cap = max_bytes or self.config.max_download_bytes
        if url.startswith("data:"):
            return self._decode_data_url(url, cap)
        hops: list[str] = []
        while True:
            reply = self._download_once(url, cap, hops)
            location = reply.headers.get("location")
            if reply.status not in REDIRECT_STATUSES or not location:
                break
            hops.append(url)
            if len(hops) > self.config.max_redirects:
                raise FatalError(
                    f"{self.display} finished, but its result could not be downloaded.",
                    detail=self.redact(f"more than {self.config.max_redirects} redirects from "
                                       f"{hops[0][:200]}"))
            url = urljoin(url, location)
        if not reply.ok:
            raise FatalError(
                f"{self.display} finished, but its result could not be downloaded.",
                detail=self.redact(f"GET result URL {url[:200]}: HTTP {reply.status} "
                                   f"{reply.text[:300]}"),
            )
        return reply.body, reply.content_type

    def _download_once(self, url: str, cap: int, hops: list[str]) -> Reply:
        what = "result URL" if not hops else "redirect of a result URL"
        self._check_url(url, what)
        try:
            parts = urlsplit(url)
            port = parts.port or (443 if parts.scheme.lower() == "https" else 80)
        except ValueError as exc:  # a port that is no number
            raise FatalError(f"{self.display} returned an unusable {what}.",
                             detail=self.redact(f"{url[:200]}: {exc}")) from None
        try:
            self.upstream.refuse_literal(parts.hostname or "", port)
            return self._with_retries(
                lambda: self._request_once(self._download_client, "GET", url, None, {}, None,
                                           cap),
                idempotent=True,
                retry_5xx=True,
                should_retry=None,
                what="result download",
            )
        except RefusedUpstream as exc:
            via = f" (redirected from {hops[0][:200]})" if hops else ""
            raise FatalError(
                f"{self.display} pointed Triptych at a result on a private or local network "
                "address, which Triptych does not download from.",
                detail=self.redact(f"refused {what} {url[:200]}{via}: {exc}; an operator can "
                                   "allow a self-hosted upstream with TRIPTYCH_UPSTREAM_ALLOW"),
            ) from None
        except httpx.InvalidURL as exc:
            raise FatalError(f"{self.display} returned an unusable {what}.",
                             detail=self.redact(f"{url[:200]}: {exc}")) from None

    def _decode_data_url(self, url: str, cap: int) -> tuple[bytes, str]:
        header, _, payload = url.partition(",")
        mime = header[5:].split(";")[0].lower()
        if len(payload) > cap * 4 // 3 + 8:
            raise FatalError(f"{self.display} returned a result larger than Triptych accepts.",
                             detail=f"data URL of {len(payload)} characters")
        try:
            data = base64.b64decode(payload, validate=True) if ";base64" in header else (
                payload.encode())
        except (binascii.Error, ValueError) as exc:
            raise FatalError(f"{self.display} returned a malformed result.",
                             detail=f"bad base64 in data URL: {exc}") from None
        return data, mime

    def _request_once(
        self,
        client: httpx.Client,
        method: str,
        url: str,
        json_body: Any,
        headers: Mapping[str, str],
        timeout: float | None,
        cap: int,
    ) -> Reply:
        kwargs: dict[str, Any] = {"headers": headers}
        if json_body is not None:
            kwargs["json"] = json_body
        if timeout is not None:
            kwargs["timeout"] = httpx.Timeout(timeout, connect=self.config.connect_timeout)
        with client.stream(method, url, **kwargs) as response:
            declared = response.headers.get("content-length")
            if declared and declared.isdigit() and int(declared) > cap:
                raise _TooLarge(int(declared), cap)
            chunks: list[bytes] = []
            size = 0
            for chunk in response.iter_bytes():
                size += len(chunk)
                if size > cap:
                    raise _TooLarge(size, cap)
                chunks.append(chunk)
            return Reply(response.status_code, response.headers, b"".join(chunks), str(url))

    def _with_retries(
        self,
        once: Callable[[], Reply],
        *,
        idempotent: bool,
        retry_5xx: bool,
        should_retry: Callable[[Reply], bool | None] | None,
        what: str,
    ) -> Reply:
        policy = self.config.retry
        attempt = 0
        slept = 0.0
        while True:
            attempt += 1
            last = attempt >= policy.attempts
            wait: float | None = None
            try:
                reply = once()
            except _TooLarge as exc:
                raise FatalError(
                    f"{self.display} returned a result larger than Triptych accepts.",
                    detail=f"{what}: body of {exc.size}+ bytes exceeds the cap of {exc.cap}",
                ) from None
            except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
                # The request never reached the provider: safe to retry even a submit.
                if last:
                    raise self._transport_error(exc, what, attempt) from None
            except (httpx.TimeoutException, httpx.TransportError) as exc:
                # The provider may have received it; only idempotent calls are repeated.
                if last or not (idempotent or retry_5xx):
                    raise self._transport_error(exc, what, attempt) from None
            else:
                reply.attempts = attempt
                if reply.status not in RETRY_STATUSES:
                    return reply
                decision = should_retry(reply) if should_retry else None
                if decision is None:
                    forced = reply.headers.get("x-should-retry", "").lower()
                    if forced in ("true", "false"):
                        decision = forced == "true"
                if decision is None:
                    decision = reply.status == 429 or retry_5xx
                if not decision or last:
                    return reply
                wait = self._retry_after(reply)
                if wait is not None and (wait > policy.max_retry_after
                                         or slept + wait > policy.max_total_wait):
                    return reply  # the adapter reports it as retryable, with retry_after
                log.info("%s: %s got HTTP %s, retrying (attempt %d)", self.display,
                         self.redact(what), reply.status, attempt)
            if wait is None:
                ceiling = min(policy.max_delay, policy.base_delay * 2 ** (attempt - 1))
                wait = random.uniform(0, ceiling)
            else:
                wait += random.uniform(0, min(policy.base_delay, wait * 0.1 + 0.001))
            slept += wait
            time.sleep(wait)

    def _transport_error(self, exc: Exception, what: str, attempt: int) -> EngineError:
        kind = "timed out" if isinstance(exc, httpx.TimeoutException) else "could not be reached"
        return RetryableError(
            f"{self.display} {kind}; try again shortly.",
            detail=self.redact(f"{what}: {type(exc).__name__}: {exc} (after {attempt} tries)"),
        )

    # -------------------------------------------------------------- polling

    def poll(
        self,
        check: Callable[[], T | None],
        *,
        deadline: float | None = None,
        on_wait: Callable[[float], None] | None = None,
    ) -> T:
        """Call ``check`` until it returns a value; fail as retryable past the deadline."""
        limit = self.config.poll_deadline if deadline is None else deadline
        started = time.monotonic()
        interval = self.config.poll_interval
        while True:
            result = check()
            if result is not None:
                return result
            elapsed = time.monotonic() - started
            if elapsed + interval > limit:
                raise PollDeadline(
                    f"{self.display} did not finish within {limit:g} s; try again later.",
                    detail=f"polling deadline of {limit:g} s reached",
                )
            if on_wait is not None:
                on_wait(elapsed)
            time.sleep(interval)
            interval = min(interval * 1.5, self.config.poll_max_interval)


class PollDeadline(RetryableError):
    """The provider accepted the job but did not finish before our deadline."""


class _TooLarge(Exception):
    def __init__(self, size: int, cap: int) -> None:
        super().__init__(size, cap)
        self.size = size
        self.cap = cap


def body_excerpt(reply: Reply, redact: Redactor, limit: int = 500) -> str:
    text = reply.text.strip().replace("\n", " ")
    if len(text) > limit:
        text = text[:limit] + "…"
    return redact(f"HTTP {reply.status} from {reply.url}: {text}")
