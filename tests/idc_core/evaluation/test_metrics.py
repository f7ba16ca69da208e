"""Our PSNR/SSIM against BasicSR's functions (transcribed), scikit-image's, and MATLAB's rules,
on real photos degraded by real x4 bicubic SR."""

import numpy as np
import pytest
from skimage.color import rgb2ycbcr
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from idc_core.data.images import list_images, load_rgb
from idc_core.data.patches import modcrop
from idc_core.data.resize import bicubic_downsample
from idc_core.evaluation import bicubic_upsample, psnr_y, rgb_to_y, scored_channel, ssim_y

from . import basicsr_reference


@pytest.fixture(scope="module")
def photo_pairs(photos_dir) -> list[tuple[np.ndarray, np.ndarray]]:
    """(bicubic x4 reconstruction, HR) of every test photo, uint8 RGB."""
    pairs = []
    for path in list_images(photos_dir):
        hr = modcrop(load_rgb(path), 4)
        pairs.append((bicubic_upsample(bicubic_downsample(hr, 4), 4), hr))
    return pairs


def test_y_channel_is_bt601_as_matlab(photo_pairs):
    assert rgb_to_y(np.array([[[0, 0, 0], [255, 255, 255], [255, 0, 0]]], np.uint8)).tolist() == [
        pytest.approx([16.0, 235.0, 16.0 + 65.481])
    ]
    image = photo_pairs[0][1]
    np.testing.assert_allclose(rgb_to_y(image), rgb2ycbcr(image)[..., 0], atol=1e-9)


def test_basicsr_convention_equals_basicsrs_calculate_psnr_and_ssim(photo_pairs):
    for sr, hr in photo_pairs:
        bgr_sr, bgr_hr = sr[..., ::-1], hr[..., ::-1]  # BasicSR reads images as BGR
        expected_psnr = basicsr_reference.calculate_psnr(bgr_sr, bgr_hr, 4)
        expected_ssim = basicsr_reference.calculate_ssim(bgr_sr, bgr_hr, 4)
        # BasicSR converts to Y through float32 (to_y_channel): a few 1e-7 dB apart.
        assert psnr_y(sr, hr, 4, "basicsr") == pytest.approx(expected_psnr, abs=1e-6)
        assert ssim_y(sr, hr, 4, "basicsr") == pytest.approx(expected_ssim, abs=1e-7)


def test_basicsr_convention_agrees_with_scikit_image(photo_pairs):
    border = 4
    for sr, hr in photo_pairs:
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
        assert psnr_y(sr, hr, border, "basicsr") == pytest.approx(expected_psnr, abs=1e-9)
        assert ssim_y(sr, hr, border, "basicsr") == pytest.approx(expected_ssim, abs=1e-9)
        assert 20 < psnr_y(sr, hr, border) < 40 and 0.5 < ssim_y(sr, hr, border) < 1


def test_matlab_convention_scores_y_rounded_to_8_bits(photo_pairs):
    sr, hr = photo_pairs[0]
    y = scored_channel(hr, "matlab")
    np.testing.assert_array_equal(y, np.floor(rgb_to_y(hr) + 0.5))  # MATLAB rounds halves up
    assert y.min() >= 16 and y.max() <= 235 and y.dtype == np.float64
    a, b = scored_channel(sr[4:-4, 4:-4], "matlab"), y[4:-4, 4:-4]
    assert psnr_y(sr, hr, 4, "matlab") == pytest.approx(
        10 * np.log10(255**2 / np.mean((a - b) ** 2))
    )
    assert psnr_y(sr, hr, 4, "matlab") != pytest.approx(psnr_y(sr, hr, 4, "basicsr"), abs=1e-4)


def test_matlab_convention_scores_grey_images_on_their_grey_levels(photo_pairs):
    grey = np.arange(256, dtype=np.uint8).reshape(16, 16)
    rgb = np.repeat(grey[:, :, None], 3, axis=2)
    np.testing.assert_array_equal(scored_channel(rgb, "matlab", grey=True), grey)
    y = 16 + grey.astype(np.float64) * 219 / 255
    np.testing.assert_array_equal(scored_channel(rgb, "matlab"), np.floor(y + 0.5))
    np.testing.assert_allclose(scored_channel(rgb, "basicsr", grey=True), y)
    # A colour SR output of a grey image is scored on its rgb2gray grey level.
    colour = np.array([[[255, 0, 0], [0, 255, 0], [0, 0, 255]]], np.uint8)
    assert scored_channel(colour, "matlab", grey=True).tolist() == [[76.0, 150.0, 29.0]]


def test_identical_images(photo_pairs):
    hr = photo_pairs[0][1]
    for convention in ("matlab", "basicsr"):
        assert psnr_y(hr, hr.copy(), 4, convention) == float("inf")
        assert ssim_y(hr, hr.copy(), 4, convention) == 1.0


def test_bad_shapes_and_conventions_are_refused(photo_pairs):
    sr, hr = photo_pairs[0]
    with pytest.raises(ValueError, match="differ in shape"):
        psnr_y(sr[:-4], hr, 4)
    with pytest.raises(ValueError, match="too small"):
        ssim_y(hr[:20, :20], hr[:20, :20], 5)
    with pytest.raises(ValueError, match="H x W x 3"):
        rgb_to_y(hr[..., 0])
    with pytest.raises(ValueError, match="unknown metric convention"):
        psnr_y(sr, hr, 4, "matlab2")
