"""Figure 4 (real, start, v1..v4, IDC patches of two images) on real photos, tiny teacher."""

import numpy as np
import torch
from PIL import Image
from typer.testing import CliRunner

from benchmarks.ablation import app
from benchmarks.common import image_paths
from benchmarks.figure4 import (
    HEADER,
    LABEL_WIDTH,
    PAD,
    ROW_LABELS,
    figure_size,
    spread,
    write_figure4,
    zoom_for,
)
from idc_core.data.images import load_rgb, save_png
from idc_core.data.patches import PatchSettings, load_instance
from idc_core.method.condense import synthetic_count
from idc_core.models import build_model

from .conftest import tiny_options

PATCH = PatchSettings(patch_size=32, step=16, scale=4)  # 8 x 8 LR patches


def _images(folder, set5_dir):
    folder.mkdir()
    paths = []
    for name in ("baby", "bird"):
        paths.append(folder / f"{name}.png")
        save_png(paths[-1], load_rgb(set5_dir / f"{name}.png")[40:136, 40:136])
    return paths


def test_figure4_has_one_labelled_row_per_variant_with_the_same_slots(tmp_path, set5_dir):
    paths = _images(tmp_path / "images", set5_dir)
    torch.manual_seed(0)
    teacher = build_model("edsr-tiny", 4, num_feat=8, num_block=1)
    out = tmp_path / "figure4.png"
    overrides = {"iterations": 4, "c_out": 16, "n_groups": 3}
    diagnostics = write_figure4(out, paths, teacher, PATCH, 0.2, overrides, 0, "cpu", "tiny", 4)

    image = np.asarray(Image.open(out).convert("RGB"))
    slots, zoom = 4, zoom_for(8)  # 25 real and 5 synthetic patches per image: 4 slots shown
    assert image.shape[1::-1] == figure_size(2, slots, len(ROW_LABELS), 8)
    assert set(diagnostics) == {"baby", "bird"}
    assert list(diagnostics["baby"]) == ["v1", "v2", "v3", "v4", "IDC"]
    assert all("nearest_real_psnr_max" in d for d in diagnostics["bird"].values())

    cell = 8 * zoom
    # The real row of the first image: its evenly spaced real LR patches, nearest-neighbour.
    baby = load_instance(paths[0], PATCH)
    for slot, index in enumerate(spread(slots, len(baby))):
        left = LABEL_WIDTH + slot * (cell + PAD)
        shown = image[HEADER : HEADER + cell, left : left + cell]
        assert np.array_equal(shown, baby.lr[index].repeat(zoom, 0).repeat(zoom, 1))
    # Every row is a different picture, and the padding between cells stays white.
    rows = [image[HEADER + r * (cell + PAD) :][:cell, LABEL_WIDTH:] for r in range(7)]
    for upper, lower in zip(rows, rows[1:], strict=False):
        assert not np.array_equal(upper, lower)
    assert (image[HEADER + cell : HEADER + cell + PAD, LABEL_WIDTH:] == 255).all()


def test_ablation_writes_figure4_unless_told_not_to(t91_dir, tiny_test_folder, tmp_path):
    out = tmp_path / "ablation"
    options = tiny_options(out, t91_dir, tiny_test_folder) + ["--rows", "random"]
    options[options.index("--idc-iterations") + 1] = "3"  # v1..v4 use the cpu sizes otherwise
    runner = CliRunner()
    result = runner.invoke(app, options)
    assert result.exit_code == 0, result.output
    patch = PatchSettings(patch_size=32, step=32, scale=4)
    first_two = [load_instance(path, patch) for path in image_paths([t91_dir], 4)[:2]]
    slots = min(6, *(synthetic_count(len(instance), 0.1) for instance in first_two))
    assert Image.open(out / "figure4.png").size == figure_size(2, slots, len(ROW_LABELS), 8)
    assert "(Figure 4)" in result.output

    (out / "figure4.png").unlink()
    again = runner.invoke(app, options + ["--no-figure"])
    assert again.exit_code == 0, again.output
    assert not (out / "figure4.png").exists()
