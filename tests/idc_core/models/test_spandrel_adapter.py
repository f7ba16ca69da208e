"""Randomly initialised third-party architectures, saved as files and read back through spandrel."""

import importlib.util
import subprocess
import sys

import pytest
import torch
from safetensors.torch import save_file

from idc_core.models import ModelLoadError, load_model, save_model
from idc_core.models.spandrel_adapter import SUPPORTED_ARCHS, import_spandrel

import_spandrel()
from spandrel.architectures.Compact import Compact  # noqa: E402
from spandrel.architectures.HAT import HAT  # noqa: E402
from spandrel.architectures.RCAN import RCAN  # noqa: E402
from spandrel.architectures.SPAN import SPAN  # noqa: E402
from spandrel.architectures.SwinIR import SwinIR  # noqa: E402


def small_swinir(upscale: int, upsampler: str = "pixelshuffle") -> SwinIR:
    return SwinIR(
        upscale=upscale,
        img_size=16,
        window_size=4,
        depths=[1, 1],
        embed_dim=12,
        num_heads=[2, 2],
        mlp_ratio=2,
        upsampler=upsampler,
        resi_connection="1conv",
    )


def write_pth(tmp_path, net: torch.nn.Module, name: str):
    path = tmp_path / f"{name}.pth"
    torch.save(net.state_dict(), path)
    return path


def write_safetensors(tmp_path, net: torch.nn.Module, name: str):
    path = tmp_path / f"{name}.safetensors"
    save_file({k: v.contiguous().clone() for k, v in net.state_dict().items()}, str(path))
    return path


def test_swinir_forward_and_features(tmp_path, lr_tensor):
    torch.manual_seed(0)
    net = small_swinir(upscale=4)
    model = load_model(write_pth(tmp_path, net, "swinir"))
    assert (model.arch, model.scale, model.feature_channels) == ("spandrel:SwinIR", 4, 12)
    with torch.no_grad():
        assert model(lr_tensor).shape == (1, 3, 96, 80)
        features = model.extract_features(lr_tensor)  # 24 x 20: padded inside to windows of 4
        assert features.shape == (1, 12, 24, 20)
        # By hand: conv_after_body(forward_features(conv_first(x))) + conv_first(x), x normalised.
        net.eval()
        x = (lr_tensor - net.mean) * net.img_range
        head = net.conv_first(x)
        expected = net.conv_after_body(net.forward_features(head)) + head
        assert torch.allclose(features, expected, atol=1e-5)
        assert torch.allclose(model(lr_tensor), net(lr_tensor), atol=1e-5)


def test_swinir_lightweight_upsampler_and_odd_sizes(tmp_path):
    torch.manual_seed(0)
    model = load_model(write_safetensors(tmp_path, small_swinir(2, "pixelshuffledirect"), "light"))
    assert model.feature_module_name == "upsample"
    x = torch.rand(2, 3, 9, 13)  # below spandrel's 16-pixel minimum and off the window grid
    with torch.no_grad():
        assert model(x).shape == (2, 3, 18, 26)
        assert model.extract_features(x).shape == (2, 12, 9, 13)


def test_rcan_features_are_body_plus_skip(tmp_path, lr_tensor):
    torch.manual_seed(0)
    net = RCAN(scale=2, n_resgroups=1, n_resblocks=1, n_feats=16, reduction=4)
    model = load_model(write_pth(tmp_path, net, "rcan"))
    assert (model.arch, model.scale, model.feature_channels) == ("spandrel:RCAN", 2, 16)
    with torch.no_grad():
        assert model(lr_tensor).shape == (1, 3, 48, 40)
        net.eval()
        head = net.head(net.sub_mean(lr_tensor * net.rgb_range))
        expected = net.body(head) + head
        assert torch.allclose(model.extract_features(lr_tensor), expected, atol=1e-5)


def test_span_and_hat_shapes(tmp_path, lr_tensor):
    torch.manual_seed(0)
    span = load_model(
        write_pth(tmp_path, SPAN(num_in_ch=3, num_out_ch=3, feature_channels=8), "span")
    )
    hat_net = HAT(
        upscale=3,
        img_size=16,
        window_size=4,
        depths=[1],
        embed_dim=12,
        num_heads=[2],
        mlp_ratio=2,
        upsampler="pixelshuffle",
        resi_connection="1conv",
        compress_ratio=3,
        squeeze_factor=4,
        overlap_ratio=0.5,
    )
    hat = load_model(write_safetensors(tmp_path, hat_net, "hat"))
    with torch.no_grad():
        for model, scale, channels in ((span, 4, 8), (hat, 3, 12)):
            assert model(lr_tensor).shape == (1, 3, 24 * scale, 20 * scale)
            assert model.extract_features(lr_tensor).shape == (1, channels, 24, 20)


def test_spandrel_model_survives_our_save_and_load(tmp_path, lr_tensor):
    torch.manual_seed(0)
    model = load_model(write_pth(tmp_path, small_swinir(4), "swinir"))
    loaded = load_model(save_model(model, tmp_path / "ours.safetensors"))
    assert loaded.arch == "spandrel:SwinIR"
    with torch.no_grad():
        assert torch.equal(model(lr_tensor), loaded(lr_tensor))


def test_non_sr_and_unsupported_architectures_are_refused(tmp_path):
    torch.manual_seed(0)
    with pytest.raises(ModelLoadError, match="not a super-resolution model"):
        load_model(write_pth(tmp_path, small_swinir(1, upsampler=""), "denoiser"))
    compact = Compact(num_feat=8, num_conv=2, upscale=4)
    with pytest.raises(ModelLoadError, match=", ".join(SUPPORTED_ARCHS)):
        load_model(write_pth(tmp_path, compact, "compact"))


@pytest.mark.skipif(
    importlib.util.find_spec("torchvision") is not None, reason="real torchvision present"
)
def test_torchvision_stand_in_is_gone_after_importing_spandrel():
    code = (
        "import sys; from idc_core.models.spandrel_adapter import import_spandrel; "
        "s = import_spandrel(); print(hasattr(s, 'ModelLoader'), 'torchvision' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.split() == ["True", "False"], result.stderr


def test_spandrel_swinir_serves_as_the_idc_teacher(tmp_path, photos_dir):
    """A randomly initialised SwinIR read through spandrel drives IDC and makes the HR patches."""
    from idc_core.api import CondenseJob, PatchSettings, condense_images
    from idc_core.data.images import load_rgb, save_png
    from idc_core.data.paired import read_pairs

    torch.manual_seed(0)
    teacher = load_model(write_pth(tmp_path, small_swinir(4), "swinir"))
    image = tmp_path / "images" / "coffee.png"
    image.parent.mkdir()
    save_png(image, load_rgb(photos_dir / "coffee.png")[:64, :64])
    job = CondenseJob(
        ratio=0.25,
        patch=PatchSettings(patch_size=32, step=16, scale=4),
        preset="tiny",
        overrides={"c_out": 8},
        device="cpu",
    )
    records = condense_images([image], tmp_path / "out", job, teacher)
    pairs = read_pairs(tmp_path / "out")
    assert [r.n_synthetic for r in records] == [3]  # ceil(0.25 * 9 patches)
    assert pairs.hr.shape == (3, 32, 32, 3) and pairs.lr.shape == (3, 8, 8, 3)
    with torch.no_grad():
        lr = torch.from_numpy(pairs.lr).permute(0, 3, 1, 2).float() / 255
        expected = teacher(lr).clamp(0, 1).mul(255).round().byte().permute(0, 2, 3, 1).numpy()
    # Stage 2: the HR patches are the teacher's output (of the float LR, before PNG rounding).
    assert abs(expected.astype(int) - pairs.hr.astype(int)).mean() < 3
