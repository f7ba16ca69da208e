"""Image files in, 8-bit RGB arrays out, whatever the file's mode or bit depth."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
# Pillow modes of one-channel files (grey levels, possibly with alpha, 1 to 32 bits).
GREY_MODES = ("1", "L", "LA", "La", "I", "I;16", "I;16B", "I;16L", "I;16N", "F")


class ImageReadError(ValueError):
    """An image file is missing, unreadable, or a folder holds no images."""


def _to_uint8(array: np.ndarray) -> np.ndarray:
    """Scale 16/32-bit integer or float pixel data to 8 bits."""
    if array.dtype == np.uint8:
        return array
    if np.issubdtype(array.dtype, np.floating):
        return (np.clip(array, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    # 16-bit data (Pillow opens it as I;16 or I): 0..65535 -> 0..255 with rounding.
    wide = np.clip(array.astype(np.int64), 0, 65535)
    return ((wide * 255 + 32767) // 65535).astype(np.uint8)


def to_rgb_array(image: Image.Image) -> np.ndarray:
    """Convert any Pillow image (grey, palette, alpha, CMYK, 16-bit) to an H x W x 3 uint8 array."""
    if image.mode in ("I", "I;16", "I;16B", "I;16L", "I;16N", "F"):
        grey = _to_uint8(np.asarray(image))
        return np.repeat(grey[:, :, None], 3, axis=2)
    if image.mode != "RGB":
        # Alpha is dropped (as cv2.imread does for SR datasets); CMYK, palette and grey become RGB.
        image = image.convert("RGB")
    return np.ascontiguousarray(np.asarray(image, dtype=np.uint8))


def load_rgb(path: str | Path) -> np.ndarray:
    """Read an image file as H x W x 3 uint8 RGB; raises ImageReadError with the reason."""
    path = Path(path)
    if not path.is_file():
        raise ImageReadError(f"{path}: no such file")
    try:
        with Image.open(path) as image:
            image.load()
            return to_rgb_array(image)
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as error:
        raise ImageReadError(f"{path}: cannot be read as an image ({error})") from error


def list_images(folder: str | Path) -> list[Path]:
    """The image files directly inside `folder`, sorted by name."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ImageReadError(f"{folder}: not a folder")
    images = sorted(
        p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS
    )
    if not images:
        raise ImageReadError(
            f"{folder}: holds no images (looked for {', '.join(IMAGE_EXTENSIONS)})"
        )
    return images


def save_png(path: str | Path, array: np.ndarray) -> None:
    """Write an H x W x 3 uint8 array as a lossless PNG."""
    if array.dtype != np.uint8 or array.ndim != 3 or array.shape[2] != 3:
        raise ValueError(f"expected H x W x 3 uint8, got {array.dtype} {array.shape}")
    Image.fromarray(array, mode="RGB").save(path, format="PNG")
