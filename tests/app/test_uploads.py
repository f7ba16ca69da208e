"""POST /datasets: archives are checked member by member; refused ones leave nothing behind."""

from __future__ import annotations

import io
import stat
import tarfile
import zipfile
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from tests.conftest_service import auth, new_api_key


def _zip(members: dict[str, bytes], symlinks: dict[str, str] | None = None) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
        for name, target in (symlinks or {}).items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            archive.writestr(info, target)
    return buffer.getvalue()


def _tar(members: dict[str, bytes], mode: str = "w:gz", links: dict[str, bytes] | None = None):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode=mode) as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
        for name, kind in (links or {}).items():
            info = tarfile.TarInfo(name)
            info.type, info.linkname = kind, "images/a.png"
            archive.addfile(info)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def photos(photos_dir: Path) -> dict[str, bytes]:
    return {f"images/{p.name}": p.read_bytes() for p in sorted(photos_dir.glob("*.png"))[:3]}


def _upload(client: TestClient, key: str, data: bytes, filename="data.zip", name=None):
    form = {"name": name} if name else {}
    return client.post(
        "/datasets", headers=auth(key), files={"archive": (filename, data)}, data=form
    )


def _stored(client: TestClient) -> list[str]:
    return client.app.state.storage.list_keys("datasets/")


def test_zip_upload_stores_every_image_and_reports_counts(
    api_client, owner_key, photos, photos_dir
):
    response = _upload(api_client, owner_key, _zip(photos), name="set5-part")
    assert response.status_code == 201, response.text
    body = response.json()
    sizes = [Image.open(io.BytesIO(data)).size for data in photos.values()]
    assert body["name"] == "set5-part"
    assert body["image_count"] == 3
    assert body["total_pixels"] == sum(w * h for w, h in sizes)
    assert body["total_bytes"] == sum(len(d) for d in photos.values())
    assert body["digest"].startswith("sha256:") and len(body["digest"]) == 71
    assert sorted(i["name"] for i in body["images"]) == sorted(Path(n).stem for n in photos)
    keys = api_client.app.state.storage.list_keys(f"datasets/{body['id']}/")
    assert len(keys) == 3
    stored = api_client.app.state.storage.get_bytes(keys[0])
    assert stored in photos.values()  # the original bytes, not a re-encoding

    fetched = api_client.get(f"/datasets/{body['id']}", headers=auth(owner_key))
    assert fetched.status_code == 200 and fetched.json()["digest"] == body["digest"]


def test_tar_gz_of_the_same_images_has_the_same_digest(api_client, owner_key, photos):
    from_zip = _upload(api_client, owner_key, _zip(photos)).json()
    from_tar = _upload(api_client, owner_key, _tar(photos), filename="data.tar.gz").json()
    plain_tar = _upload(api_client, owner_key, _tar(photos, "w"), filename="d.tar").json()
    assert from_zip["digest"] == from_tar["digest"] == plain_tar["digest"]
    assert from_tar["image_count"] == 3


def test_hidden_and_macos_entries_are_skipped(api_client, owner_key, photos):
    members = dict(photos) | {".DS_Store": b"junk", "__MACOSX/images/._a.png": b"junk"}
    response = _upload(api_client, owner_key, _zip(members))
    assert response.status_code == 201, response.text
    assert response.json()["image_count"] == 3


ZEROS = b"\x00" * (64 << 20)
REFUSALS = {
    "zip slip": (lambda p: _zip({"../evil.png": p}), 422, "climbs out"),
    "nested zip slip": (lambda p: _zip({"images/../../evil.png": p}), 422, "climbs out"),
    "absolute path": (lambda p: _zip({"/etc/evil.png": p}), 422, "absolute path"),
    "windows path": (lambda p: _zip({"C:/evil.png": p}), 422, "absolute path"),
    "zip symlink": (lambda p: _zip({"a.png": p}, {"images/b.png": "/etc/passwd"}), 422, "link"),
    "tar symlink": (
        lambda p: _tar({"images/a.png": p}, links={"b.png": tarfile.SYMTYPE}),
        422,
        "link",
    ),
    "tar hardlink": (
        lambda p: _tar({"images/a.png": p}, links={"c.png": tarfile.LNKTYPE}),
        422,
        "link",
    ),
    "tar device": (
        lambda p: _tar({"a.png": p}, links={"dev.png": tarfile.CHRTYPE}),
        422,
        "regular",
    ),
    "undecodable": (
        lambda p: _zip({"a.png": p, "b.png": b"not an image at all"}),
        422,
        "decodable",
    ),
    "truncated png": (lambda p: _zip({"a.png": p[: len(p) // 2]}), 422, "decodable"),
    "not an image file": (lambda p: _zip({"a.png": p, "notes.txt": b"hello"}), 422, "not an image"),
    "duplicate names": (lambda p: _zip({"x/a.png": p, "y/a.png": p}), 422, "unique"),
    "not an archive": (lambda p: b"plain text, no archive " * 100, 422, "not a zip or tar"),
    "empty archive": (lambda p: _zip({}), 422, "no images"),
    # The zeros need not be named "bomb": the message must say it (64 MiB: 100x the archive).
    "zip bomb": (lambda p: _zip({"a.png": p, "zeros.png": ZEROS}), 422, "bomb"),
    "tar.gz bomb": (lambda p: _tar({"a.png": p, "zeros.png": ZEROS}), 422, "bomb"),
    "bomb in skipped members": (
        lambda p: _tar({"a.png": p, "__MACOSX/x.png": ZEROS}),
        422,
        "bomb",
    ),
    "bomb in hidden members": (
        lambda p: _tar({"a.png": p, ".junk": ZEROS}, "w:xz"),
        422,
        "bomb",
    ),
}


@pytest.mark.parametrize("case", list(REFUSALS))
def test_bad_archives_are_refused_and_leave_nothing(api_client, owner_key, photos, case):
    build, status, message = REFUSALS[case]
    first_photo = next(iter(photos.values()))
    before = _stored(api_client)
    response = _upload(api_client, owner_key, build(first_photo))
    assert response.status_code == status, response.text
    assert message in response.json()["detail"]
    assert _stored(api_client) == before


def test_too_many_pixels_and_too_large_uploads_answer_413(local_settings, photos):
    from app.main import create_app

    settings = local_settings.model_copy(update={"image_max_pixels": 100 * 100})
    with TestClient(create_app(settings)) as client:
        key = new_api_key(settings, "carol")
        response = _upload(client, key, _zip(photos))
        assert response.status_code == 413
        assert "limit of 10000 (IDC_IMAGE_MAX_PIXELS)" in response.json()["detail"]
        assert client.app.state.storage.list_keys("datasets/") == []

    settings = local_settings.model_copy(update={"upload_max_bytes": 10_000})
    with TestClient(create_app(settings)) as client:
        big = _zip(photos) + b"\x00" * (2 << 20)
        response = _upload(client, key, big)
        assert response.status_code == 413
        assert "exceeds" in response.json()["detail"]


def test_upload_needs_an_api_key(api_client, photos):
    response = api_client.post("/datasets", files={"archive": ("a.zip", _zip(photos))})
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"


def test_the_pixel_limit_reported_is_ours_not_pillows(api_client, owner_key):
    """90 Mpx is past Pillow's own guard (89.5 Mpx), which speaks before our check can."""
    png = io.BytesIO()
    Image.new("1", (10_000, 9_000)).save(png, format="PNG")
    response = _upload(api_client, owner_key, _zip({"huge.png": png.getvalue()}))
    assert response.status_code == 413, response.text
    detail = response.json()["detail"]
    assert "'huge.png'" in detail and "64000000 (IDC_IMAGE_MAX_PIXELS)" in detail, detail


def test_an_unreadable_image_is_named_without_python_internals(api_client, owner_key, photos):
    first = next(iter(photos.values()))
    response = _upload(api_client, owner_key, _zip({"a.png": first, "b.png": b"GIF89a junk"}))
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert "'b.png'" in detail and "BytesIO" not in detail, detail


def test_non_ascii_names_stay_apart_and_safe(api_client, owner_key, photos):
    first, second, third = photos.values()
    members = {"фото.png": first, "кадр.png": second, "café.png": third}
    response = _upload(api_client, owner_key, _zip(members))
    assert response.status_code == 201, response.text
    names = [image["name"] for image in response.json()["images"]]
    assert len(set(names)) == 3 and all(name.isascii() for name in names), names
    assert any(name.startswith("cafe-") for name in names), names
    assert sorted(image["member"] for image in response.json()["images"]) == sorted(members)


def test_the_first_bad_member_in_archive_order_is_the_one_reported(api_client, owner_key, photos):
    """Members are checked on several threads; the answer still names the first bad one."""
    first = next(iter(photos.values()))
    members = {f"images/{index:03d}.png": first for index in range(24)}
    members["images/005.png"] = first[: len(first) // 2]
    members["images/020.png"] = b"not an image at all"
    before = _stored(api_client)
    for _ in range(3):
        response = _upload(api_client, owner_key, _zip(members))
        assert response.status_code == 422, response.text
        assert "'images/005.png'" in response.json()["detail"], response.json()["detail"]
        assert _stored(api_client) == before


def test_members_are_stored_in_parallel_within_the_buffer_budget(tmp_path, photos):
    """At most `buffer_budget` bytes of read images wait at once, however many threads."""
    import threading
    import time

    from app.storage.local import LocalStorage
    from app.uploads import Budget, UploadLimits, store_archive

    first = next(iter(photos.values()))
    held = {"now": 0, "most": 0}
    lock = threading.Lock()

    class SlowStorage(LocalStorage):
        def put_bytes(self, key: str, data: bytes) -> None:
            with lock:
                held["now"] += 1
                held["most"] = max(held["most"], held["now"])
            time.sleep(0.05)
            super().put_bytes(key, data)
            with lock:
                held["now"] -= 1

    limits = UploadLimits(
        max_images=100,
        max_pixels=64_000_000,
        max_image_bytes=len(first),
        max_ratio=100.0,
        decode_budget=Budget(64_000_000),
        buffer_budget=Budget(3 * max(len(first), 64 * 1024)),
        threads=8,
    )
    archive = io.BytesIO(_zip({f"{index:02d}.png": first for index in range(16)}))
    storage = SlowStorage(tmp_path, "s" * 32, "http://testserver")
    stored = store_archive(archive, len(archive.getvalue()), storage, "datasets/x/", limits)
    assert [image.name for image in stored.images] == [f"{index:02d}" for index in range(16)]
    assert len(storage.list_keys("datasets/x/")) == 16
    assert 2 <= held["most"] <= 3, held
