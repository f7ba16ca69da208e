"""A real LR crop for model tests: a small corner of the chelsea photo, as an N x 3 x h x w tensor."""

import pytest
import torch

from idc_core.data.images import load_rgb
from idc_core.data.resize import bicubic_downsample


@pytest.fixture(scope="session")
def lr_tensor(photos_dir) -> torch.Tensor:
    """1 x 3 x 24 x 20 in [0, 1]: bicubic x4 down-sampling of a 96 x 80 crop of chelsea.png."""
    hr = load_rgb(photos_dir / "chelsea.png")[100:196, 100:180]
    lr = bicubic_downsample(hr, 4)
    return torch.from_numpy(lr).permute(2, 0, 1)[None].float() / 255.0
