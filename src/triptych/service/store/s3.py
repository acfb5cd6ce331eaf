"""The S3-compatible backend (AWS S3, MinIO, Ceph, R2…), for workers on other machines.

``TRIPTYCH_STORE_URL=s3://bucket/prefix`` picks it; ``TRIPTYCH_S3_ENDPOINT_URL`` points at a
non-AWS server; credentials and region come from boto3's usual chain (``AWS_ACCESS_KEY_ID``,
``AWS_SECRET_ACCESS_KEY``, ``AWS_DEFAULT_REGION``, profiles, instance roles), never from
Triptych's settings. Objects are ``<prefix>/<sha[:2]>/<sha>.<ext>``; the location kept in the
database is ``s3://bucket/key``.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import boto3
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionError,
    NoCredentialsError,
)

from triptych.service.store.base import MEDIA_TYPES, SHARD, StoredObject, content_key
from triptych.service.store.errors import (
    ObjectMissing,
    read_failed,
    save_failed,
    unavailable,
)

MISSING = {"404", "NoSuchKey", "NotFound"}
REASONS = {  # S3 error codes users can act on (through their operator)
    "NoSuchBucket": "the storage bucket does not exist",
    "AccessDenied": "access to the storage bucket was denied",
    "InvalidAccessKeyId": "the storage credentials were refused",
    "SignatureDoesNotMatch": "the storage credentials were refused",
    "QuotaExceeded": "the storage quota is used up",
    "SlowDown": "the storage service is overloaded",
}


def _reason(exc: Exception) -> str:
    if isinstance(exc, ClientError):
        code = exc.response.get("Error", {}).get("Code", "")
        return REASONS.get(code, f"the storage service answered {code or 'an error'}")
    if isinstance(exc, NoCredentialsError):
        return "no storage credentials are configured"
    if isinstance(exc, ConnectionError):
        return "the storage service is unreachable"
    return "the storage service failed"


def _is_missing(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code", "") in MISSING


def _naive_utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None)


def parse_location(location: str) -> tuple[str, str]:
    """``s3://bucket/key`` → ``(bucket, key)``; ValueError for anything else."""
    if not location.startswith("s3://"):
        raise ValueError(f"{location!r} is not an s3:// location")
    bucket, _, key = location[len("s3://"):].partition("/")
    if not bucket or not key:
        raise ValueError(f"{location!r} names no object")
    return bucket, key


class S3Store:
    def __init__(self, bucket: str, prefix: str = "", *, client=None) -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.client = client or boto3.client("s3")

    @classmethod
    def from_url(cls, url: str, *, endpoint_url: str | None = None) -> S3Store:
        if not url.startswith("s3://") or not url[len("s3://"):].split("/")[0]:
            raise ValueError(f"an S3 store URL is s3://bucket[/prefix], not {url!r}")
        bucket, _, prefix = url[len("s3://"):].partition("/")
        config = Config(
            connect_timeout=5, read_timeout=30, retries={"max_attempts": 3, "mode": "standard"},
            # Self-hosted servers rarely have per-bucket DNS names: address them by path.
            s3={"addressing_style": "path" if endpoint_url else "auto"},
        )
        return cls(bucket, prefix,
                   client=boto3.client("s3", endpoint_url=endpoint_url, config=config))

    def __repr__(self) -> str:
        return f"S3Store('s3://{self.bucket}/{self.prefix}')"

    def _key(self, relative: str) -> str:
        return f"{self.prefix}/{relative}" if self.prefix else relative

    def _location(self, key: str) -> str:
        return f"s3://{self.bucket}/{key}"

    def put(self, data: bytes, ext: str = "png") -> tuple[str, str]:
        sha, relative = content_key(data, ext)
        key = self._key(relative)
        # Always written, never "if absent": rewriting identical bytes is harmless and
        # refreshes LastModified, which keeps the sweeper off an object a job is about to use.
        # An upload is atomic: nobody ever reads half an object.
        try:
            self.client.put_object(Bucket=self.bucket, Key=key, Body=data,
                                   ContentType=MEDIA_TYPES.get(ext, "application/octet-stream"))
        except (BotoCoreError, ClientError) as exc:
            raise save_failed(_reason(exc), repr(exc)) from exc
        return sha, self._location(key)

    def _parse(self, location: str) -> tuple[str, str]:
        try:
            return parse_location(location)
        except ValueError:
            # e.g. a local path from before the move to object storage: not reachable here
            raise ObjectMissing(location) from None

    def read(self, location: str) -> bytes:
        bucket, key = self._parse(location)
        try:
            return self.client.get_object(Bucket=bucket, Key=key)["Body"].read()
        except ClientError as exc:
            if _is_missing(exc):
                raise ObjectMissing(location) from None
            raise read_failed(_reason(exc), repr(exc)) from exc
        except BotoCoreError as exc:
            raise read_failed(_reason(exc), repr(exc)) from exc

    def _modified(self, bucket: str, key: str) -> datetime | None:
        try:
            head = self.client.head_object(Bucket=bucket, Key=key)
        except ClientError as exc:
            if _is_missing(exc):
                return None
            raise unavailable(_reason(exc), repr(exc)) from exc
        except BotoCoreError as exc:
            raise unavailable(_reason(exc), repr(exc)) from exc
        return _naive_utc(head["LastModified"])

    def exists(self, location: str) -> bool:
        try:
            bucket, key = parse_location(location)
        except ValueError:
            return False
        return self._modified(bucket, key) is not None

    def delete(self, location: str, *, if_older_than: datetime | None = None) -> bool:
        try:
            bucket, key = parse_location(location)
        except ValueError:  # a local path from before the move: not ours to delete
            return False
        modified = self._modified(bucket, key)
        if modified is None or (if_older_than is not None and modified >= if_older_than):
            return False
        try:
            self.client.delete_object(Bucket=bucket, Key=key)
        except (BotoCoreError, ClientError) as exc:
            raise unavailable(_reason(exc), repr(exc)) from exc
        return True

    def iter_locations(self) -> Iterator[StoredObject]:
        start = f"{self.prefix}/" if self.prefix else ""
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket,
                                                                      Prefix=start)
        try:
            for page in pages:
                for item in page.get("Contents", []):
                    shard, _, name = item["Key"][len(start):].partition("/")
                    if SHARD.fullmatch(shard) and name.startswith(shard) and "/" not in name:
                        yield StoredObject(self._location(item["Key"]),
                                           _naive_utc(item["LastModified"]))
        except (BotoCoreError, ClientError) as exc:
            raise unavailable(_reason(exc), repr(exc)) from exc

    def check(self) -> None:
        """Write and remove a probe object: proves the bucket exists, the credentials work
        and they may write, which a HEAD on the bucket alone would not."""
        probe = self._key(f"readiness/{uuid.uuid4().hex}")
        try:
            self.client.put_object(Bucket=self.bucket, Key=probe, Body=b"ok")
            self.client.delete_object(Bucket=self.bucket, Key=probe)
        except (BotoCoreError, ClientError) as exc:
            raise unavailable(_reason(exc), repr(exc)) from exc
