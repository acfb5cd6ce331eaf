"""Result downloads reach public addresses only (``engines/providers/upstream.py``): every
loopback, private, link-local and metadata form is refused after DNS resolution and at every
redirect, the connection goes to the address that was checked, and the operator's allow-list
lets exactly the upstreams it names through."""

from __future__ import annotations

import datetime
import ipaddress
import ssl
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from provider_fakes import FAST, KEY, FakeServer, Resp, png_bytes

from triptych.engines.errors import FatalError
from triptych.engines.providers.http import ProviderHttp
from triptych.engines.providers.upstream import (
    RefusedUpstream,
    UpstreamGuard,
    literal_address,
    refusal,
)

PNG = png_bytes()


def http(upstream: UpstreamGuard | None = None, **kw) -> ProviderHttp:
    return ProviderHttp(display="Fake", base_url="https://api.example.com", auth_headers={},
                        secrets=[KEY], config=FAST, upstream=upstream, **kw)


@pytest.fixture
def cdn(main_server: FakeServer) -> FakeServer:
    """A CDN on 127.0.0.1 serving one PNG: refused unless allow-listed."""
    main_server.route("GET", r"/img\.png", Resp(body=PNG, headers={"content-type": "image/png"}))
    return main_server


# ------------------------------------------------------------------ which addresses


@pytest.mark.parametrize("address", [
    "127.0.0.1", "127.255.0.9", "::1", "10.0.0.1", "172.16.0.1", "192.168.1.1",
    "100.64.0.1", "169.254.1.1", "169.254.169.254", "fe80::1", "fc00::1", "fd00:ec2::254",
    "0.0.0.0", "::", "224.0.0.1", "ff02::1", "240.0.0.1", "255.255.255.255", "192.0.2.1",
    "::ffff:127.0.0.1", "::ffff:10.0.0.1", "64:ff9b::7f00:1", "2002:7f00:1::",
])
def test_non_public_addresses_are_refused(address: str) -> None:
    assert refusal(ipaddress.ip_address(address)) is not None


@pytest.mark.parametrize("address", ["93.184.215.14", "8.8.8.8", "2606:4700::1111",
                                     "::ffff:8.8.8.8"])
def test_public_addresses_pass(address: str) -> None:
    assert refusal(ipaddress.ip_address(address)) is None


@pytest.mark.parametrize("written", ["127.0.0.1", "2130706433", "0x7f000001", "0177.0.0.1",
                                     "127.1", "0x7f.1", "[::1]", "[::ffff:127.0.0.1]"])
def test_every_way_of_writing_loopback_is_read_as_loopback(written: str) -> None:
    ip = literal_address(written)
    assert ip is not None and refusal(ip) == "a loopback address"


def test_names_are_not_literals() -> None:
    assert literal_address("cdn.example.com") is None
    assert literal_address("localhost") is None


# ------------------------------------------------------------------ the allow-list


def test_an_allowed_port_lets_only_that_port_through(cdn: FakeServer) -> None:
    other = FakeServer("127.0.0.1")  # the same address, another port: still refused
    other.route("GET", r"/img\.png", Resp(body=PNG))
    try:
        client = http(UpstreamGuard(cdn.allow))
        data, kind = client.download(f"{cdn.url}/img.png")
        assert data == PNG and kind == "image/png"
        with pytest.raises(FatalError):
            client.download(f"{other.url}/img.png")
        assert other.calls == []
    finally:
        other.close()


def test_metadata_addresses_are_refused_even_when_allow_listed() -> None:
    guard = UpstreamGuard("169.254.0.0/16,fd00::/8,metadata.google.internal")
    for host in ("169.254.169.254", "fd00:ec2::254", "metadata.google.internal"):
        with pytest.raises(RefusedUpstream, match="metadata"):
            guard.address_for(host, 80)
    assert str(guard.address_for("169.254.1.2", 80)) == "169.254.1.2"  # the rest of it: allowed


# ------------------------------------------------------------------ downloads


def loopback_urls(port: int) -> list[str]:
    return [f"http://{host}:{port}/img.png" for host in (
        "127.0.0.1", "2130706433", "0x7f000001", "0177.0.0.1", "127.1", "[::1]",
        "[::ffff:127.0.0.1]", "localhost", "LOCALHOST.")]


def test_every_loopback_form_is_refused_before_connecting(cdn: FakeServer) -> None:
    client = http()
    for url in loopback_urls(cdn.port):
        with pytest.raises(FatalError) as info:
            client.download(url)
        assert "private or local network" in info.value.message, url
        assert "loopback" in info.value.detail and "TRIPTYCH_UPSTREAM_ALLOW" in info.value.detail
    assert cdn.calls == []


@pytest.mark.parametrize("url", [
    "http://10.1.2.3/x.png", "http://192.168.0.10/x.png", "http://172.20.0.1/x.png",
    "http://100.64.0.1/x.png", "http://169.254.169.254/latest/meta-data/",
    "http://[fd00:ec2::254]/latest/meta-data/", "http://metadata.google.internal/x",
    "http://[fe80::1]/x.png", "http://[fc00::1]/x.png", "http://0.0.0.0/x.png",
    "http://224.0.0.1/x.png", "https://240.0.0.1/x.png",
])
def test_private_link_local_and_metadata_urls_are_refused(url: str) -> None:
    with pytest.raises(FatalError) as info:
        http().download(url)
    assert "private or local network" in info.value.message


def test_a_name_that_resolves_inside_is_refused(cdn: FakeServer) -> None:
    resolved: list[str] = []

    def resolver(host: str, port: int) -> list[str]:
        resolved.append(host)
        return ["93.184.215.14", "127.0.0.1"]  # one bad address is enough to refuse

    with pytest.raises(FatalError) as info:
        http(UpstreamGuard(resolver=resolver)).download(f"http://cdn.example.com:{cdn.port}/x")
    assert "cdn.example.com (127.0.0.1) is a loopback address" in info.value.detail
    assert resolved == ["cdn.example.com"] and cdn.calls == []


def test_the_checked_address_is_the_one_connected_to(cdn: FakeServer) -> None:
    # The name does not exist in DNS: the download works only if it connects to the address
    # the guard resolved and checked, not to a second resolution. Host keeps the name.
    answers = iter([["127.0.0.1"], ["10.9.9.9"]])  # a rebinding resolver: second answer differs
    guard = UpstreamGuard(f"images.example.test:{cdn.port}",
                          resolver=lambda host, port: next(answers))
    data, _ = http(guard).download(f"http://images.example.test:{cdn.port}/img.png")
    assert data == PNG
    assert cdn.calls[0].headers["host"] == f"images.example.test:{cdn.port}"


def test_redirects_are_followed_and_every_hop_is_checked(
        cdn: FakeServer, alt_server: FakeServer) -> None:
    target = f"{cdn.url}/img.png"  # loopback and not allow-listed
    alt_server.route("GET", r"/a", Resp(302, headers={"location": "/b"}))
    alt_server.route("GET", r"/b", Resp(307, headers={"location": target}))
    alt_server.route("GET", r"/numeric", Resp(301, headers={
        "location": f"http://2130706433:{cdn.port}/img.png"}))
    alt_server.route("GET", r"/local", Resp(302, headers={
        "location": f"http://localhost:{cdn.port}/img.png"}))
    alt_server.route("GET", r"/meta", Resp(302, headers={
        "location": "http://169.254.169.254/latest/meta-data/iam/"}))
    alt_server.route("GET", r"/file", Resp(302, headers={"location": "file:///etc/passwd"}))
    client = http(UpstreamGuard(alt_server.allow))
    for path in ("/a", "/numeric", "/local", "/meta"):
        with pytest.raises(FatalError) as info:
            client.download(alt_server.url + path)
        assert "private or local network" in info.value.message
        assert "redirect" in info.value.detail
    with pytest.raises(FatalError, match="unusable redirect"):
        client.download(alt_server.url + "/file")
    assert cdn.calls == []
    assert [c.path for c in alt_server.calls[:2]] == ["/a", "/b"]

    # Once the operator allows the CDN too, the same chain arrives.
    allowed = http(UpstreamGuard(f"{alt_server.allow},{cdn.allow}"))
    assert allowed.download(alt_server.url + "/a")[0] == PNG


def test_redirects_are_bounded(alt_server: FakeServer) -> None:
    alt_server.route("GET", r"/loop", Resp(302, headers={"location": "/loop"}))
    with pytest.raises(FatalError) as info:
        http(UpstreamGuard(alt_server.allow)).download(alt_server.url + "/loop")
    assert f"more than {FAST.max_redirects} redirects" in info.value.detail
    assert len(alt_server.calls) == FAST.max_redirects + 1


@pytest.mark.parametrize("url", ["http://cdn.example.com:99999/x", "http://[::1/x",
                                 "http://[::1]:80x/x"])
def test_a_malformed_url_is_an_unusable_result(url: str) -> None:
    with pytest.raises(FatalError, match="unusable result URL"):
        http().download(url)


def test_an_unresolvable_name_is_a_retryable_connection_failure() -> None:
    def resolver(host: str, port: int) -> list[str]:
        raise OSError("Name or service not known")

    from triptych.engines.errors import RetryableError

    with pytest.raises(RetryableError):
        http(UpstreamGuard(resolver=resolver)).download("http://nowhere.example.com/x.png")


# ------------------------------------------------------------------ TLS keeps the name


def _certificate(tmp: Path, name: str) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = tmp / "cert.pem", tmp / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


@pytest.fixture
def tls_cdn(tmp_path: Path) -> Iterator[tuple[int, Path, list[str | None], list[str]]]:
    name = "images.example.test"
    cert, key = _certificate(tmp_path, name)
    snis: list[str | None] = []
    hosts: list[str] = []
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    context.sni_callback = lambda sock, server_name, ctx: snis.append(server_name)

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

        def do_GET(self) -> None:
            hosts.append(self.headers["host"])
            self.send_response(200)
            self.send_header("content-type", "image/png")
            self.send_header("content-length", str(len(PNG)))
            self.end_headers()
            self.wfile.write(PNG)

    server = ThreadingHTTPServer(("127.0.0.2", 0), Handler)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1], cert, snis, hosts
    server.shutdown()
    server.server_close()


def test_tls_sends_the_name_for_sni_and_checks_the_certificate_against_it(tls_cdn) -> None:
    port, cert, snis, hosts = tls_cdn
    trust = ssl.create_default_context(cafile=str(cert))
    guard = UpstreamGuard(f"images.example.test:{port}",
                          resolver=lambda host, p: ["127.0.0.2"])
    client = http(guard, transport=httpx.HTTPTransport(verify=trust))
    data, _ = client.download(f"https://images.example.test:{port}/img.png")
    assert data == PNG
    assert snis == ["images.example.test"] and hosts == [f"images.example.test:{port}"]
