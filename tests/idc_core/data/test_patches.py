import numpy as np
import pytest
from pydantic import ValidationError

from idc_core.data.images import load_rgb
from idc_core.data.paired import read_pairs, write_meta_info, write_pairs
from idc_core.data.patches import (
    ImageTooSmallError,
    PatchSettings,
    crop_positions,
    load_instance,
    make_instance,
)
from idc_core.data.resize import bicubic_downsample


def test_crop_positions_end_flush_with_border():
    assert crop_positions(10, 4, 4) == [0, 4, 6]
    assert crop_positions(12, 4, 4) == [0, 4, 8]
    assert crop_positions(3, 4, 2) == []


def test_settings_reject_misaligned_patch_or_scale():
    with pytest.raises(ValidationError, match="multiples of scale"):
        PatchSettings(patch_size=66, step=32, scale=4)
    with pytest.raises(ValidationError, match="scale must be one of"):
        PatchSettings(patch_size=64, step=32, scale=5)


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_instance_pairs_align_with_whole_image_downsample(photos_dir, scale):
    settings = PatchSettings(patch_size=48, step=24, scale=scale)
    image = load_rgb(photos_dir / "coffee.png")
    instance = make_instance("coffee", image, settings)
    n = len(crop_positions(image.shape[0] - image.shape[0] % scale, 48, 24)) * len(
        crop_positions(image.shape[1] - image.shape[1] % scale, 48, 24)
    )
    assert instance.hr.shape == (n, 48, 48, 3)
    assert instance.lr.shape == (n, 48 // scale, 48 // scale, 3)
    assert np.array_equal(instance.hr[0], image[:48, :48])
    full_lr = bicubic_downsample(image[: 256 - 256 % scale, : 256 - 256 % scale], scale)
    assert np.array_equal(instance.lr[0], full_lr[: 48 // scale, : 48 // scale])


def test_too_small_image_is_a_clear_error(photos_dir):
    with pytest.raises(ImageTooSmallError, match="smaller than one 512x512"):
        load_instance(photos_dir / "chelsea.png", PatchSettings(patch_size=512, step=256, scale=4))


def test_paired_layout_round_trip(tmp_path, photos_dir):
    instance = load_instance(photos_dir / "rocket.png", PatchSettings(patch_size=64, step=64, scale=4))
    stems = [f"head_{i:04d}" for i in range(len(instance))]
    lr_float = instance.lr.astype(np.float32) / 255 + 0.001
    write_pairs(tmp_path, stems, instance.hr, instance.lr, lr_float=lr_float)
    assert write_meta_info(tmp_path) == len(instance)
    first_line = (tmp_path / "meta_info.txt").read_text().splitlines()[0]
    assert first_line == "head_0000.png (64,64,3)"
    pairs = read_pairs(tmp_path)
    assert np.array_equal(pairs.hr, instance.hr) and np.array_equal(pairs.lr, instance.lr)
    floats = read_pairs(tmp_path, prefer_float=True)
    assert floats.lr.dtype == np.float32 and np.allclose(floats.lr, lr_float)
    assert not list(tmp_path.rglob("*.tmp"))
