"""Files under one folder; downloads go through the API's `/downloads/...` route with an
HMAC-SHA256 signature over (key, expiry, filename), so a link cannot be altered or outlive
its expiry.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO
from urllib.parse import quote, urlencode

from app.storage.base import ObjectNotFound, SignedUrl, Storage, StorageError, check_key

DOWNLOAD_ROUTE = "/downloads"


class SignatureError(ValueError):
    """A local download link is expired, altered or unsigned."""


def sign(secret: str, key: str, expires: int, filename: str) -> str:
    message = f"{key}\n{expires}\n{filename}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def verify(secret: str, key: str, expires: int, filename: str, signature: str) -> None:
    """Raise SignatureError unless `signature` is ours for these values and not expired."""
    expected = sign(secret, key, expires, filename)
    # Bytes, since compare_digest refuses str with non-ASCII characters (a 500 before).
    if not hmac.compare_digest(expected.encode(), signature.encode("utf-8", "replace")):
        raise SignatureError("the download link's signature is invalid")
    if time.time() > expires:
        raise SignatureError("the download link has expired")


class LocalStorage(Storage):
    """Objects are files under `root`; writes go through a temporary file and a rename."""

    def __init__(self, root: Path, secret: str, base_url: str) -> None:
        self.root = root.resolve()
        self.secret = secret
        self.base_url = base_url.rstrip("/")

    def path_of(self, key: str) -> Path:
        return self.root / check_key(key)

    def put_stream(self, key: str, stream: BinaryIO) -> None:
        self._write(key, lambda target: shutil.copyfileobj(stream, target, 1024 * 1024))

    def put_bytes(self, key: str, data: bytes) -> None:
        """Written as it is (no copy through a stream)."""
        self._write(key, lambda target: target.write(data))

    def _write(self, key: str, write: Callable[[BinaryIO], object]) -> None:
        """`write` fills a temporary file beside the object, which then replaces it."""
        path = self.path_of(key)
        os.makedirs(path.parent, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".upload-")
        try:
            with os.fdopen(fd, "wb") as target:
                write(target)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def get_file(self, key: str, path: Path) -> None:
        source = self.path_of(key)
        if not source.is_file():
            raise ObjectNotFound(key)
        shutil.copyfile(source, path)

    def get_bytes(self, key: str) -> bytes:
        source = self.path_of(key)
        if not source.is_file():
            raise ObjectNotFound(key)
        return source.read_bytes()

    def exists(self, key: str) -> bool:
        return self.path_of(key).is_file()

    def list_keys(self, prefix: str) -> list[str]:
        folder = self.root / check_key(prefix.rstrip("/"))
        if not folder.is_dir():
            return []
        return sorted(
            path.relative_to(self.root).as_posix()
            for path in folder.rglob("*")
            if path.is_file() and not path.name.startswith(".upload-")
        )

    def delete_prefix(self, prefix: str) -> int:
        keys = self.list_keys(prefix)
        folder = self.root / check_key(prefix.rstrip("/"))
        shutil.rmtree(folder, ignore_errors=True)
        return len(keys)

    def signed_url(self, key: str, ttl_s: int, filename: str | None = None) -> SignedUrl:
        check_key(key)
        expires = int(time.time()) + ttl_s
        filename = filename or key.rsplit("/", 1)[-1]
        query = urlencode(
            {
                "expires": expires,
                "filename": filename,
                "signature": sign(self.secret, key, expires, filename),
            }
        )
        url = f"{self.base_url}{DOWNLOAD_ROUTE}/{quote(key)}?{query}"
        return SignedUrl(url=url, expires_at=datetime.fromtimestamp(expires, UTC))

    def check(self) -> None:
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=self.root, prefix=".upload-check-"):
                pass
        except OSError as error:
            raise StorageError(f"local storage {self.root} is not writable: {error}") from error
