"""Our Y-PSNR/SSIM against scikit-image's on real images degraded by real x4 bicubic SR."""

import numpy as np
import pytest
from skimage.color import rgb2ycbcr
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from idc_core.data.images import list_images, load_rgb
from idc_core.data.patches import modcrop
from idc_core.data.resize import bicubic_downsample, imresize
from idc_core.evaluation import psnr_y, rgb_to_y, ssim_y


@pytest.fixture(scope="module")
def set5_pairs(photos_dir) -> list[tuple[np.ndarray, np.ndarray]]:
    """(bicubic x4 reconstruction, HR) of every test photo, uint8 RGB."""
    pairs = []
    for path in list_images(photos_dir):
        hr = modcrop(load_rgb(path), 4)
        up = imresize(bicubic_downsample(hr, 4).astype(np.float64), 4)
        pairs.append((np.clip(np.round(up), 0, 255).astype(np.uint8), hr))
    return pairs


def test_y_channel_is_bt601_as_matlab(set5_pairs):
    assert rgb_to_y(np.array([[[0, 0, 0], [255, 255, 255], [255, 0, 0]]], np.uint8)).tolist() == [
        pytest.approx([16.0, 235.0, 16.0 + 65.481])
    ]
    image = set5_pairs[0][1]
    np.testing.assert_allclose(rgb_to_y(image), rgb2ycbcr(image)[..., 0], atol=1e-9)


def test_psnr_and_ssim_agree_with_scikit_image(set5_pairs):
    border = 4
    for sr, hr in set5_pairs:
        y_sr = rgb_to_y(sr)[border:-border, border:-border]
        y_hr = rgb_to_y(hr)[border:-border, border:-border]
        expected_psnr = peak_signal_noise_ratio(y_hr, y_sr, data_range=255)
        expected_ssim = structural_similarity(
            y_hr,
            y_sr,
            gaussian_weights=True,
            sigma=1.5,
            use_sample_covariance=False,
            data_range=255,
        )
        assert psnr_y(sr, hr, border) == pytest.approx(expected_psnr, abs=1e-9)
        assert ssim_y(sr, hr, border) == pytest.approx(expected_ssim, abs=1e-9)
        assert 20 < psnr_y(sr, hr, border) < 40 and 0.5 < ssim_y(sr, hr, border) < 1


def test_identical_images(set5_pairs):
    hr = set5_pairs[0][1]
    assert psnr_y(hr, hr.copy(), 4) == float("inf")
    assert ssim_y(hr, hr.copy(), 4) == 1.0


def test_bad_shapes_are_refused(set5_pairs):
    sr, hr = set5_pairs[0]
    with pytest.raises(ValueError, match="differ in shape"):
        psnr_y(sr[:-4], hr, 4)
    with pytest.raises(ValueError, match="too small"):
        ssim_y(hr[:20, :20], hr[:20, :20], 5)
    with pytest.raises(ValueError, match="H x W x 3"):
        rgb_to_y(hr[..., 0])
