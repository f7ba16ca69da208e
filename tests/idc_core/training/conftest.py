"""Real training pairs: overlapping 32 x 32 HR patches (8 x 8 LR) of two small training photos."""

import pytest

from idc_core.data.paired import PairedArrays
from idc_core.data.patches import PatchSettings
from idc_core.training import patches_from_images

PATCHES = PatchSettings(patch_size=32, step=32, scale=4)


@pytest.fixture(scope="session")
def t91_pairs(train_photos_dir) -> PairedArrays:
    paths = sorted(train_photos_dir.glob("*.png"))[:2]
    return patches_from_images(paths, PATCHES)
