"""Randomly initialised third-party architectures, saved as files and read back through spandrel."""

import importlib.util
import subprocess
import sys

import pytest
import torch
from safetensors.torch import save_file

from idc_core.models import ModelLoadError, load_model, save_model
from idc_core.models.spandrel_adapter import SUPPORTED_ARCHS, import_spandrel

spandrel = import_spandrel()
from spandrel.architectures.Compact import Compact  # noqa: E402
from spandrel.architectures.CRAFT import CRAFT  # noqa: E402
from spandrel.architectures.DAT import DAT  # noqa: E402
from spandrel.architectures.DRCT import DRCT  # noqa: E402
from spandrel.architectures.ESRGAN import ESRGAN  # noqa: E402
from spandrel.architectures.FDAT import FDAT  # noqa: E402
from spandrel.architectures.HAT import HAT  # noqa: E402
from spandrel.architectures.MoESR import MoESR  # noqa: E402
from spandrel.architectures.OmniSR import OmniSR  # noqa: E402
from spandrel.architectures.RCAN import RCAN  # noqa: E402
from spandrel.architectures.RGT import RGT  # noqa: E402
from spandrel.architectures.SAFMN import SAFMN  # noqa: E402
from spandrel.architectures.SeemoRe import SeemoRe  # noqa: E402
from spandrel.architectures.SPAN import SPAN  # noqa: E402
from spandrel.architectures.Swin2SR import Swin2SR  # noqa: E402
from spandrel.architectures.SwinIR import SwinIR  # noqa: E402
from spandrel_extra_arches.architectures.SRFormer import SRFormer  # noqa: E402


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


def swinir_like_tail(net, features):
    """What SwinIR-like networks (pixelshuffle up-sampler) do after the feature layer."""
    return (
        net.conv_last(net.upsample(net.conv_before_upsample(features))) / net.img_range + net.mean
    )


def transformer(cls, **settings):
    """A small transformer: 16-pixel training size, 12 channels unless said otherwise."""
    return lambda: cls(**{"img_size": 16, "embed_dim": 12, **settings})


# spandrel arch -> (small network, scale, feature channels, what the network does after them).
# CRAFT pads every input inside its forward, so its features have no exact tail to check.
ROUND_TRIPS = {
    "ESRGAN": (
        lambda: ESRGAN(num_filters=8, num_blocks=1, scale=4),
        4,
        8,
        lambda n, f: n.model[2:](f),
    ),
    "DAT": (
        transformer(DAT, embed_dim=30, split_size=[2, 4], depth=[1], num_heads=[2], upscale=2),
        2,
        30,
        swinir_like_tail,
    ),
    "SRFormer": (
        transformer(
            SRFormer,
            depths=(1,),
            num_heads=(2,),
            window_size=4,
            upscale=4,
            upsampler="pixelshuffle",
        ),
        4,
        12,
        swinir_like_tail,
    ),
    "OmniSR": (
        lambda: OmniSR(num_feat=8, block_num=1, window_size=4, res_num=1, up_scale=3),
        3,
        8,
        lambda n, f: n.up(f),
    ),
    "DRCT": (
        transformer(
            DRCT,
            depths=(1,),
            num_heads=(2,),
            window_size=4,
            upscale=2,
            upsampler="pixelshuffle",
            gc=8,
        ),
        2,
        12,
        swinir_like_tail,
    ),
    "RGT": (
        transformer(RGT, depth=[1], num_heads=[2], upscale=2, split_size=[4, 4]),
        2,
        12,
        swinir_like_tail,
    ),
    "Swin2SR": (
        transformer(
            Swin2SR, depths=[1], num_heads=[2], window_size=4, upscale=2, upsampler="pixelshuffle"
        ),
        2,
        12,
        swinir_like_tail,
    ),
    "CRAFT": (
        lambda: CRAFT(
            window_size=8,
            embed_dim=12,
            depths=[1],
            num_heads=[2],
            split_size_0=2,
            split_size_1=8,
            upscale=2,
        ),
        2,
        12,
        None,
    ),
    "SeemoRe": (
        lambda: SeemoRe(
            scale=2, num_experts=2, num_layers=1, embedding_dim=8, global_kernel_size=3
        ),
        2,
        8,
        lambda n, f: n.upsampler(f) / n.img_range + n.mean,
    ),
    "SAFMN": (lambda: SAFMN(dim=8, n_blocks=1, upscaling_factor=2), 2, 8, lambda n, f: n.to_img(f)),
    "FDAT": (
        lambda: FDAT(
            scale=2,
            embed_dim=12,
            num_groups=1,
            depth_per_group=1,
            num_heads=2,
            window_size=4,
            mid_dim=8,
        ),
        2,
        12,
        lambda n, f: n.upsampler(f),
    ),
    "MoESR": (
        lambda: MoESR(scale=2, dim=8, n_blocks=1, n_block=1, upsample_dim=8),
        2,
        8,
        lambda n, f: n.upscale(f),
    ),
}


def test_every_supported_architecture_has_a_round_trip_test():
    assert set(SUPPORTED_ARCHS) == set(ROUND_TRIPS) | {"SwinIR", "HAT", "RCAN", "SPAN"}


@pytest.mark.parametrize("arch", list(ROUND_TRIPS))
def test_round_trip_of_a_random_network(tmp_path, lr_tensor, arch):
    """Saved as spandrel reads it, loaded through our loader: spandrel's outputs, and features
    that the rest of the network turns into exactly those outputs."""
    build, scale, channels, tail = ROUND_TRIPS[arch]
    torch.manual_seed(0)
    write = write_pth if len(arch) % 2 else write_safetensors  # both file kinds, spread over archs
    path = write(tmp_path, build(), arch)
    model = load_model(path)
    reference = spandrel.ModelLoader().load_from_file(str(path)).model.eval()
    assert (model.arch, model.scale, model.feature_channels) == (
        f"spandrel:{arch}",
        scale,
        channels,
    )
    crop = lr_tensor[..., :16, :16]  # a size every network here takes without padding
    with torch.no_grad():
        assert torch.equal(model(crop), reference(crop))
        if tail is not None:
            assert torch.allclose(
                tail(model.net, model.extract_features(crop)), model(crop), atol=1e-5
            )
        assert model(lr_tensor).shape == (1, 3, 24 * scale, 20 * scale)
        assert model.extract_features(lr_tensor).shape == (1, channels, 24, 20)


def test_esrgan_with_pixel_unshuffle_gives_features_at_the_unshuffled_size(tmp_path, lr_tensor):
    torch.manual_seed(0)
    net = ESRGAN(in_nc=12, num_filters=8, num_blocks=1, scale=4, shuffle_factor=2)  # Real-ESRGAN x2
    model = load_model(write_pth(tmp_path, net, "realesrgan_x2"))
    assert (model.arch, model.scale, model.unshuffle) == ("spandrel:ESRGAN", 2, 2)
    with torch.no_grad():
        assert torch.equal(model(lr_tensor), net.eval()(lr_tensor))
        assert model.extract_features(lr_tensor).shape == (1, 8, 12, 10)


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
    with pytest.raises(ModelLoadError, match="Compact x4 model, but IDC cannot use it") as refused:
        load_model(write_pth(tmp_path, compact, "compact"))
    assert ", ".join(SUPPORTED_ARCHS) in str(refused.value)


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
