"""API memory under concurrent uploads of large images: `--uploads` (12) clients at once each
POST /datasets a zip holding one `--side` x `--side` (8000 x 8000 = 64 Mpx) PNG, against the real
API (uvicorn, Postgres, local storage). Printed: the API's RSS before, its peak RSS (VmHWM), each
upload's status and the wall time. The PNG is a smooth gradient, so it compresses to a few
hundred KB: the cost is in decoding it, not in moving it.

    python benchmarks/upload_memory.py [--uploads 12] [--side 8000]
"""

from __future__ import annotations

import argparse
import io
import sys
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.service_under_test import (  # noqa: E402
    DEFAULT_PG_ADMIN_URL,
    memory_kb,
    running_service,
)


def _large_png_zip(side: int) -> bytes:
    ramp = np.linspace(0, 255, side, dtype=np.float32)
    pixels = np.stack(
        [
            np.add.outer(ramp, ramp) / 2,
            np.add.outer(ramp, ramp[::-1]) / 2,
            np.tile(ramp, (side, 1)),
        ],
        axis=-1,
    ).astype(np.uint8)
    png = io.BytesIO()
    Image.fromarray(pixels).save(png, format="PNG", compress_level=9)
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("large.png", png.getvalue())
    return archive.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--uploads", type=int, default=12)
    parser.add_argument("--side", type=int, default=8000, help="PNG width and height")
    parser.add_argument("--pg-admin-url", default=DEFAULT_PG_ADMIN_URL)
    args = parser.parse_args()
    if not (1 <= args.uploads <= 64 and 16 <= args.side <= 8000):
        parser.error("uploads must be 1..64 and side 16..8000")
    archive = _large_png_zip(args.side)
    print(f"archive: {len(archive) / 1e3:.0f} KB zip of one {args.side}x{args.side} PNG")
    with running_service(args.pg_admin_url) as service:
        headers = {"Authorization": f"Bearer {service.key}"}

        def upload(index: int) -> int:
            files = {"archive": (f"large-{index}.zip", archive)}
            response = httpx.post(
                f"{service.url}/datasets", headers=headers, files=files, timeout=600
            )
            return response.status_code

        before = memory_kb(service.pid, "VmRSS")
        start = time.perf_counter()
        with ThreadPoolExecutor(args.uploads) as pool:
            statuses = list(pool.map(upload, range(args.uploads)))
        elapsed = time.perf_counter() - start
        peak = memory_kb(service.pid, "VmHWM")
        print(
            f"{args.uploads} concurrent uploads: statuses {statuses}, {elapsed:.1f} s; "
            f"API RSS before {before / 1024:.0f} MB, peak {peak / 1024:.0f} MB"
        )


if __name__ == "__main__":
    main()
