"""S3 operations outlive a storage blip: the SeaweedFS server is SIGKILLed while they run and
started again about 10 s later; every operation then succeeds (retried with back-off) instead of
failing with EndpointConnectionError."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from app.storage import StorageError
from app.storage.s3 import S3Storage
from tests.conftest_service import WeedServer

OUTAGE_S = 10


@pytest.fixture
def weed(tmp_path):
    server = WeedServer(tmp_path)
    server.start()
    yield server
    server.stop()


def _storage(weed: WeedServer, retry_s: float) -> S3Storage:
    server = weed.server
    return S3Storage(
        server.bucket,
        server.endpoint,
        server.access_key,
        server.secret_key,
        "us-east-1",
        retry_s=retry_s,
    )


def test_operations_during_an_outage_succeed_once_s3_is_back(weed, tmp_path):
    storage = _storage(weed, retry_s=120)
    storage.put_bytes("blip/old.bin", b"old")
    weed.kill()
    restarted = threading.Timer(OUTAGE_S, weed.start)
    restarted.start()
    operations = {
        "exists": lambda: storage.exists("blip/old.bin"),
        "missing": lambda: storage.exists("blip/none.bin"),
        "get": lambda: storage.get_bytes("blip/old.bin"),
        "put": lambda: storage.put_bytes("blip/new.bin", b"new"),
        "list": lambda: storage.list_keys("blip/"),
    }
    try:
        with ThreadPoolExecutor(len(operations)) as pool:
            futures = {name: pool.submit(call) for name, call in operations.items()}
            results = {name: future.result(timeout=180) for name, future in futures.items()}
    finally:
        restarted.join()
    assert results["exists"] is True and results["missing"] is False
    assert results["get"] == b"old"
    assert "blip/old.bin" in results["list"]
    assert storage.get_bytes("blip/new.bin") == b"new"
    assert storage.delete_prefix("blip/") == 2


def test_a_longer_outage_ends_in_a_storage_error_not_a_crash(weed):
    storage = _storage(weed, retry_s=2)
    weed.kill()
    with pytest.raises(StorageError):
        storage.exists("blip/old.bin")
    with pytest.raises(StorageError):
        storage.list_keys("blip/")
