"""The shared HTTP layer: Retry-After parsing, redaction, caps, trust, connection failures."""

from __future__ import annotations

import email.utils
from dataclasses import replace

import pytest
from provider_fakes import FAST, KEY, TIGHT, FakeServer, Resp, free_port

from triptych.engines.errors import (
    FatalError,
    ProviderUnavailableError,
    RetryableError,
)
from triptych.engines.providers.http import (
    ProviderHttp,
    Redactor,
    RetryPolicy,
    parse_duration,
    parse_retry_after,
)
from triptych.engines.providers.upstream import UpstreamGuard


def client(server: FakeServer, **kw) -> ProviderHttp:
    return ProviderHttp(display="Fake", base_url=server.url, auth_headers={"x-key": KEY},
                        secrets=[KEY], config=kw.pop("config", FAST), **kw)


def test_parse_retry_after_forms() -> None:
    assert parse_retry_after({"retry-after": "7"}) == 7.0
    assert parse_retry_after({"retry-after": "0.25"}) == 0.25
    assert parse_retry_after({"retry-after-ms": "1500", "retry-after": "9"}) == 1.5
    date = email.utils.formatdate(1_000_030, usegmt=True)
    assert parse_retry_after({"retry-after": date}, now=1_000_000) == pytest.approx(30)
    assert parse_retry_after({"retry-after": "soon"}) is None
    assert parse_retry_after({}) is None


def test_parse_duration_forms() -> None:
    # protobuf Duration as JSON writes it (Gemini's RetryInfo.retryDelay), and as an object
    assert parse_duration("37s") == 37.0
    assert parse_duration("1.5s") == 1.5
    assert parse_duration("0.000001s") == pytest.approx(1e-6)
    assert parse_duration("-2s") == 0.0
    assert parse_duration({"seconds": "3", "nanos": 500_000_000}) == 3.5
    for bad in ("37", "soon", "", None, 5, {"minutes": 1}):
        assert parse_duration(bad) is None


def test_a_delay_from_the_body_is_honoured(main_server: FakeServer) -> None:
    main_server.route("GET", r"/busy", Resp(json={}))
    main_server.once("GET", r"/busy", Resp(429, json={"wait": 0.3}))
    http = client(main_server, retry_after=lambda reply: (reply.json_or_none() or {}).get("wait"))
    assert http.send("GET", main_server.url + "/busy").status == 200
    first, second = main_server.calls
    assert second.at - first.at >= 0.29


def test_waits_stop_at_the_total_cap(main_server: FakeServer) -> None:
    policy = RetryPolicy(attempts=5, base_delay=0.01, max_delay=0.02, max_retry_after=5.0,
                         max_total_wait=0.5)
    main_server.route("GET", r"/busy", Resp(429, headers={"retry-after": "0.3"}))
    reply = client(main_server, config=replace(FAST, retry=policy)).send(
        "GET", main_server.url + "/busy")
    assert reply.status == 429
    assert len(main_server.calls) == 2  # 0.3 s slept; another 0.3 s would pass 0.5 s in all


def test_redactor_hides_every_secret() -> None:
    redact = Redactor([KEY, None, "ab"])  # too-short strings are not treated as secrets
    assert redact(f"x {KEY} y {KEY}") == "x *** y ***"
    assert redact("ab") == "ab"


def test_connection_refused_submit_is_retried_then_retryable(main_server: FakeServer) -> None:
    port = free_port("127.0.0.1")  # nothing listens here
    http = ProviderHttp(display="Fake", base_url=f"http://127.0.0.1:{port}",
                        auth_headers={}, secrets=[KEY], config=FAST)
    with pytest.raises(RetryableError) as info:
        http.send("POST", http.url("/submit"), json_body={})
    assert "could not be reached" in info.value.message
    assert f"after {FAST.retry.attempts} tries" in info.value.detail


def test_read_timeout_on_a_submit_is_not_repeated(main_server: FakeServer) -> None:
    main_server.route("POST", r"/submit", Resp(delay=TIGHT.read_timeout + 1))
    with pytest.raises(RetryableError):
        client(main_server, config=TIGHT).send("POST", main_server.url + "/submit", json_body={})
    assert len(main_server.calls) == 1


def test_auth_header_is_never_sent_to_an_untrusted_host(
        main_server: FakeServer, alt_server: FakeServer) -> None:
    with pytest.raises(ProviderUnavailableError):
        client(main_server).send("GET", alt_server.url + "/poll")
    assert alt_server.calls == []
    client(main_server, trusted_hosts=["127.0.0.2"]).send("GET", alt_server.url + "/poll")
    assert alt_server.calls[0].headers["x-key"] == KEY


def test_redirects_are_not_followed_with_credentials(
        main_server: FakeServer, alt_server: FakeServer) -> None:
    main_server.route("GET", r"/moved", Resp(302, headers={"location": alt_server.url + "/x"}))
    reply = client(main_server).send("GET", main_server.url + "/moved")
    assert reply.status == 302 and alt_server.calls == []


def test_download_cap_without_content_length(
        main_server: FakeServer, alt_server: FakeServer) -> None:
    alt_server.route("GET", r"/big", Resp(body=b"x" * (FAST.max_download_bytes + 10),
                                          no_length=True))
    with pytest.raises(FatalError) as info:
        client(main_server, upstream=UpstreamGuard(alt_server.allow)).download(
            alt_server.url + "/big")
    assert "larger than Triptych accepts" in info.value.message


def test_download_refuses_non_http_schemes(main_server: FakeServer) -> None:
    with pytest.raises(FatalError):
        client(main_server).download("file:///etc/passwd")


def test_bad_data_url_is_malformed(main_server: FakeServer) -> None:
    with pytest.raises(FatalError):
        client(main_server).download("data:image/png;base64,!!!notbase64")
