import pytest
import torch
import torch.nn.functional as F

from idc_core.models import ARCH_PRESETS, build_model


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_output_and_feature_shapes(lr_tensor, scale):
    torch.manual_seed(0)
    model = build_model("edsr-tiny", scale, num_feat=8, num_block=1)
    with torch.no_grad():
        out, features = model(lr_tensor), model.extract_features(lr_tensor)
    assert out.shape == (1, 3, 24 * scale, 20 * scale)
    assert features.shape == (1, model.feature_channels, 24, 20)
    assert model.feature_channels == 8


def test_features_are_the_upsamplers_input(lr_tensor):
    torch.manual_seed(0)
    model = build_model("edsr-baseline", 2, num_feat=16, num_block=2)
    seen = []
    model.upsample.register_forward_pre_hook(lambda _m, inputs: seen.append(inputs[0]))
    with torch.no_grad():
        model(lr_tensor)
        features = model.extract_features(lr_tensor)
    assert torch.equal(seen[0], features)


def test_tiny_predicts_a_residual_over_bicubic(lr_tensor):
    torch.manual_seed(0)
    model = build_model("edsr-tiny", 4)
    assert model.config["num_feat"] == 32 and "rgb_mean" not in model.config
    with torch.no_grad():
        model.conv_last.weight.zero_()
        model.conv_last.bias.zero_()
        out = model(lr_tensor)
    bicubic = F.interpolate(lr_tensor, scale_factor=4, mode="bicubic", align_corners=False)
    assert torch.allclose(out, bicubic)


def test_baseline_mean_shift_is_undone_at_the_output(lr_tensor):
    torch.manual_seed(0)
    model = build_model("edsr-baseline", 2, num_block=1)
    assert model.config["num_feat"] == ARCH_PRESETS["edsr-baseline"]["num_feat"] == 64
    with torch.no_grad():
        model.conv_last.weight.zero_()
        model.conv_last.bias.zero_()
        out = model(lr_tensor)
    mean = torch.tensor(model.config["rgb_mean"]).view(1, 3, 1, 1).expand_as(out)
    assert torch.allclose(out, mean)


def test_bad_requests_are_refused():
    with pytest.raises(ValueError, match="edsr-baseline, edsr-tiny"):
        build_model("swinir", 4)
    with pytest.raises(ValueError, match="scales"):
        build_model("edsr-tiny", 5)
    with pytest.raises(ValueError, match="bad settings"):
        build_model("edsr-tiny", 4, channels=3)
