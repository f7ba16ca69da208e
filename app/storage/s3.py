"""Objects in one S3 bucket through boto3; downloads are S3 presigned GET URLs (SigV4).

`public_endpoint_url` is the address clients reach (e.g. http://localhost:9000 for a MinIO in
compose) when it differs from the one the service uses inside its network; presigning needs no
request, so a second client signs for the public address.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import BinaryIO

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from app.storage.base import ObjectNotFound, SignedUrl, Storage, StorageError, check_key

_TRANSFER = TransferConfig(multipart_chunksize=16 * 1024 * 1024, max_concurrency=4)
_NOT_FOUND = {"404", "NoSuchKey", "NotFound"}


class S3Storage(Storage):
    def __init__(
        self,
        bucket: str,
        endpoint_url: str | None,
        access_key_id: str | None,
        secret_access_key: str | None,
        region: str,
        public_endpoint_url: str | None = None,
    ) -> None:
        self.bucket = bucket

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
                    read_timeout=60,
                ),
            )

        self.client = client(endpoint_url)
        self.presign_client = client(public_endpoint_url or endpoint_url)

    def put_stream(self, key: str, stream: BinaryIO) -> None:
        try:
            self.client.upload_fileobj(stream, self.bucket, check_key(key), Config=_TRANSFER)
        except (BotoCoreError, ClientError) as error:
            raise StorageError(f"cannot store {key}: {error}") from error

    def get_file(self, key: str, path: Path) -> None:
        try:
            self.client.download_file(self.bucket, check_key(key), str(path), Config=_TRANSFER)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in _NOT_FOUND:
                raise ObjectNotFound(key) from error
            raise StorageError(f"cannot read {key}: {error}") from error
        except BotoCoreError as error:
            raise StorageError(f"cannot read {key}: {error}") from error

    def exists(self, key: str) -> bool:
        try:
            self.client.head_object(Bucket=self.bucket, Key=check_key(key))
            return True
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in _NOT_FOUND:
                return False
            raise StorageError(f"cannot check {key}: {error}") from error

    def list_keys(self, prefix: str) -> list[str]:
        keys: list[str] = []
        paginator = self.client.get_paginator("list_objects_v2")
        try:
            for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
                keys.extend(item["Key"] for item in page.get("Contents", []))
        except (BotoCoreError, ClientError) as error:
            raise StorageError(f"cannot list {prefix}: {error}") from error
        return sorted(keys)

    def delete_prefix(self, prefix: str) -> int:
        keys = self.list_keys(prefix)
        for start in range(0, len(keys), 1000):
            batch = [{"Key": key} for key in keys[start : start + 1000]]
            try:
                self.client.delete_objects(
                    Bucket=self.bucket, Delete={"Objects": batch, "Quiet": True}
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
