"""`make_storage(settings)` picks the backend the settings name."""

from __future__ import annotations

from app.config import Settings
from app.storage.base import ObjectNotFound, SignedUrl, Storage, StorageError, check_key

__all__ = ["ObjectNotFound", "SignedUrl", "Storage", "StorageError", "check_key", "make_storage"]


def make_storage(settings: Settings) -> Storage:
    if settings.storage_backend == "s3":
        from app.storage.s3 import S3Storage

        storage = S3Storage(
            bucket=settings.s3_bucket,
            endpoint_url=settings.s3_endpoint_url,
            access_key_id=settings.s3_access_key_id,
            secret_access_key=settings.s3_secret_access_key,
            region=settings.s3_region,
            public_endpoint_url=settings.s3_public_endpoint_url,
            retry_s=settings.storage_retry_s,
        )
        if settings.s3_create_bucket:
            storage.ensure_bucket()
        return storage
    from app.storage.local import LocalStorage

    return LocalStorage(settings.local_storage_dir, settings.secret_key, settings.base_url)
