"""The manifest carries each IDC instance's diagnostics and a dataset-level summary of them."""

import json
from pathlib import Path

import pytest

from idc_core.api import CondenseJob, PatchSettings, condense_images, finalize_dataset
from idc_core.condense_folder import read_marker
from idc_core.data.images import load_rgb, save_png
from idc_core.method.diagnostics import PSNR_CAP_DB

PATCH = PatchSettings(patch_size=32, step=16, scale=4)


@pytest.fixture()
def images(tmp_path, photos_dir) -> list[Path]:
    """Two 96x96 crops of real photos (25 patch pairs each at 32/16); no published set needed."""
    paths = []
    for name in ("astronaut", "chelsea"):
        path = tmp_path / "images" / f"{name}.png"
        path.parent.mkdir(exist_ok=True)
        save_png(path, load_rgb(photos_dir / f"{name}.png")[40:136, 40:136])
        paths.append(path)
    return paths


def _strict_json(path: Path) -> dict:
    def refuse(constant: str) -> None:
        raise ValueError(f"{path} holds {constant}, which is not JSON")

    return json.loads(path.read_text(), parse_constant=refuse)


def test_manifest_holds_instance_diagnostics_and_their_summary(tmp_path, images, teacher):
    # Real start without noise and a step of 1e-7: every synthetic patch is a real one.
    overrides = {"c_out": 16, "init_noise": 0.0, "iterations": 1, "lr": 1e-7}
    job = CondenseJob(ratio=0.2, patch=PATCH, preset="tiny", overrides=overrides, device="cpu")
    out = tmp_path / "out"
    condense_images(images, out, job, teacher)
    finalize_dataset(out, job, None, images)
    manifest = _strict_json(out / "manifest.json")

    for entry in manifest["instances"]:
        assert entry["diagnostics"] == read_marker(out, entry["name"]).stats["diagnostics"]
        assert entry["diagnostics"]["nearest_real_psnr_min"] >= 99.0
    summary = manifest["diagnostics"]
    assert summary["instances"] == 2
    assert summary["near_copies"] == manifest["pairs"]  # every pair is a copy
    assert summary["worst_nearest_real_psnr"] == pytest.approx(PSNR_CAP_DB)
    ratios = [entry["diagnostics"]["texture_ratio"] for entry in manifest["instances"]]
    assert summary["mean"]["texture_ratio"] == pytest.approx(sum(ratios) / 2)


def test_no_diagnostics_for_selections_or_when_switched_off(tmp_path, images, teacher):
    random_job = CondenseJob(method="random", ratio=0.2, patch=PATCH, device="cpu")
    condense_images(images, tmp_path / "random", random_job, None)
    manifest = finalize_dataset(tmp_path / "random", random_job, None, images)
    assert manifest["diagnostics"] is None
    assert all(entry["diagnostics"] is None for entry in manifest["instances"])

    overrides = {"c_out": 16, "diagnostics": False}
    off = CondenseJob(ratio=0.2, patch=PATCH, preset="tiny", overrides=overrides, device="cpu")
    condense_images(images, tmp_path / "off", off, teacher)
    manifest = finalize_dataset(tmp_path / "off", off, None, images)
    assert manifest["diagnostics"] is None and manifest["settings"]["diagnostics"] is False
