"""The result archive and the preview, built from real image patches."""

from __future__ import annotations

import json
import zipfile

import numpy as np
from PIL import Image

from worker.archive import make_preview, make_zip


def _paired_folder(root, image_path, n=3, size=64, scale=4):
    image = np.asarray(Image.open(image_path).convert("RGB"))
    for sub in ("HR", "LR", "instances"):
        (root / sub).mkdir(parents=True)
    for j in range(n):
        hr = Image.fromarray(image[j * size : (j + 1) * size, :size])
        hr.save(root / "HR" / f"bird_{j:04d}.png")
        hr.resize((size // scale, size // scale), Image.Resampling.BICUBIC).save(
            root / "LR" / f"bird_{j:04d}.png"
        )
    (root / "instances" / "chelsea.json").write_text("{}")
    (root / "meta_info.txt").write_text("".join(f"bird_{j:04d}.png (64,64,3)\n" for j in range(n)))
    (root / "manifest.json").write_text(json.dumps({"pairs": n}))


def test_zip_holds_the_pairs_under_one_folder_without_markers(tmp_path, photos_dir):
    _paired_folder(tmp_path / "d", photos_dir / "chelsea.png")
    count = make_zip(tmp_path / "d", tmp_path / "out.zip", "idc-job")
    with zipfile.ZipFile(tmp_path / "out.zip") as archive:
        names = sorted(archive.namelist())
        assert count == len(names) == 8
        assert names[:3] == [f"idc-job/HR/bird_{j:04d}.png" for j in range(3)]
        assert "idc-job/manifest.json" in names and "idc-job/meta_info.txt" in names
        assert not any("instances" in name for name in names)
        png = archive.getinfo("idc-job/HR/bird_0000.png")
        assert png.compress_type == zipfile.ZIP_STORED
        assert archive.getinfo("idc-job/meta_info.txt").compress_type == zipfile.ZIP_DEFLATED
        assert (
            archive.read("idc-job/HR/bird_0001.png")
            == (tmp_path / "d/HR/bird_0001.png").read_bytes()
        )


def test_preview_draws_one_row_per_pair(tmp_path, photos_dir):
    _paired_folder(tmp_path / "d", photos_dir / "chelsea.png", n=3)
    assert make_preview(tmp_path / "d", tmp_path / "p.png", pairs=2, cell=32) == 2
    with Image.open(tmp_path / "p.png") as preview:
        assert preview.size == (2 * 32 + 3 * 4, 2 * (32 + 4) + 4)
        hr_tile = np.asarray(preview)[4 : 4 + 32, 4 + 32 + 4 : 4 + 64 + 4]
    expected = np.asarray(
        Image.open(tmp_path / "d/HR/bird_0000.png").resize((32, 32), Image.Resampling.BICUBIC)
    )
    assert np.array_equal(hr_tile, expected)
    assert make_preview(tmp_path / "empty", tmp_path / "none.png") == 0
    assert not (tmp_path / "none.png").exists()
