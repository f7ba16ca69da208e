"""`idc teacher train`, `idc train-student` and `idc evaluate` end to end on real images."""

import json
import shutil

import pytest
import torch
from typer.testing import CliRunner

from idc_core.cli.main import app
from idc_core.data.paired import write_pairs
from idc_core.data.patches import PatchSettings, load_instance
from idc_core.models import build_model, load_model

runner = CliRunner()


@pytest.fixture()
def images(tmp_path, train_photos_dir):
    folder = tmp_path / "images"
    folder.mkdir()
    for path in sorted(train_photos_dir.glob("*.png"))[:2]:
        shutil.copy(path, folder)
    return folder


def test_teacher_train_then_evaluate(tmp_path, images, photos_dir):
    out = tmp_path / "teacher.safetensors"
    args = ["teacher", "train", "--images", str(images), "--out", str(out), "--iterations", "3"]
    result = runner.invoke(app, [*args, "--batch-size", "2", "--device", "cpu"])
    assert result.exit_code == 0, result.output
    assert load_model(out).scale == 4
    history = json.loads((tmp_path / "teacher.history.json").read_text())
    assert len(history["losses"]) == 3 and history["recipe"]["iterations"] == 3

    report = tmp_path / "scores.json"
    args = ["evaluate", "--model", str(out), "--test-folders", str(photos_dir), "--bicubic"]
    result = runner.invoke(app, [*args, "--json", str(report), "--device", "cpu"])
    assert result.exit_code == 0, result.output
    assert photos_dir.name in result.output and "bicubic" in result.output
    assert "MATLAB convention" in result.output
    scores = json.loads(report.read_text())
    assert scores["convention"] == "matlab" and scores["device"] == "cpu"
    assert [r["method"] for r in scores["results"]] == ["edsr-tiny", "bicubic"]
    assert {r["convention"] for r in scores["results"]} == {"matlab"}
    assert len(scores["results"][0]["images"]) == 5


def test_train_student_on_a_paired_folder_with_float_lr(tmp_path, photos_dir):
    instance = load_instance(
        photos_dir / "chelsea.png", PatchSettings(patch_size=64, step=64, scale=2)
    )
    data = tmp_path / "condensed"
    stems = [f"bird_{i}" for i in range(len(instance))]
    write_pairs(data, stems, instance.hr, instance.lr, lr_float=instance.lr / 255.0)
    out = tmp_path / "student.safetensors"
    args = ["train-student", "--data", str(data), "--out", str(out), "--iterations", "2"]
    result = runner.invoke(app, [*args, "--batch-size", "2", "--device", "cpu", "--seed", "5"])
    assert result.exit_code == 0, result.output
    assert "float32 LR" in result.output
    student = load_model(out)
    assert student.scale == 2
    torch.manual_seed(5)  # the student's initial weights: trained ones must differ
    initial = build_model("edsr-tiny", 2).state_dict()
    assert any(not torch.equal(v, initial[k]) for k, v in student.state_dict().items())
    assert len(json.loads((tmp_path / "student.history.json").read_text())["losses"]) == 2


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["teacher", "train", "--images", "missing", "--out", "t.safetensors"], "not a folder"),
        (["teacher", "train", "--images", "{images}", "--out", "t.pt"], ".safetensors"),
        (
            ["teacher", "train", "--images", "{images}", "--out", "t.safetensors", "--scale", "5"],
            "scale",
        ),
        (
            ["teacher", "train", "--images", "{images}", "--out", "t.safetensors", "--recipe", "x"],
            "unknown training recipe",
        ),
        (["train-student", "--data", "{images}", "--out", "s.safetensors"], "paired layout"),
        (["evaluate", "--model", "{corrupt}", "--test-folders", "{images}"], "cannot load"),
        (["evaluate", "--model", "{corrupt}"], "at least one test folder"),
        (["evaluate", "--model", "{corrupt}", "no-such-folder"], "not a folder"),
    ],
)
def test_bad_arguments_exit_1_with_a_message(tmp_path, images, args, message):
    corrupt = tmp_path / "corrupt.safetensors"
    corrupt.write_bytes(b"not a model at all")
    args = [a.format(images=images, corrupt=corrupt) for a in args]
    result = runner.invoke(app, args)
    assert result.exit_code == 1
    assert message in result.output
    assert "Traceback" not in result.output
    assert (
        not list(tmp_path.glob("*.safetensors.tmp")) and not (tmp_path / "t.safetensors").exists()
    )


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_cuda_without_a_gpu_is_a_clear_error(tmp_path, images):
    args = ["teacher", "train", "--images", str(images), "--out", str(tmp_path / "t.safetensors")]
    result = runner.invoke(app, [*args, "--device", "cuda"])
    assert result.exit_code == 1 and "CUDA is not available" in result.output


def test_teacher_train_never_replaces_a_model_unasked(tmp_path, images):
    out = tmp_path / "teacher.safetensors"
    args = ["teacher", "train", "--images", str(images), "--out", str(out), "--iterations", "2"]
    args += ["--batch-size", "2", "--device", "cpu"]
    assert runner.invoke(app, args).exit_code == 0
    files = ("teacher.safetensors", "teacher.json", "teacher.history.json")
    before = {name: (tmp_path / name).read_bytes() for name in files}
    again = runner.invoke(app, [*args, "--seed", "5"])
    assert again.exit_code != 0 and "--overwrite" in again.output
    assert {name: (tmp_path / name).read_bytes() for name in files} == before
    replaced = runner.invoke(app, [*args, "--seed", "5", "--overwrite"])
    assert replaced.exit_code == 0, replaced.output
    assert (tmp_path / "teacher.safetensors").read_bytes() != before["teacher.safetensors"]
