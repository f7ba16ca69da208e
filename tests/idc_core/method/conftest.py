"""Small real instances and a small real teacher for the method tests (seconds each)."""

import pytest

from idc_core.data.images import load_rgb
from idc_core.data.patches import Instance, PatchSettings, make_instance

SMALL_PATCHES = PatchSettings(patch_size=32, step=16, scale=4)


@pytest.fixture(scope="session")
def small_instance(photos_dir) -> Instance:
    """25 real pairs (32x32 HR, 8x8 LR) from a 96x96 corner of the coffee photo."""
    image = load_rgb(photos_dir / "coffee.png")
    return make_instance("coffee", image[64:160, 64:160], SMALL_PATCHES)
