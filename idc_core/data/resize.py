"""Bicubic resizing exactly as MATLAB's `imresize` does it (the convention of the SR literature).

MATLAB widens the cubic kernel by 1/scale when down-sampling (anti-aliasing) and pads
symmetrically at the borders. Pillow's bicubic uses the same kernel but renormalises at the borders
and works in 8 bits, and torch's `interpolate` does not anti-alias the same way, so neither gives the
LR images that SR models are trained and evaluated on. Each axis is resized by one dense weight
matrix, which keeps this exact and fast enough for whole images.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np


def _cubic(x: np.ndarray) -> np.ndarray:
    """Keys' cubic kernel with a = -0.5, as MATLAB uses."""
    ax = np.abs(x)
    ax2, ax3 = ax**2, ax**3
    return (1.5 * ax3 - 2.5 * ax2 + 1) * (ax <= 1) + (-0.5 * ax3 + 2.5 * ax2 - 4 * ax + 2) * (
        (ax > 1) & (ax <= 2)
    )


@lru_cache(maxsize=64)
def _weight_matrix(in_len: int, out_len: int, scale: float) -> np.ndarray:
    """The (out_len x in_len) matrix that resizes one axis, with MATLAB's symmetric borders."""
    kernel_width = 4.0
    antialias = scale < 1
    if antialias:
        kernel_width /= scale
    out_coords = np.arange(1, out_len + 1, dtype=np.float64)
    centre = out_coords / scale + 0.5 * (1 - 1 / scale)
    left = np.floor(centre - kernel_width / 2)
    taps = int(math.ceil(kernel_width)) + 2
    indices = left[:, None] + np.arange(taps)[None, :]  # 1-based, like MATLAB
    distance = centre[:, None] - indices
    weights = scale * _cubic(scale * distance) if antialias else _cubic(distance)
    weights /= weights.sum(axis=1, keepdims=True)
    mirror = np.concatenate([np.arange(in_len), np.arange(in_len - 1, -1, -1)])
    columns = mirror[np.mod(indices.astype(np.int64) - 1, 2 * in_len)]
    matrix = np.zeros((out_len, in_len), dtype=np.float64)
    np.add.at(matrix, (np.repeat(np.arange(out_len), taps), columns.ravel()), weights.ravel())
    return matrix


def imresize(image: np.ndarray, scale: float) -> np.ndarray:
    """Resize an H x W (x C) float array by `scale` (0.25 = 4x smaller), MATLAB-style, in float64."""
    if scale <= 0:
        raise ValueError(f"scale must be positive, got {scale}")
    data = np.asarray(image, dtype=np.float64)
    height, width = data.shape[:2]
    out_h, out_w = math.ceil(height * scale), math.ceil(width * scale)
    rows = _weight_matrix(height, out_h, float(scale))
    cols = _weight_matrix(width, out_w, float(scale))
    resized = np.tensordot(rows, data, axes=(1, 0))  # out_h x W (x C)
    resized = np.tensordot(cols, resized, axes=(1, 1))  # out_w x out_h (x C)
    return np.swapaxes(resized, 0, 1)


def bicubic_downsample(image: np.ndarray, scale: int) -> np.ndarray:
    """Down-sample an H x W x 3 uint8 image by an integer factor; H and W must be multiples of it."""
    if image.dtype != np.uint8:
        raise ValueError(f"expected uint8 pixels, got {image.dtype}")
    height, width = image.shape[:2]
    if height % scale or width % scale:
        raise ValueError(f"image size {width}x{height} is not a multiple of scale {scale}")
    resized = imresize(image.astype(np.float64), 1.0 / scale)
    return np.clip(np.round(resized), 0, 255).astype(np.uint8)
