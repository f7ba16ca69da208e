"""The one small interface every part uses for files: datasets, teachers, shard outputs, results.

Keys are relative POSIX paths (`datasets/<id>/images/0001.png`); `check_key` refuses anything
that could escape the storage root.
"""

from __future__ import annotations

import io
import tempfile
from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import BinaryIO


class StorageError(RuntimeError):
    """The storage backend failed or refused an operation."""


class ObjectNotFound(StorageError):
    """No object has this key."""


@dataclass(frozen=True)
class SignedUrl:
    """A download URL that works without an API key until `expires_at`."""

    url: str
    expires_at: datetime


def check_key(key: str) -> str:
    """Return `key` if it is a safe relative object key; raise ValueError otherwise."""
    parts = key.split("/")
    if not key or key.startswith("/") or "\\" in key or any(p in ("", ".", "..") for p in parts):
        raise ValueError(f"unsafe storage key {key!r}")
    return key


class Storage(ABC):
    """Objects addressed by key; implementations must be safe to share between threads."""

    @abstractmethod
    def put_stream(self, key: str, stream: BinaryIO) -> None:
        """Store the rest of `stream` under `key`, in chunks (never read whole into memory)."""

    @abstractmethod
    def get_file(self, key: str, path: Path) -> None:
        """Copy the object to the local file `path`; raises ObjectNotFound."""

    @abstractmethod
    def exists(self, key: str) -> bool: ...

    @abstractmethod
    def list_keys(self, prefix: str) -> list[str]:
        """Every key that starts with `prefix` (a folder prefix ending in '/'), sorted."""

    @abstractmethod
    def delete_prefix(self, prefix: str) -> int:
        """Delete every object under `prefix`; returns how many were deleted."""

    @abstractmethod
    def signed_url(self, key: str, ttl_s: int, filename: str | None = None) -> SignedUrl:
        """A time-limited download URL for `key` (saved as `filename` by browsers)."""

    @abstractmethod
    def check(self) -> None:
        """Raise StorageError unless the backend can be used now (readiness probe)."""

    def put_bytes(self, key: str, data: bytes) -> None:
        self.put_stream(key, io.BytesIO(data))

    def put_file(self, key: str, path: Path) -> None:
        with open(path, "rb") as stream:
            self.put_stream(key, stream)

    def get_bytes(self, key: str) -> bytes:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "object"
            self.get_file(key, path)
            return path.read_bytes()

    def download_prefix(self, prefix: str, folder: Path) -> list[Path]:
        """Copy every object under `prefix` into `folder`, keeping the relative paths."""
        paths = []
        for key in self.list_keys(prefix):
            path = folder / key[len(prefix) :]
            path.parent.mkdir(parents=True, exist_ok=True)
            self.get_file(key, path)
            paths.append(path)
        return paths
