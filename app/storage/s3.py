"""Objects in one S3 bucket through boto3; downloads are S3 presigned GET URLs (SigV4).

`public_endpoint_url` is the address clients reach (e.g. http://localhost:9000 for a MinIO in
compose) when it differs from the one the service uses inside its network; presigning needs no
request, so a second client signs for the public address.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import BinaryIO, TypeVar

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotoConnectionError

from app.storage.base import ObjectNotFound, SignedUrl, Storage, StorageError, check_key

log = logging.getLogger(__name__)
T = TypeVar("T")

_TRANSFER = TransferConfig(
    multipart_threshold=16 * 1024 * 1024, multipart_chunksize=16 * 1024 * 1024, max_concurrency=4
)
# Connections kept open to the server: enough for several uploads' threads putting at once.
_CONNECTIONS = 32
_NOT_FOUND = {"404", "NoSuchKey", "NotFound"}
# Answers that say "later", not "no" (throttling and server errors; botocore retries them too).
_TRANSIENT_CODES = {
    "SlowDown",
    "Throttling",
    "ThrottlingException",
    "RequestTimeout",
    "InternalError",
    "ServiceUnavailable",
}
_FIRST_DELAY_S, _LONGEST_DELAY_S = 0.5, 8.0


class _KeepOpen:
    """The stream with a `close` that does nothing: s3transfer closes what it was given when an
    upload fails, and a retry has to read the stream again."""

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream

    def __getattr__(self, name: str):
        return getattr(self._stream, name)

    def close(self) -> None:
        pass


def is_transient(error: Exception) -> bool:
    """A connection that failed or broke, a timeout, throttling or a 5xx: worth another try."""
    if isinstance(error, BotoConnectionError | HTTPClientError):
        return True
    if isinstance(error, ClientError):
        details = error.response.get("Error", {})
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
        return details.get("Code") in _TRANSIENT_CODES or status >= 500
    return False


class S3Storage(Storage):
    def __init__(
        self,
        bucket: str,
        endpoint_url: str | None,
        access_key_id: str | None,
        secret_access_key: str | None,
        region: str,
        public_endpoint_url: str | None = None,
        retry_s: float = 60.0,
    ) -> None:
        self.bucket = bucket
        self.retry_s = retry_s

        def client(endpoint: str | None):
            return boto3.client(
                "s3",
                endpoint_url=endpoint,
                aws_access_key_id=access_key_id,
                aws_secret_access_key=secret_access_key,
                region_name=region,
                config=Config(
                    signature_version="s3v4",
                    s3={"addressing_style": "path"},
                    retries={"max_attempts": 5, "mode": "standard"},
                    connect_timeout=5,
                    max_pool_connections=_CONNECTIONS,
                    read_timeout=60,
                ),
            )

        self.client = client(endpoint_url)
        self.presign_client = client(public_endpoint_url or endpoint_url)

    def _retrying(self, what: str, operation: Callable[[], T]) -> T:
        """Run `operation`; while it fails for a transient reason, run it again after a back-off
        (0.5 s doubling to 8 s) for up to `retry_s` seconds in all. botocore's own retries
        (standard mode) answer short blips within one try; this outlives a restarting server."""
        deadline = time.monotonic() + self.retry_s
        delay = _FIRST_DELAY_S
        while True:
            try:
                return operation()
            except (BotoCoreError, ClientError) as error:
                if not is_transient(error) or time.monotonic() + delay > deadline:
                    raise
                log.warning("S3 %s failed (%s); retrying in %.1fs", what, error, delay)
                time.sleep(delay)
                delay = min(delay * 2, _LONGEST_DELAY_S)

    def put_stream(self, key: str, stream: BinaryIO) -> None:
        check_key(key)
        start = stream.tell() if stream.seekable() else None

        def upload() -> None:
            if start is not None:
                stream.seek(start)
            self.client.upload_fileobj(_KeepOpen(stream), self.bucket, key, Config=_TRANSFER)

        try:
            if start is None:  # a stream read once cannot be sent again
                upload()
            else:
                self._retrying(f"put {key}", upload)
        except (BotoCoreError, ClientError) as error:
            raise StorageError(f"cannot store {key}: {error}") from error

    def put_bytes(self, key: str, data: bytes) -> None:
        """One PUT for an object below the multipart size (no transfer manager, no threads of
        its own: uploads call this from their own thread pool); larger ones go by parts."""
        if len(data) >= _TRANSFER.multipart_threshold:
            super().put_bytes(key, data)
            return
        check_key(key)
        try:
            self._retrying(
                f"put {key}",
                lambda: self.client.put_object(Bucket=self.bucket, Key=key, Body=data),
            )
        except (BotoCoreError, ClientError) as error:
            raise StorageError(f"cannot store {key}: {error}") from error

    def get_file(self, key: str, path: Path) -> None:
        check_key(key)
        try:
            self._retrying(
                f"get {key}",
                lambda: self.client.download_file(self.bucket, key, str(path), Config=_TRANSFER),
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in _NOT_FOUND:
                raise ObjectNotFound(key) from error
            raise StorageError(f"cannot read {key}: {error}") from error
        except BotoCoreError as error:
            raise StorageError(f"cannot read {key}: {error}") from error

    def exists(self, key: str) -> bool:
        check_key(key)
        try:
            self._retrying(
                f"head {key}", lambda: self.client.head_object(Bucket=self.bucket, Key=key)
            )
            return True
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in _NOT_FOUND:
                return False
            raise StorageError(f"cannot check {key}: {error}") from error
        except BotoCoreError as error:
            raise StorageError(f"cannot check {key}: {error}") from error

    def list_keys(self, prefix: str) -> list[str]:
        def listing() -> list[str]:
            keys: list[str] = []
            paginator = self.client.get_paginator("list_objects_v2")
            for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
                keys.extend(item["Key"] for item in page.get("Contents", []))
            return sorted(keys)

        try:
            return self._retrying(f"list {prefix}", listing)
        except (BotoCoreError, ClientError) as error:
            raise StorageError(f"cannot list {prefix}: {error}") from error

    def delete_prefix(self, prefix: str) -> int:
        keys = self.list_keys(prefix)
        for start in range(0, len(keys), 1000):
            batch = [{"Key": key} for key in keys[start : start + 1000]]
            delete = {"Objects": batch, "Quiet": True}
            try:
                self._retrying(
                    f"delete {prefix}",
                    partial(self.client.delete_objects, Bucket=self.bucket, Delete=delete),
                )
            except (BotoCoreError, ClientError) as error:
                raise StorageError(f"cannot delete {prefix}: {error}") from error
        return len(keys)

    def signed_url(self, key: str, ttl_s: int, filename: str | None = None) -> SignedUrl:
        params = {"Bucket": self.bucket, "Key": check_key(key)}
        if filename:
            params["ResponseContentDisposition"] = f'attachment; filename="{filename}"'
        url = self.presign_client.generate_presigned_url(
            "get_object", Params=params, ExpiresIn=ttl_s
        )
        return SignedUrl(url=url, expires_at=datetime.now(UTC) + timedelta(seconds=ttl_s))

    def ensure_bucket(self) -> None:
        """Create the bucket if it does not exist (development and tests)."""
        try:
            self.client.head_bucket(Bucket=self.bucket)
        except ClientError:
            self.client.create_bucket(Bucket=self.bucket)

    def check(self) -> None:
        try:
            self.client.head_bucket(Bucket=self.bucket)
        except (BotoCoreError, ClientError) as error:
            raise StorageError(f"bucket {self.bucket!r} is not reachable: {error}") from error
