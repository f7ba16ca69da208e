"""`idc prepare` and `idc condense` end to end on real (cropped) photos."""

import hashlib
import json
import platform

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from idc_core.cli.main import app
from idc_core.data.images import load_rgb, save_png
from idc_core.data.paired import read_pairs
from idc_core.models import build_model, save_model

runner = CliRunner()
SMALL = ["--patch-size", "32", "--step", "16", "--scale", "4"]


@pytest.fixture()
def images(tmp_path, photos_dir):
    folder = tmp_path / "images"
    folder.mkdir()
    for name in ("astronaut", "chelsea"):
        save_png(folder / f"{name}.png", load_rgb(photos_dir / f"{name}.png")[40:136, 40:136])
    return folder


def test_prepare_writes_every_real_pair(tmp_path, images):
    out = tmp_path / "whole"
    result = runner.invoke(app, ["prepare", "--images", str(images), "--out", str(out), *SMALL])
    assert result.exit_code == 0, result.output
    pairs = read_pairs(out)
    assert pairs.hr.shape == (50, 32, 32, 3) and pairs.lr.shape == (50, 8, 8, 3)
    assert json.loads((out / "manifest.json").read_text())["pairs"] == 50


def test_condense_trains_a_teacher_then_resumes(tmp_path, images):
    out = tmp_path / "condensed"
    args = ["condense", "--images", str(images), "--out", str(out), *SMALL, "--ratio", "0.2"]
    args += ["--train-teacher", "--teacher-iterations", "2", "--preset", "tiny", "--device", "cpu"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["pairs"] == 10 and manifest["teacher"]["arch"] == "edsr-tiny"
    assert len(read_pairs(out)) == 10

    again = runner.invoke(app, args)
    assert again.exit_code == 0, again.output
    assert "reusing the teacher" in again.output


def test_condense_reports_bad_arguments(tmp_path, images):
    base = ["condense", "--images", str(images), "--out", str(tmp_path / "x"), *SMALL]
    for extra, message in [
        (["--ratio", "0"], "ratio"),
        (["--method", "herding"], "needs --teacher"),
        (["--preset", "v9"], "unknown preset"),
        (["--set", "nonsense"], "key=value"),
        (["--teacher", str(tmp_path / "missing.safetensors")], "no such model file"),
    ]:
        result = runner.invoke(app, base + extra)
        assert result.exit_code == 1, (extra, result.output)
        assert message in result.output, (extra, result.output)
    assert not (tmp_path / "x" / "HR").exists()


def check_output_digests(folder):
    """manifest.outputs pins SHA256SUMS, and SHA256SUMS every file of HR/, LR/, LR_float/."""
    manifest = json.loads((folder / "manifest.json").read_text())
    sums = (folder / "SHA256SUMS").read_text()
    assert manifest["outputs"]["sha256"] == hashlib.sha256(sums.encode()).hexdigest()
    listed = {}
    for line in sums.splitlines():
        digest, name = line.split("  ")
        listed[name] = digest
        assert hashlib.sha256((folder / name).read_bytes()).hexdigest() == digest
    on_disk = {
        str(p.relative_to(folder))
        for sub in ("HR", "LR", "LR_float")
        for p in folder.glob(f"{sub}/*")
    }
    assert on_disk | {"meta_info.txt"} == set(listed)
    return manifest


def check_environment(manifest):
    env = manifest["environment"]
    assert env["python"] == platform.python_version() and env["torch"] == torch.__version__
    assert env["numpy"] == np.__version__ and "spandrel" in env
    assert env["git"] is None or len(env["git"]["commit"]) == 40


def test_prepare_manifest_records_versions_and_output_digests(tmp_path, images):
    out = tmp_path / "whole"
    result = runner.invoke(
        app, ["prepare", "--images", str(images), "--out", str(out), *SMALL, "--float-lr"]
    )
    assert result.exit_code == 0, result.output
    manifest = check_output_digests(out)
    check_environment(manifest)
    assert manifest["outputs"]["files"] == {"HR": 50, "LR": 50, "LR_float": 50}
    assert manifest["sources"]["count"] == 2 and manifest["float_lr"] is True


def test_condense_manifest_records_device_dtype_and_no_unused_teacher(tmp_path, images):
    teacher = tmp_path / "t.safetensors"
    torch.manual_seed(0)
    save_model(build_model("edsr-tiny", 4, num_feat=8, num_block=1), teacher)
    out = tmp_path / "random"
    args = ["condense", "--images", str(images), "--out", str(out), *SMALL, "--ratio", "0.2"]
    result = runner.invoke(app, [*args, "--method", "random", "--teacher", str(teacher)])
    assert result.exit_code == 0, result.output
    assert "uses no teacher: ignoring it" in result.output
    manifest = check_output_digests(out)
    check_environment(manifest)
    assert manifest["teacher"] is None and manifest["job"]["device"] == "auto"
    expected_device = "cuda:0" if torch.cuda.is_available() else "cpu"
    assert [c["device"] for c in manifest["compute"]] == [expected_device]

    with_teacher = tmp_path / "random-t"
    args[4] = str(with_teacher)
    result = runner.invoke(
        app, [*args, "--method", "random", "--teacher-hr", "--teacher", str(teacher)]
    )
    assert result.exit_code == 0, result.output
    manifest = json.loads((with_teacher / "manifest.json").read_text())
    assert manifest["teacher"]["checkpoint"] == str(teacher)
    assert manifest["compute"][0]["teacher_dtype"] == "float32"  # selections never use bf16
