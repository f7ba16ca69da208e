import json

import pytest
import torch
from safetensors.torch import load_file, save_file

from idc_core.models import ModelLoadError, build_model, load_model, save_model


def test_round_trip_gives_identical_outputs(tmp_path, lr_tensor):
    torch.manual_seed(1)
    model = build_model("edsr-tiny", 3, num_feat=8, num_block=2).eval()
    path = save_model(model, tmp_path / "sub" / "teacher.safetensors")
    meta = json.loads(path.with_suffix(".json").read_text())
    assert (meta["arch"], meta["scale"], meta["config"]["num_feat"]) == ("edsr-tiny", 3, 8)
    assert meta["idc_version"]
    loaded = load_model(path)
    assert not loaded.training
    with torch.no_grad():
        assert torch.equal(model(lr_tensor), loaded(lr_tensor))
        assert torch.equal(model.extract_features(lr_tensor), loaded.extract_features(lr_tensor))
    assert not list(tmp_path.glob("sub/.*tmp"))


def test_save_needs_safetensors_suffix(tmp_path):
    with pytest.raises(ValueError, match="safetensors"):
        save_model(build_model("edsr-tiny", 4, num_feat=4, num_block=0), tmp_path / "m.pth")


def test_missing_corrupt_and_mismatched_files_raise_model_load_error(tmp_path):
    with pytest.raises(ModelLoadError, match="no such model file"):
        load_model(tmp_path / "absent.safetensors")

    corrupt = tmp_path / "corrupt.safetensors"
    corrupt.write_bytes(b"\x00\x01 not a model")
    with pytest.raises(ModelLoadError, match="cannot load"):
        load_model(corrupt)

    path = save_model(
        build_model("edsr-tiny", 4, num_feat=8, num_block=1), tmp_path / "m.safetensors"
    )
    meta_file = path.with_suffix(".json")
    meta = json.loads(meta_file.read_text())
    meta["config"]["num_feat"] = 16
    meta_file.write_text(json.dumps(meta))
    with pytest.raises(ModelLoadError, match="do not fit"):
        load_model(path)

    meta_file.write_text("{ not json")
    with pytest.raises(ModelLoadError, match="unreadable"):
        load_model(path)


def test_a_state_dict_of_no_known_architecture_says_what_it_is_and_what_loads(tmp_path):
    path = tmp_path / "odd.pth"
    torch.save({"some.weight": torch.zeros(3, 3)}, path)
    with pytest.raises(ModelLoadError) as refused:
        load_model(path)
    message = str(refused.value)
    assert "no known architecture matches" in message and "some.weight" in message
    assert "BasicSR's EDSR" in message and "SwinIR" in message and "ESRGAN" in message


def _as_format_1(path, **config_changes):
    """Rewrite a saved checkpoint as format 1 wrote it: EDSR configs with `bicubic_skip` and
    `rgb_mean` for both presets, no marker tensor in the weights."""
    meta_file = path.with_suffix(".json")
    meta = json.loads(meta_file.read_text())
    tiny = meta["arch"] == "edsr-tiny"
    meta["format_version"] = 1
    meta["config"].update(
        {"bicubic_skip": tiny, "rgb_mean": None if tiny else [0.4488, 0.4371, 0.404]}
    )
    meta["config"].update(config_changes)
    meta_file.write_text(json.dumps(meta))
    weights = load_file(str(path))
    weights.pop("residual_over_bicubic", None)
    save_file(weights, str(path))


@pytest.mark.parametrize("arch", ["edsr-tiny", "edsr-baseline"])
def test_format_1_checkpoints_of_the_same_network_still_load(tmp_path, lr_tensor, arch):
    torch.manual_seed(0)
    model = build_model(arch, 2, num_feat=8, num_block=1).eval()
    path = save_model(model, tmp_path / "old.safetensors")
    _as_format_1(path)
    with torch.no_grad():
        assert torch.equal(load_model(path)(lr_tensor), model(lr_tensor))


def test_a_format_1_edsr_baseline_that_is_not_basicsr_edsr_is_refused(tmp_path):
    path = save_model(
        build_model("edsr-baseline", 2, num_feat=8, num_block=1), tmp_path / "m.safetensors"
    )
    _as_format_1(path, bicubic_skip=True, rgb_mean=None)
    with pytest.raises(ModelLoadError, match="neither BasicSR's EDSR"):
        load_model(path)


def test_edsr_tiny_and_baseline_weights_are_not_swapped(tmp_path):
    tiny = save_model(
        build_model("edsr-tiny", 2, num_feat=8, num_block=1), tmp_path / "t.safetensors"
    )
    base = save_model(
        build_model("edsr-baseline", 2, num_feat=8, num_block=1), tmp_path / "b.safetensors"
    )
    tiny_meta, base_meta = (json.loads(p.with_suffix(".json").read_text()) for p in (tiny, base))
    tiny.with_suffix(".json").write_text(json.dumps(base_meta))
    base.with_suffix(".json").write_text(json.dumps(tiny_meta))
    with pytest.raises(ModelLoadError, match="they are edsr-tiny weights"):
        load_model(tiny)
    with pytest.raises(ModelLoadError, match="not edsr-tiny weights"):
        load_model(base)
