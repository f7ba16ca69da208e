"""Real training pairs: overlapping 32 x 32 HR patches (8 x 8 LR) of two T91 images."""

import pytest

from idc_core.data.paired import PairedArrays
from idc_core.data.patches import PatchSettings
from idc_core.training import patches_from_images

PATCHES = PatchSettings(patch_size=32, step=32, scale=4)


@pytest.fixture(scope="session")
def t91_pairs(t91_dir) -> PairedArrays:
    paths = sorted(t91_dir.glob("*.png"))[:2]
    return patches_from_images(paths, PATCHES)
