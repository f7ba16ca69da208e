"""`idc condense` ends with a summary of the set's diagnostics (real cropped photos)."""

import json
import re

import torch
from typer.testing import CliRunner

from idc_core.cli.main import app
from idc_core.cli.summary import diagnostics_lines
from idc_core.data.images import load_rgb, save_png
from idc_core.models import build_model, save_model


def test_condense_prints_the_diagnostics_of_the_manifest(tmp_path, set5_dir):
    images = tmp_path / "images"
    images.mkdir()
    for name in ("baby", "bird"):
        save_png(images / f"{name}.png", load_rgb(set5_dir / f"{name}.png")[40:136, 40:136])
    torch.manual_seed(0)
    teacher = tmp_path / "teacher.safetensors"
    save_model(build_model("edsr-tiny", 4, num_feat=8, num_block=1), teacher)
    out = tmp_path / "out"
    args = ["condense", "--images", str(images), "--out", str(out), "--teacher", str(teacher)]
    args += ["--patch-size", "32", "--step", "16", "--ratio", "0.2", "--preset", "tiny"]
    args += ["--set", "c_out=16", "--set", "init=noise", "--device", "cpu"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output

    manifest = json.loads((out / "manifest.json").read_text())
    lines = diagnostics_lines(manifest)
    assert lines[0] == "diagnostics over 2 images (means):"
    output = " ".join(result.output.split())
    for line in lines:
        assert " ".join(line.split()) in output
    worst = manifest["diagnostics"]["worst_nearest_real_psnr"]
    assert re.search(rf"highest {worst:.1f} dB \((baby|bird)\); 0 patches at 40 dB", output)


def test_no_summary_without_diagnostics():
    assert diagnostics_lines({"diagnostics": None, "instances": []}) == []
