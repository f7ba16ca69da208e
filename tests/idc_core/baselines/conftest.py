"""Real patches for the selection tests: one real photo cut into small overlapping pairs."""

import numpy as np
import pytest

from idc_core.data.patches import Instance, PatchSettings, load_instance

SMALL_PATCHES = PatchSettings(patch_size=32, step=16, scale=4)


@pytest.fixture(scope="session")
def coffee(photos_dir) -> Instance:
    """225 real HR/LR pairs (32x32 HR, 8x8 LR) from the 256x256 coffee photo."""
    return load_instance(photos_dir / "coffee.png", SMALL_PATCHES)


@pytest.fixture(scope="session")
def pixel_features(coffee) -> np.ndarray:
    """A cheap real embedding for algorithm checks: the flattened LR patch in [0, 1]."""
    return coffee.lr.reshape(len(coffee), -1).astype(np.float64) / 255.0
