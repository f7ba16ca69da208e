"""Real patches for the selection tests: one Set5 photo cut into small overlapping pairs."""

import numpy as np
import pytest

from idc_core.data.patches import Instance, PatchSettings, load_instance

SMALL_PATCHES = PatchSettings(patch_size=32, step=16, scale=4)


@pytest.fixture(scope="session")
def butterfly(set5_dir) -> Instance:
    """225 real HR/LR pairs (32x32 HR, 8x8 LR) from Set5's butterfly."""
    return load_instance(set5_dir / "butterfly.png", SMALL_PATCHES)


@pytest.fixture(scope="session")
def pixel_features(butterfly) -> np.ndarray:
    """A cheap real embedding for algorithm checks: the flattened LR patch in [0, 1]."""
    return butterfly.lr.reshape(len(butterfly), -1).astype(np.float64) / 255.0
