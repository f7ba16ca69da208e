"""Both storage backends against real servers: round trips, and signed URLs that stop working
once expired or altered."""

from __future__ import annotations

import time
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from fastapi.testclient import TestClient

from app.storage import ObjectNotFound, check_key
from app.storage.s3 import S3Storage


@pytest.fixture(scope="module")
def s3(s3_server) -> S3Storage:
    return S3Storage(
        s3_server.bucket,
        s3_server.endpoint,
        s3_server.access_key,
        s3_server.secret_key,
        "us-east-1",
    )


@pytest.fixture
def local_client(local_settings):
    from app.main import create_app

    with TestClient(create_app(local_settings)) as client:
        yield client


def _round_trip(storage, prefix: str, tmp_path) -> None:
    storage.put_bytes(f"{prefix}a/one.bin", b"one")
    source = tmp_path / "two.bin"
    source.write_bytes(b"two" * 100_000)
    storage.put_file(f"{prefix}a/b/two.bin", source)
    assert storage.list_keys(prefix) == [f"{prefix}a/b/two.bin", f"{prefix}a/one.bin"]
    assert storage.exists(f"{prefix}a/one.bin") and not storage.exists(f"{prefix}a/none")
    assert storage.get_bytes(f"{prefix}a/b/two.bin") == b"two" * 100_000
    copied = storage.download_prefix(f"{prefix}a/", tmp_path / "copy")
    assert sorted(p.relative_to(tmp_path / "copy").as_posix() for p in copied) == [
        "b/two.bin",
        "one.bin",
    ]
    with pytest.raises(ObjectNotFound):
        storage.get_file(f"{prefix}missing", tmp_path / "missing")
    assert storage.delete_prefix(prefix) == 2
    assert storage.list_keys(prefix) == []


def test_s3_round_trip(s3, tmp_path):
    _round_trip(s3, "test-roundtrip/", tmp_path)


def test_local_round_trip(local_client, tmp_path):
    _round_trip(local_client.app.state.storage, "test-roundtrip/", tmp_path)


def test_unsafe_keys_are_refused(local_client):
    for key in ("../x", "a/../../x", "/etc/passwd", "a//b", "a\\b", ""):
        with pytest.raises(ValueError):
            check_key(key)
        with pytest.raises(ValueError):
            local_client.app.state.storage.put_bytes(key, b"x")


def _flip_last(text: str) -> str:
    return text[:-1] + ("0" if text[-1] != "0" else "1")


def _with_query(url: str, **changes) -> str:
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()} | changes
    return parts._replace(query=urlencode(query)).geturl()


def test_s3_presigned_urls_expire_and_refuse_changes(s3):
    s3.put_bytes("signed/file.txt", b"payload")
    s3.put_bytes("signed/other.txt", b"secret")
    # X-Amz-Date is in whole seconds, so a URL lives between ttl_s - 1 and ttl_s seconds: 5 s,
    # for a loaded machine to make its first request within.
    url = s3.signed_url("signed/file.txt", ttl_s=5, filename="file.txt").url
    assert httpx.get(url).content == b"payload"
    assert httpx.get(url.replace("signed/file.txt", "signed/other.txt")).status_code == 403
    signature = parse_qs(urlsplit(url).query)["X-Amz-Signature"][0]
    forged = _flip_last(signature)
    assert httpx.get(_with_query(url, **{"X-Amz-Signature": forged})).status_code == 403
    assert httpx.get(_with_query(url, **{"X-Amz-Expires": "3600"})).status_code == 403
    anonymous = f"{url.split('?')[0]}"
    assert httpx.get(anonymous).status_code == 403
    time.sleep(6)
    expired = httpx.get(url)
    assert expired.status_code == 403 and b"expired" in expired.content
    s3.delete_prefix("signed/")


def test_local_signed_urls_expire_and_refuse_changes(local_client):
    storage = local_client.app.state.storage
    storage.put_bytes("signed/file.txt", b"payload")
    storage.put_bytes("signed/other.txt", b"secret")
    signed = storage.signed_url("signed/file.txt", ttl_s=2, filename="file.txt")
    path = signed.url.removeprefix("http://testserver")
    response = local_client.get(path)
    assert response.status_code == 200 and response.content == b"payload"
    assert 'filename="file.txt"' in response.headers["content-disposition"]

    query = {k: v[0] for k, v in parse_qs(urlsplit(path).query).items()}
    changed = [
        path.replace("signed/file.txt", "signed/other.txt"),
        _with_query(path, signature=_flip_last(query["signature"])),
        _with_query(path, expires=str(int(query["expires"]) + 3600)),
        _with_query(path, filename="renamed.txt"),
    ]
    for url in changed:
        refused = local_client.get(url)
        assert refused.status_code == 403, url
        assert "signature" in refused.json()["detail"]
    assert local_client.get(path.split("?")[0]).status_code == 422  # no signature at all
    time.sleep(3)
    expired = local_client.get(path)
    assert expired.status_code == 403 and "expired" in expired.json()["detail"]


def test_the_download_route_is_closed_with_the_s3_backend(api_client):
    response = api_client.get(
        "/downloads/jobs/x/result.zip?expires=9999999999&filename=a&signature=b"
    )
    assert response.status_code == 404
