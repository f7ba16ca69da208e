"""PSNR and SSIM on the luma channel, in the two conventions of the SR literature.

Both take uint8 RGB images (H x W x 3), crop `crop_border` pixels from every side (the SR scale,
by convention) and compare one channel on the [0, 255] scale:

- `matlab` (the default): the channel MATLAB evaluation scripts score, the convention of the
  published tables (Bicubic x4: Set5 28.42 dB, Set14 26.00 dB). Colour images are scored on the
  Y of `rgb2ycbcr`, which rounds Y to 8 bits for uint8 input; greyscale images (a one-channel
  file, such as Set14's `bridge`) are scored on their grey levels as they are, the SR output on
  its `rgb2gray` grey level (the same value for three equal channels).
- `basicsr`: exactly BasicSR's `calculate_psnr` / `calculate_ssim` with `test_y_channel=True`:
  Y of ITU-R BT.601 in [16, 235] kept as a float, greyscale images treated as three equal
  channels (so their Y is 16 + 219/255 x grey).

SSIM uses an 11 x 11 Gaussian window (sigma 1.5), K1 = 0.01, K2 = 0.03, and averages the SSIM
map over the "valid" region where the window fits entirely inside the image (as both MATLAB's
`ssim_index` and BasicSR do).
"""

from __future__ import annotations

from typing import Literal, get_args

import numpy as np
from scipy.signal import convolve2d

Convention = Literal["matlab", "basicsr"]
CONVENTIONS: tuple[str, ...] = get_args(Convention)
DEFAULT_CONVENTION: Convention = "matlab"

Y_WEIGHTS = np.array([65.481, 128.553, 24.966])  # MATLAB rgb2ycbcr, for RGB in [0, 1]
GREY_WEIGHTS = np.array([0.298936021293775, 0.587043074451121, 0.114020904255103])  # rgb2gray
SSIM_WINDOW, SSIM_SIGMA, SSIM_K1, SSIM_K2 = 11, 1.5, 0.01, 0.03


def check_convention(convention: str) -> Convention:
    """The convention, or a ValueError naming the choices."""
    if convention not in CONVENTIONS:
        raise ValueError(
            f"unknown metric convention {convention!r}; choose from {', '.join(CONVENTIONS)}"
        )
    return convention  # type: ignore[return-value]


def _matlab_round(values: np.ndarray) -> np.ndarray:
    """MATLAB's conversion of non-negative doubles to uint8: halves round up."""
    return np.clip(np.floor(values + 0.5), 0, 255)


def _rgb(image: np.ndarray) -> np.ndarray:
    rgb = np.asarray(image, dtype=np.float64)
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"expected an H x W x 3 RGB image, got shape {rgb.shape}")
    return rgb


def rgb_to_y(image: np.ndarray, rounded: bool = False) -> np.ndarray:
    """H x W x 3 RGB in [0, 255] -> float64 Y = 16 + (65.481 R + ...) / 255; `rounded` to 8 bits
    as MATLAB's rgb2ycbcr returns it for uint8 input."""
    y = 16.0 + _rgb(image) @ Y_WEIGHTS / 255.0
    return _matlab_round(y) if rounded else y


def rgb_to_grey(image: np.ndarray) -> np.ndarray:
    """H x W x 3 RGB in [0, 255] -> float64 grey level rounded as MATLAB's rgb2gray (uint8)."""
    return _matlab_round(_rgb(image) @ GREY_WEIGHTS)


def scored_channel(image: np.ndarray, convention: Convention, grey: bool = False) -> np.ndarray:
    """The one channel the convention compares (float64, [0, 255] scale).

    `grey` says that the HR image of the pair was a greyscale file; only `matlab` looks at it.
    """
    if check_convention(convention) == "basicsr":
        return rgb_to_y(image)
    return rgb_to_grey(image) if grey else rgb_to_y(image, rounded=True)


def _channel_pair(
    sr: np.ndarray, hr: np.ndarray, crop_border: int, convention: Convention, grey: bool
) -> tuple[np.ndarray, np.ndarray]:
    if sr.shape != hr.shape:
        raise ValueError(f"images differ in shape: {sr.shape} vs {hr.shape}")
    if crop_border < 0:
        raise ValueError(f"crop_border must be >= 0, got {crop_border}")
    if crop_border:
        sr = sr[crop_border:-crop_border, crop_border:-crop_border]
        hr = hr[crop_border:-crop_border, crop_border:-crop_border]
    return scored_channel(sr, convention, grey), scored_channel(hr, convention, grey)


def psnr_y(
    sr: np.ndarray,
    hr: np.ndarray,
    crop_border: int,
    convention: Convention = DEFAULT_CONVENTION,
    grey: bool = False,
) -> float:
    """PSNR in dB between the scored channels; inf for identical images."""
    a, b = _channel_pair(sr, hr, crop_border, convention, grey)
    mse = float(np.mean((a - b) ** 2))
    return float("inf") if mse == 0 else float(10.0 * np.log10(255.0**2 / mse))


def _gaussian_window() -> np.ndarray:
    """The 2-D window of OpenCV's getGaussianKernel(11, 1.5) outer-multiplied with itself."""
    offsets = np.arange(SSIM_WINDOW) - SSIM_WINDOW // 2
    kernel = np.exp(-(offsets**2) / (2 * SSIM_SIGMA**2))
    kernel /= kernel.sum()
    return np.outer(kernel, kernel)


def ssim_y(
    sr: np.ndarray,
    hr: np.ndarray,
    crop_border: int,
    convention: Convention = DEFAULT_CONVENTION,
    grey: bool = False,
) -> float:
    """Mean SSIM between the scored channels; 1.0 for identical images."""
    a, b = _channel_pair(sr, hr, crop_border, convention, grey)
    if min(a.shape) < SSIM_WINDOW:
        raise ValueError(f"image too small for SSIM after cropping: {a.shape}")
    window = _gaussian_window()

    def local_mean(x: np.ndarray) -> np.ndarray:
        return convolve2d(x, window, mode="valid")

    c1, c2 = (SSIM_K1 * 255) ** 2, (SSIM_K2 * 255) ** 2
    mu1, mu2 = local_mean(a), local_mean(b)
    var1 = local_mean(a**2) - mu1**2
    var2 = local_mean(b**2) - mu2**2
    cov = local_mean(a * b) - mu1 * mu2
    ssim_map = ((2 * mu1 * mu2 + c1) * (2 * cov + c2)) / (
        (mu1**2 + mu2**2 + c1) * (var1 + var2 + c2)
    )
    return float(ssim_map.mean())
