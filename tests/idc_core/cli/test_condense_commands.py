"""`idc prepare` and `idc condense` end to end on real (cropped) photos."""

import json

import pytest
from typer.testing import CliRunner

from idc_core.cli.main import app
from idc_core.data.images import load_rgb, save_png
from idc_core.data.paired import read_pairs

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
