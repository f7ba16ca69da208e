"""A small real teacher shared by the idc_core tests."""

import pytest
import torch

from idc_core.models import SRModel, build_model


@pytest.fixture()
def teacher() -> SRModel:
    """An untrained 8-channel, 1-block EDSR: real convolutions, CPU-cheap."""
    torch.manual_seed(0)
    return build_model("edsr-tiny", 4, num_feat=8, num_block=1)
