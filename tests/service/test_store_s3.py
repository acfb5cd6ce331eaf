"""The S3 store against a real S3-speaking HTTP server on 127.0.0.1 (moto's server mode): the
same calls boto3 makes to AWS, MinIO or Ceph, over a socket."""

from __future__ import annotations

import hashlib
import io
import uuid
from collections.abc import Iterator
from datetime import timedelta

import boto3
import pytest
from fastapi.testclient import TestClient
from moto.server import ThreadedMotoServer
from PIL import Image
from tests.web.conftest import fast_config, make_key

from triptych.client import Triptych
from triptych.errors import JobFailed
from triptych.service.clock import utc_now
from triptych.service.provenance import read_record
from triptych.service.store import ObjectMissing, StoreError, make_store
from triptych.service.store.s3 import S3Store
from triptych.service.store_gc import collect_orphans
from triptych.settings import Settings
from triptych.web.app import create_app


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def bucket(s3_endpoint, monkeypatch) -> str:
    """A fresh bucket; credentials the way an operator gives them, in AWS_* variables."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test-key")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test-secret")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    name = f"triptych-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=s3_endpoint).create_bucket(Bucket=name)
    return name


def s3_settings(tmp_path, endpoint: str, bucket: str) -> Settings:
    return Settings(home=tmp_path / "home", store_url=f"s3://{bucket}/images",
                    s3_endpoint_url=endpoint, _env_file=None)


def test_put_read_iterate_delete(tmp_path, s3_endpoint, bucket):
    store = make_store(s3_settings(tmp_path, s3_endpoint, bucket))
    assert isinstance(store, S3Store)
    store.check()
    sha, location = store.put(b"\x89PNG fake", "png")
    assert sha == hashlib.sha256(b"\x89PNG fake").hexdigest()
    assert location == f"s3://{bucket}/images/{sha[:2]}/{sha}.png"
    assert store.put(b"\x89PNG fake", "png") == (sha, location)  # idempotent
    assert store.read(location) == b"\x89PNG fake" and store.exists(location)
    _, svg = store.put(b"<svg/>", "svg")
    head = boto3.client("s3", endpoint_url=s3_endpoint).head_object(
        Bucket=bucket, Key=svg.split("/", 3)[3])
    assert head["ContentType"] == "image/svg+xml"
    listed = {o.location: o.modified for o in store.iter_locations()}
    assert set(listed) == {location, svg}  # the readiness probe left nothing behind
    assert all(abs(m - utc_now()) < timedelta(hours=1) for m in listed.values())
    assert store.delete(location, if_older_than=utc_now() - timedelta(hours=1)) is False
    assert store.delete(location) is True and not store.exists(location)
    assert store.delete(location) is False
    with pytest.raises(ObjectMissing):
        store.read(location)
    legacy = str(tmp_path / "ab" / "abc.png")  # a local path from before the move to S3
    with pytest.raises(ObjectMissing):
        store.read(legacy)
    assert not store.exists(legacy) and store.delete(legacy) is False


def test_missing_bucket_and_unreachable_server_raise_store_error(tmp_path, s3_endpoint,
                                                                   bucket):
    missing = make_store(s3_settings(tmp_path, s3_endpoint, bucket + "-gone"))
    with pytest.raises(StoreError) as info:
        missing.put(b"data")
    assert info.value.message == ("Could not save the image: the storage bucket does not "
                                  "exist.")
    with pytest.raises(StoreError, match="unavailable"):
        missing.check()
    closed = socket_nobody_listens_on()
    down = make_store(s3_settings(tmp_path, closed, bucket))
    with pytest.raises(StoreError) as info:
        down.put(b"data")
    assert info.value.message == "Could not save the image: the storage service is unreachable."
    assert closed not in info.value.message and closed in info.value.detail


def socket_nobody_listens_on() -> str:
    import socket

    with socket.socket() as sock:  # bound then closed: connections are refused at once
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def test_a_job_stores_to_s3_and_reads_back_through_the_facade(tmp_path, s3_endpoint, bucket,
                                                               clock, fake_catalog,
                                                               fake_factory):
    tp = Triptych(s3_settings(tmp_path, s3_endpoint, bucket), clock=clock,
                  catalog=fake_catalog)
    out = tp.generate("a red circle", "fake-general", seed=3)
    [location] = out.locations
    assert location.startswith(f"s3://{bucket}/images/")
    assert not (tmp_path / "home" / "images").exists()  # nothing went to local disk
    with pytest.raises(ValueError, match="object storage"):
        out.paths  # noqa: B018 - a remote image has no local path
    data = tp.image_bytes(out.images[0]["id"])
    assert hashlib.sha256(data).hexdigest() == out.images[0]["sha256"]
    assert read_record(io.BytesIO(data))["seed"] == 3
    assert tp.credits()["available"] == 45 and tp.verify_ledger() == []

    compared = tp.compare("a blue square", ["fake-draft", "fake-general"], seed=5)
    assert compared.sheet_location.startswith(f"s3://{bucket}/images/")
    with Image.open(io.BytesIO(tp.sheet_bytes(compared.id))) as sheet:
        assert sheet.width > sheet.height  # side by side

    # The HTTP API serves the same bytes from the bucket.
    alice = make_key(tp, "alice@example.com")
    mine = tp.as_user("alice@example.com").generate("a green frog", "fake-draft")
    with TestClient(create_app(tp, fast_config())) as client:
        served = client.get(f"/v1/images/{mine.images[0]['id']}/content", headers=alice)
        assert served.status_code == 200
        assert served.content == tp.as_user("alice@example.com").image_bytes(
            mine.images[0]["id"])


def test_a_job_whose_bucket_is_gone_fails_and_refunds(tmp_path, s3_endpoint, bucket, clock,
                                                     fake_catalog, fake_factory):
    settings = s3_settings(tmp_path, s3_endpoint, bucket + "-gone")
    tp = Triptych(settings, clock=clock, catalog=fake_catalog)
    with pytest.raises(JobFailed) as info:
        tp.generate("a red circle", "fake-general")
    assert info.value.fields["reason"] == "storage_failed"
    assert info.value.message == ("Could not save the image: the storage bucket does not "
                                  "exist. Nothing was charged.")
    assert tp.credits()["available"] == 50 and tp.verify_ledger() == []


def test_gc_on_s3_deletes_only_old_orphans(tmp_path, s3_endpoint, bucket, clock,
                                           fake_catalog, fake_factory):
    tp = Triptych(s3_settings(tmp_path, s3_endpoint, bucket), clock=clock,
                  catalog=fake_catalog)
    kept = tp.generate("a red circle", "fake-general").locations[0]
    _, orphan = tp.ctx.store.put(b"a file no row names")
    grace = timedelta(hours=1)
    # S3 sets LastModified itself, so "old" is reached by sweeping from the future.
    assert collect_orphans(tp.ctx.sessions, tp.ctx.store, grace, now=utc_now()) == []
    later = utc_now() + timedelta(hours=2)
    assert collect_orphans(tp.ctx.sessions, tp.ctx.store, grace, now=later) == [orphan]
    assert tp.ctx.store.exists(kept) and not tp.ctx.store.exists(orphan)
