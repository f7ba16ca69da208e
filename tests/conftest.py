"""Shared fixtures: real photos that scikit-image ships (the suite runs from a clone alone), and
the published SR sets in the read-only shared/ folder beside the project for the tests that need
exactly those (the published bicubic figures, the 291-image benchmark subset).

Without ../shared those tests skip, saying why; CI sets IDC_TEST_REQUIRE_SHARED=1 so that there
they fail instead of skipping.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import skimage.data
from PIL import Image

# Real Postgres, Redis, S3 server and Celery worker fixtures, shared by tests/app and tests/worker.
pytest_plugins = ["tests.conftest_service"]

SHARED_SR = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "sr"

# Test photos: name -> (scikit-image photo, top, left, height, width). Crops of real photos at
# the sizes of Set5's images, so that tests cost what they cost on Set5; `camera` is a
# greyscale file (as Set14's bridge is).
PHOTOS = {
    "astronaut": ("astronaut", 0, 0, 512, 512),
    "chelsea": ("chelsea", 0, 80, 288, 288),
    "coffee": ("coffee", 100, 200, 256, 256),
    "rocket": ("rocket", 100, 200, 280, 280),
    "camera": ("camera", 60, 140, 344, 228),
}
# Small training photos, of T91's sizes (T91 itself: 76 to 300 pixels a side).
TRAIN_PHOTOS = {
    "coffee_cup": ("coffee", 60, 20, 176, 197),
    "hubble": ("hubble_deep_field", 300, 300, 129, 142),
    "ihc": ("immunohistochemistry", 100, 100, 190, 207),
    "astronaut_badge": ("astronaut", 290, 60, 119, 114),
    "rocket_sky": ("rocket", 0, 0, 179, 187),
    "chelsea_face": ("chelsea", 40, 120, 163, 157),
}


def _write_photos(folder: Path, photos: dict[str, tuple[str, int, int, int, int]]) -> Path:
    for name, (source, top, left, height, width) in photos.items():
        image = np.asarray(getattr(skimage.data, source)())[top : top + height, left : left + width]
        assert image.shape[:2] == (height, width), (name, image.shape)
        Image.fromarray(image).save(folder / f"{name}.png")
    return folder


@pytest.fixture(scope="session")
def photos_dir(tmp_path_factory) -> Path:
    """Five real photos (four colour, one greyscale), Set5-sized: a small test set."""
    return _write_photos(tmp_path_factory.mktemp("photos"), PHOTOS)


@pytest.fixture(scope="session")
def train_photos_dir(tmp_path_factory) -> Path:
    """Six small real colour photos, T91-sized: a small training set."""
    return _write_photos(tmp_path_factory.mktemp("train_photos"), TRAIN_PHOTOS)


def _published(name: str) -> Path:
    folder = SHARED_SR / name
    if not folder.is_dir():
        message = f"needs the published {name} set in {folder} (the shared/ folder beside the repo)"
        if os.environ.get("IDC_TEST_REQUIRE_SHARED") == "1":
            pytest.fail(message)
        pytest.skip(message)
    return folder


@pytest.fixture(scope="session")
def set5_dir() -> Path:
    return _published("Set5")


@pytest.fixture(scope="session")
def set14_dir() -> Path:
    return _published("Set14")


@pytest.fixture(scope="session")
def t91_dir() -> Path:
    return _published("T91")


@pytest.fixture(scope="session")
def bsd200_dir() -> Path:
    return _published("BSD200")
