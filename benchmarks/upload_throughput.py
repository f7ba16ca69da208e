"""Upload throughput: one `--size-mb` (1024) MB stored zip of photo PNGs (random crops of the
photos scikit-image ships, flipped and lightly noised, so none compresses to nothing and no two
are alike) POSTed to /datasets of the real API (`idc-service serve`, Postgres) with httpx
streaming the file, on local storage and on S3 (SeaweedFS `weed mini`). Printed per backend: the
status, the wall time from the first byte sent to the answer, MB/s end to end, the API's CPU
seconds (and the S3 server's, which shares the machine), its RSS before and its peak RSS
(VmHWM), and the load average of the machine.

    python benchmarks/upload_throughput.py [--size-mb 1024] [--backend local s3]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import numpy as np
import skimage.data
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.service_under_test import (  # noqa: E402
    DEFAULT_PG_ADMIN_URL,
    cpu_seconds,
    memory_kb,
    running_service,
)

PHOTOS = (
    "astronaut",
    "coffee",
    "chelsea",
    "rocket",
    "hubble_deep_field",
    "immunohistochemistry",
    "retina",
)


def build_zip(path: Path, size_bytes: int, seed: int = 0) -> int:
    """Write a stored zip of PNGs of at least `size_bytes` to `path`; returns the image count."""
    rng = np.random.default_rng(seed)
    photos = [np.asarray(getattr(skimage.data, name)())[..., :3] for name in PHOTOS]
    count = 0
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf:
        while path.stat().st_size < size_bytes:
            photo = photos[count % len(photos)]
            side = int(rng.integers(300, 420))
            side = min(side, *photo.shape[:2])
            top = int(rng.integers(0, photo.shape[0] - side + 1))
            left = int(rng.integers(0, photo.shape[1] - side + 1))
            crop = photo[top : top + side, left : left + side].astype(np.int16)
            if rng.random() < 0.5:
                crop = crop[:, ::-1]
            crop = crop + rng.integers(-3, 4, size=crop.shape, dtype=np.int16)
            image = Image.fromarray(np.clip(crop, 0, 255).astype(np.uint8))
            with zf.open(f"photos/{count:05d}.png", "w") as member:
                image.save(member, format="PNG", compress_level=6)
            count += 1
    return count


@contextmanager
def _s3_env() -> Iterator[tuple[dict[str, str], int]]:
    """A `weed mini` S3 server for the run (the tests' own launcher): IDC_* settings, its pid."""
    from tests.conftest_service import WeedServer

    with tempfile.TemporaryDirectory() as folder:
        weed = WeedServer(Path(folder))
        try:
            weed.start()
            server = weed.server
            assert weed.process is not None
            yield (
                {
                    "IDC_STORAGE_BACKEND": "s3",
                    "IDC_S3_ENDPOINT_URL": server.endpoint,
                    "IDC_S3_BUCKET": server.bucket,
                    "IDC_S3_ACCESS_KEY_ID": server.access_key,
                    "IDC_S3_SECRET_ACCESS_KEY": server.secret_key,
                },
                weed.process.pid,
            )
        finally:
            weed.stop()


@contextmanager
def _backend_env(backend: str) -> Iterator[tuple[dict[str, str], int | None]]:
    """The backend's IDC_* settings and the pid of its storage server (None: local files)."""
    if backend == "s3":
        with _s3_env() as env_and_pid:
            yield env_and_pid
    else:
        yield {"IDC_STORAGE_BACKEND": "local"}, None


def upload_once(archive: Path, images: int, backend: str, pg_admin_url: str) -> None:
    size = archive.stat().st_size
    with _backend_env(backend) as (env, server_pid), running_service(pg_admin_url, env) as service:
        headers = {"Authorization": f"Bearer {service.key}"}
        before_kb = memory_kb(service.pid, "VmRSS")
        cpu_before = cpu_seconds(service.pid)
        server_cpu_before = cpu_seconds(server_pid) if server_pid else 0.0
        load_before = os.getloadavg()[0]
        with open(archive, "rb") as stream:
            files = {"archive": (archive.name, stream, "application/zip")}
            start = time.perf_counter()
            response = httpx.post(
                f"{service.url}/datasets", headers=headers, files=files, timeout=1800
            )
            elapsed = time.perf_counter() - start
        cpu = cpu_seconds(service.pid) - cpu_before
        server_cpu = cpu_seconds(server_pid) - server_cpu_before if server_pid else None
        peak_kb = memory_kb(service.pid, "VmHWM")
        detail = "" if response.status_code == 201 else f" {response.text[:300]}"
        stored = response.json().get("image_count") if response.status_code == 201 else None
        print(
            f"{backend:5s}: status {response.status_code}{detail}, {stored} of {images} images, "
            f"{size / 1e6:.0f} MB in {elapsed:.1f} s = {size / 1e6 / elapsed:.0f} MB/s end to end; "
            f"API CPU {cpu:.1f} s"
            + (f", storage server CPU {server_cpu:.1f} s" if server_cpu is not None else "")
            + f"; API RSS before {before_kb / 1024:.0f} MB, "
            f"peak {peak_kb / 1024:.0f} MB; load average {load_before:.1f} -> "
            f"{os.getloadavg()[0]:.1f} ({os.cpu_count()} CPUs)",
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mb", type=int, default=1024, help="archive size (10^6 bytes)")
    parser.add_argument("--backend", nargs="+", choices=("local", "s3"), default=["local", "s3"])
    parser.add_argument("--pg-admin-url", default=DEFAULT_PG_ADMIN_URL)
    parser.add_argument("--archive", type=Path, help="reuse (or keep) the archive at this path")
    args = parser.parse_args()
    if not 1 <= args.size_mb <= 16_000:
        parser.error("size-mb must be 1..16000")
    with tempfile.TemporaryDirectory() as tmp:
        archive = args.archive or Path(tmp) / "photos.zip"
        start = time.perf_counter()
        if archive.exists():
            with zipfile.ZipFile(archive) as zf:
                images = len(zf.infolist())
        else:
            images = build_zip(archive, args.size_mb * 1_000_000)
        print(
            f"archive: {archive.stat().st_size / 1e6:.0f} MB stored zip of {images} PNGs "
            f"({time.perf_counter() - start:.0f} s to build or read)",
            flush=True,
        )
        for backend in args.backend:
            upload_once(archive, images, backend, args.pg_admin_url)


if __name__ == "__main__":
    main()
