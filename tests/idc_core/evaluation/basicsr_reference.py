"""BasicSR 1.4.2's `calculate_psnr` / `calculate_ssim` (basicsr/metrics/psnr_ssim.py,
metric_util.to_y_channel, utils/color_util.bgr2ycbcr; Apache-2.0), transcribed line for line for
HWC images with `test_y_channel=True`, as the reference our `basicsr` convention must equal.

The one change: OpenCV's `filter2D` (not installed here) is scipy's `correlate` with the same
border (OpenCV's BORDER_REFLECT_101 is scipy's 'mirror'); the [5:-5] crop then keeps only the
values where the window lies inside the image, so the border never matters. BasicSR reads images
with cv2 as BGR: the inputs here are BGR, as there.
"""

import numpy as np
from scipy.ndimage import correlate


def _filter2d(img, window):
    return correlate(img, window, mode="mirror")


def _get_gaussian_kernel(ksize, sigma):
    """cv2.getGaussianKernel(ksize, sigma) for sigma > 0: a normalised column vector."""
    x = np.arange(ksize) - (ksize - 1) / 2
    kernel = np.exp(-(x**2) / (2 * sigma**2))
    return (kernel / kernel.sum())[:, None]


def bgr2ycbcr_y(img):
    """bgr2ycbcr(img, y_only=True) for float32 input in [0, 1]."""
    out_img = np.dot(img, [24.966, 128.553, 65.481]) + 16.0
    return out_img / 255.0  # _convert_output_type_range for float32


def to_y_channel(img):
    img = img.astype(np.float32) / 255.0
    if img.ndim == 3 and img.shape[2] == 3:
        img = bgr2ycbcr_y(img)
        img = img[..., None]
    return img * 255.0


def calculate_psnr(img, img2, crop_border):
    assert img.shape == img2.shape
    if crop_border != 0:
        img = img[crop_border:-crop_border, crop_border:-crop_border, ...]
        img2 = img2[crop_border:-crop_border, crop_border:-crop_border, ...]
    img = to_y_channel(img)
    img2 = to_y_channel(img2)
    img = img.astype(np.float64)
    img2 = img2.astype(np.float64)
    mse = np.mean((img - img2) ** 2)
    if mse == 0:
        return float("inf")
    return 10.0 * np.log10(255.0 * 255.0 / mse)


def _ssim(img, img2):
    c1 = (0.01 * 255) ** 2
    c2 = (0.03 * 255) ** 2
    kernel = _get_gaussian_kernel(11, 1.5)
    window = np.outer(kernel, kernel.transpose())
    mu1 = _filter2d(img, window)[5:-5, 5:-5]
    mu2 = _filter2d(img2, window)[5:-5, 5:-5]
    mu1_sq = mu1**2
    mu2_sq = mu2**2
    mu1_mu2 = mu1 * mu2
    sigma1_sq = _filter2d(img**2, window)[5:-5, 5:-5] - mu1_sq
    sigma2_sq = _filter2d(img2**2, window)[5:-5, 5:-5] - mu2_sq
    sigma12 = _filter2d(img * img2, window)[5:-5, 5:-5] - mu1_mu2
    ssim_map = ((2 * mu1_mu2 + c1) * (2 * sigma12 + c2)) / (
        (mu1_sq + mu2_sq + c1) * (sigma1_sq + sigma2_sq + c2)
    )
    return ssim_map.mean()


def calculate_ssim(img, img2, crop_border):
    assert img.shape == img2.shape
    if crop_border != 0:
        img = img[crop_border:-crop_border, crop_border:-crop_border, ...]
        img2 = img2[crop_border:-crop_border, crop_border:-crop_border, ...]
    img = to_y_channel(img)
    img2 = to_y_channel(img2)
    img = img.astype(np.float64)
    img2 = img2.astype(np.float64)
    ssims = []
    for i in range(img.shape[2]):
        ssims.append(_ssim(img[..., i], img2[..., i]))
    return np.array(ssims).mean()
