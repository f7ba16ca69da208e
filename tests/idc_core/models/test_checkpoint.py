import json

import pytest
import torch

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


def test_a_state_dict_of_no_known_architecture_is_refused(tmp_path):
    path = tmp_path / "odd.pth"
    torch.save({"some.weight": torch.zeros(3, 3)}, path)
    with pytest.raises(ModelLoadError, match="cannot load"):
        load_model(path)
