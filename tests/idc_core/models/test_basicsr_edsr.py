"""`edsr-baseline` is BasicSR's EDSR: weights go to BasicSR and back with identical outputs.

basicsr cannot be installed here (its `arch_util` imports torchvision at import time), so
`BasicSREDSR` below rebuilds `basicsr/archs/edsr_arch.py` (BasicSR 1.4.2) with its helpers
`ResidualBlockNoBN`, `Upsample` and `make_layer` as BasicSR defines them.
"""

import math

import pytest
import torch
from safetensors.torch import load_file, save_file
from torch import nn

from idc_core.models import ModelLoadError, build_model, load_model, save_model


class ResidualBlockNoBN(nn.Module):
    def __init__(self, num_feat=64, res_scale=1, pytorch_init=False):
        super().__init__()
        self.res_scale = res_scale
        self.conv1 = nn.Conv2d(num_feat, num_feat, 3, 1, 1, bias=True)
        self.conv2 = nn.Conv2d(num_feat, num_feat, 3, 1, 1, bias=True)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x):
        identity = x
        out = self.conv2(self.relu(self.conv1(x)))
        return identity + out * self.res_scale


class Upsample(nn.Sequential):
    def __init__(self, scale, num_feat):
        m = []
        if (scale & (scale - 1)) == 0:
            for _ in range(int(math.log(scale, 2))):
                m.append(nn.Conv2d(num_feat, 4 * num_feat, 3, 1, 1))
                m.append(nn.PixelShuffle(2))
        elif scale == 3:
            m.append(nn.Conv2d(num_feat, 9 * num_feat, 3, 1, 1))
            m.append(nn.PixelShuffle(3))
        super().__init__(*m)


class BasicSREDSR(nn.Module):
    def __init__(
        self,
        num_in_ch,
        num_out_ch,
        num_feat=64,
        num_block=16,
        upscale=4,
        res_scale=1,
        img_range=255.0,
        rgb_mean=(0.4488, 0.4371, 0.4040),
    ):
        super().__init__()
        self.img_range = img_range
        self.mean = torch.Tensor(rgb_mean).view(1, 3, 1, 1)
        self.conv_first = nn.Conv2d(num_in_ch, num_feat, 3, 1, 1)
        self.body = nn.Sequential(
            *[ResidualBlockNoBN(num_feat, res_scale, pytorch_init=True) for _ in range(num_block)]
        )
        self.conv_after_body = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
        self.upsample = Upsample(upscale, num_feat)
        self.conv_last = nn.Conv2d(num_feat, num_out_ch, 3, 1, 1)

    def forward(self, x):
        self.mean = self.mean.type_as(x)
        x = (x - self.mean) * self.img_range
        x = self.conv_first(x)
        res = self.conv_after_body(self.body(x))
        res += x
        x = self.conv_last(self.upsample(res))
        x = x / self.img_range + self.mean
        return x


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_our_edsr_baseline_weights_run_identically_in_basicsr(tmp_path, lr_tensor, scale):
    torch.manual_seed(scale)
    ours = build_model("edsr-baseline", scale, num_feat=8, num_block=2).eval()
    path = save_model(ours, tmp_path / "ours.safetensors")
    basicsr = BasicSREDSR(3, 3, num_feat=8, num_block=2, upscale=scale).eval()
    basicsr.load_state_dict(load_file(str(path)), strict=True)  # BasicSR's load_network default
    with torch.no_grad():
        assert torch.equal(ours(lr_tensor), basicsr(lr_tensor))


@pytest.mark.parametrize("suffix", [".pth", ".safetensors"])
def test_a_basicsr_edsr_checkpoint_loads_as_edsr_baseline(tmp_path, lr_tensor, suffix):
    torch.manual_seed(0)
    ema, plain = (BasicSREDSR(3, 3, num_feat=8, num_block=3, upscale=4).eval() for _ in range(2))
    path = tmp_path / f"net_g_latest{suffix}"
    if suffix == ".pth":  # BasicSR's save_network with EMA: both keys, params_ema is the one used
        torch.save({"params": plain.state_dict(), "params_ema": ema.state_dict()}, path)
    else:
        save_file({k: v.contiguous() for k, v in ema.state_dict().items()}, str(path))
    model = load_model(path)
    assert (model.arch, model.scale) == ("edsr-baseline", 4)
    assert (model.config["num_feat"], model.config["num_block"]) == (8, 3)
    with torch.no_grad():
        assert torch.equal(model(lr_tensor), ema(lr_tensor))
        # Back to BasicSR through our own format: still the same network.
        again = load_model(save_model(model, tmp_path / "ours.safetensors"))
        assert torch.equal(again(lr_tensor), ema(lr_tensor))


def test_edsr_large_checkpoints_get_basicsr_residual_scale(tmp_path):
    torch.manual_seed(0)
    path = tmp_path / "edsr_l.pth"
    torch.save(
        {"params": BasicSREDSR(3, 3, num_feat=256, num_block=1, upscale=2).state_dict()}, path
    )
    assert load_model(path).config["res_scale"] == 0.1


def test_edsr_tiny_weights_cannot_pass_for_basicsr_edsr(tmp_path, lr_tensor):
    torch.manual_seed(0)
    tiny = build_model("edsr-tiny", 4, num_feat=8, num_block=2).eval()
    path = save_model(tiny, tmp_path / "tiny.safetensors")
    weights = load_file(str(path))
    with pytest.raises(RuntimeError, match="Unexpected key.*residual_over_bicubic"):
        BasicSREDSR(3, 3, num_feat=8, num_block=2, upscale=4).load_state_dict(weights)

    bare = tmp_path / "bare.safetensors"  # the weights without their .json
    save_file(weights, str(bare))
    with pytest.raises(ModelLoadError, match="edsr-tiny weights"):
        load_model(bare)
    torch.save({"params": weights}, tmp_path / "bare.pth")
    with pytest.raises(ModelLoadError, match="edsr-tiny weights"):
        load_model(tmp_path / "bare.pth")
