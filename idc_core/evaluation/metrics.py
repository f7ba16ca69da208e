"""Y-channel PSNR and SSIM computed as BasicSR's `calculate_psnr` / `calculate_ssim` compute them.

Both take uint8 RGB images (H x W x 3), crop `crop_border` pixels from every side (the SR scale,
by convention), convert to the Y channel of ITU-R BT.601 YCbCr as MATLAB's `rgb2ycbcr` does
(Y in [16, 235], kept in float64 and not rounded, as BasicSR does) and compare on the [0, 255]
scale. SSIM uses an 11 x 11 Gaussian window (sigma 1.5), K1 = 0.01, K2 = 0.03, and averages the
SSIM map over the "valid" region where the window fits entirely inside the image.
"""

from __future__ import annotations

import numpy as np
from scipy.signal import convolve2d

Y_WEIGHTS = np.array([65.481, 128.553, 24.966])  # MATLAB rgb2ycbcr, for RGB in [0, 1]
SSIM_WINDOW, SSIM_SIGMA, SSIM_K1, SSIM_K2 = 11, 1.5, 0.01, 0.03


def rgb_to_y(image: np.ndarray) -> np.ndarray:
    """H x W x 3 RGB in [0, 255] (uint8 or float) -> float64 Y = 16 + (65.481 R + ...) / 255."""
    rgb = np.asarray(image, dtype=np.float64)
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"expected an H x W x 3 RGB image, got shape {rgb.shape}")
    return 16.0 + rgb @ Y_WEIGHTS / 255.0


def _y_pair(sr: np.ndarray, hr: np.ndarray, crop_border: int) -> tuple[np.ndarray, np.ndarray]:
    if sr.shape != hr.shape:
        raise ValueError(f"images differ in shape: {sr.shape} vs {hr.shape}")
    if crop_border < 0:
        raise ValueError(f"crop_border must be >= 0, got {crop_border}")
    if crop_border:
        sr = sr[crop_border:-crop_border, crop_border:-crop_border]
        hr = hr[crop_border:-crop_border, crop_border:-crop_border]
    return rgb_to_y(sr), rgb_to_y(hr)


def psnr_y(sr: np.ndarray, hr: np.ndarray, crop_border: int) -> float:
    """PSNR in dB between the Y channels; inf for identical images."""
    y_sr, y_hr = _y_pair(sr, hr, crop_border)
    mse = float(np.mean((y_sr - y_hr) ** 2))
    return float("inf") if mse == 0 else float(10.0 * np.log10(255.0**2 / mse))


def _gaussian_window() -> np.ndarray:
    """The 2-D window of OpenCV's getGaussianKernel(11, 1.5) outer-multiplied with itself."""
    offsets = np.arange(SSIM_WINDOW) - SSIM_WINDOW // 2
    kernel = np.exp(-(offsets**2) / (2 * SSIM_SIGMA**2))
    kernel /= kernel.sum()
    return np.outer(kernel, kernel)


def ssim_y(sr: np.ndarray, hr: np.ndarray, crop_border: int) -> float:
    """Mean SSIM between the Y channels; 1.0 for identical images."""
    y_sr, y_hr = _y_pair(sr, hr, crop_border)
    if min(y_sr.shape) < SSIM_WINDOW:
        raise ValueError(f"image too small for SSIM after cropping: {y_sr.shape}")
    window = _gaussian_window()

    def local_mean(a: np.ndarray) -> np.ndarray:
        return convolve2d(a, window, mode="valid")

    c1, c2 = (SSIM_K1 * 255) ** 2, (SSIM_K2 * 255) ** 2
    mu1, mu2 = local_mean(y_sr), local_mean(y_hr)
    var1 = local_mean(y_sr**2) - mu1**2
    var2 = local_mean(y_hr**2) - mu2**2
    cov = local_mean(y_sr * y_hr) - mu1 * mu2
    ssim_map = ((2 * mu1 * mu2 + c1) * (2 * cov + c2)) / (
        (mu1**2 + mu2**2 + c1) * (var1 + var2 + c2)
    )
    return float(ssim_map.mean())
