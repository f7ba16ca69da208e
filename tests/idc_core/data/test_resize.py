import numpy as np
import pytest
from PIL import Image

from idc_core.data.images import load_rgb
from idc_core.data.resize import bicubic_downsample, imresize


def test_constant_image_stays_constant():
    image = np.full((40, 36, 3), 117.0)
    assert np.allclose(imresize(image, 0.25), 117.0)
    assert np.allclose(imresize(image, 2.0), 117.0)


def test_output_size_is_ceil_of_scaled_size():
    assert imresize(np.zeros((41, 30)), 0.25).shape == (11, 8)
    assert imresize(np.zeros((10, 7, 3)), 3).shape == (30, 21, 3)


def test_interior_matches_pillow_antialiased_bicubic(photos_dir):
    """Pillow's float bicubic uses the same a=-0.5 kernel and anti-aliasing; only borders differ."""
    grey = load_rgb(photos_dir / "astronaut.png").astype(np.float64)[:, :, 1]
    ours = imresize(grey, 0.25)
    pillow = np.asarray(
        Image.fromarray(grey.astype(np.float32), mode="F").resize(
            (ours.shape[1], ours.shape[0]), Image.Resampling.BICUBIC
        )
    )
    interior = (slice(3, -3), slice(3, -3))
    assert np.abs(ours[interior] - pillow[interior]).max() < 1e-2


def test_downsample_then_upsample_is_close_to_original(photos_dir):
    image = load_rgb(photos_dir / "astronaut.png")[:128, :128]
    lr = bicubic_downsample(image, 2)
    back = imresize(lr.astype(np.float64), 2)
    assert lr.shape == (64, 64, 3) and lr.dtype == np.uint8
    assert np.abs(back - image).mean() < 8


def test_downsample_rejects_sizes_not_multiple_of_scale():
    with pytest.raises(ValueError, match="multiple of scale"):
        bicubic_downsample(np.zeros((10, 10, 3), np.uint8), 4)
