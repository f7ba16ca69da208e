#!/usr/bin/env python
"""Walk through the REST API once: upload photos, condense them, follow the job, download the
result through its signed URL, unpack it and say where it is.

The photos are the ones scikit-image ships (no download needed). Used by scripts/quickstart.sh
and by the embedded-mode end-to-end test; it needs only httpx, Pillow and scikit-image.

    python scripts/demo_client.py --url http://127.0.0.1:8000 --key "$IDC_API_KEY"
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
import time
import uuid
import zipfile
from pathlib import Path

import httpx
from PIL import Image

PHOTOS = ("astronaut", "coffee", "chelsea", "rocket", "immunohistochemistry", "hubble_deep_field")


def photo_archive(count: int) -> bytes:
    """A zip of `count` scikit-image photos as PNG files."""
    import skimage.data

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in PHOTOS[:count]:
            png = io.BytesIO()
            Image.fromarray(getattr(skimage.data, name)()).convert("RGB").save(png, format="PNG")
            archive.writestr(f"photos/{name}.png", png.getvalue())
    return buffer.getvalue()


def fail(response: httpx.Response) -> None:
    if response.is_error:
        sys.exit(
            f"error: {response.request.method} {response.request.url.path} answered "
            f"{response.status_code}: {response.text}"
        )


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000", help="the API's base URL")
    parser.add_argument("--key", default=os.environ.get("IDC_API_KEY"), help="API key")
    parser.add_argument("--photos", type=int, default=4, choices=range(1, len(PHOTOS) + 1))
    parser.add_argument("--method", default="idc")
    parser.add_argument("--ratio", type=float, default=0.1)
    parser.add_argument("--scale", type=int, default=4)
    parser.add_argument("--patch-size", type=int, default=96)
    parser.add_argument("--step", type=int, default=96)
    parser.add_argument("--preset", default="cpu")
    parser.add_argument("--iterations", type=int, help="IDC steps per image (default: preset's)")
    parser.add_argument("--teacher-iterations", type=int, default=300)
    parser.add_argument("--timeout", type=float, default=1800, help="seconds to wait for the job")
    parser.add_argument("--out", type=Path, default=Path("var/demo-result"))
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    if not args.key:
        sys.exit("error: give an API key with --key or IDC_API_KEY (idc-service create-key)")
    client = httpx.Client(
        base_url=args.url, headers={"Authorization": f"Bearer {args.key}"}, timeout=120
    )

    archive = photo_archive(args.photos)
    print(f"uploading {args.photos} photos ({len(archive) / 1e6:.1f} MB) ...")
    response = client.post(
        "/datasets",
        files={"archive": ("photos.zip", archive)},
        data={"name": "scikit-image photos"},
    )
    fail(response)
    dataset = response.json()
    print(
        f"  dataset {dataset['id']}: {dataset['image_count']} images, "
        f"{dataset['total_pixels'] / 1e6:.1f} Mpx, {dataset['digest'][:19]}..."
    )

    job_request = {
        "dataset_id": dataset["id"],
        "method": args.method,
        "ratio": args.ratio,
        "scale": args.scale,
        "patch": {"patch_size": args.patch_size, "step": args.step},
        "preset": args.preset,
        **({"iterations": args.iterations} if args.iterations else {}),
        "teacher": {
            "mode": "train",
            "arch": "edsr-tiny",
            "iterations": args.teacher_iterations,
            "batch_size": 8,
            "patch_size": 48,
        },
        "seed": 0,
    }
    response = client.post(
        "/condense", json=job_request, headers={"Idempotency-Key": str(uuid.uuid4())}
    )
    fail(response)
    job_url = response.json()["url"]
    print(f"condensing: job {response.json()['id']} ({job_url})")

    deadline, last = time.monotonic() + args.timeout, None
    while True:
        response = client.get(job_url)
        fail(response)
        job = response.json()
        progress = job["progress"]
        line = (
            f"  {job['status']:<9} {job['stage']:<17} {progress['instances_done']}/"
            f"{progress['instances_total']} images, {100 * progress['fraction']:5.1f}% of stage"
            + (f", ETA {job['eta_seconds']:.0f}s" if job["eta_seconds"] is not None else "")
        )
        if line != last:
            print(line, flush=True)
            last = line
        if job["status"] in ("succeeded", "failed", "cancelled"):
            break
        if time.monotonic() > deadline:
            sys.exit(f"error: the job did not finish in {args.timeout:.0f}s")
        time.sleep(1)
    if job["status"] != "succeeded":
        sys.exit(f"error: the job {job['status']}: {job['error']}")

    response = client.get(f"{job_url}/result")
    fail(response)
    result = response.json()
    print(f"downloading {result['filename']} (signed URL valid until {result['expires_at']}) ...")
    download = httpx.get(result["url"], timeout=300)  # the signed URL needs no API key
    fail(download)
    args.out.mkdir(parents=True, exist_ok=True)
    zip_path = args.out / result["filename"]
    zip_path.write_bytes(download.content)
    with zipfile.ZipFile(zip_path) as condensed:
        condensed.extractall(args.out)
    folder = args.out / result["filename"].removesuffix(".zip")
    manifest = result["manifest"]
    (args.out / "manifest.json").write_text(json.dumps(manifest, indent=2))
    print(
        f"done in {job['timings'].get('total', 0):.0f}s: {manifest['pairs']} HR/LR pairs "
        f"condensed from {manifest['real_pairs']} (ratio {manifest['effective_ratio']:.3f})"
    )
    print(f"result: {folder.resolve()}  (HR/, LR/, meta_info.txt, manifest.json)")
    print(f"archive: {zip_path.resolve()}")


if __name__ == "__main__":
    main()
