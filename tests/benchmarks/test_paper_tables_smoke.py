"""The Table 1 benchmark end to end on four real images with tiny sizes."""

import json
import math
import re

import numpy as np
from typer.testing import CliRunner

from benchmarks.paper_tables import app
from benchmarks.students import training_pairs

from .conftest import tiny_options

ROWS = ("Whole", "Random", "Random-T", "K-Center-T", "Herding", "K-Center", "DCSR", "IDC")


def table_rows(table: str, labels: tuple[str, ...] = ROWS) -> dict[str, list[str]]:
    """Row label -> cells of the Markdown table's body (the rows with one of `labels`)."""
    rows = {}
    for line in table.splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if line.startswith("|") and cells[0] in labels:
            rows[cells[0]] = cells[1:]
    return rows


def test_paper_tables_writes_table_and_plot_and_reuses_its_caches(
    train_photos_dir, tiny_test_folder, tmp_path
):
    out = tmp_path / "tables"
    runner = CliRunner()
    first = runner.invoke(app, tiny_options(out, train_photos_dir, tiny_test_folder))
    assert first.exit_code == 0, first.output

    table = (out / "table.md").read_text()
    rows = table_rows(table)
    assert list(rows) == list(ROWS)
    whole_pairs = int(rows["Whole"][0])
    for label, cells in rows.items():
        pairs, seeds, *scores = cells
        assert seeds == "2"
        assert len(scores) == 2  # PSNR and SSIM on the one test folder
        for cell in scores:
            mean, sd = (float(x) for x in re.fullmatch(r"(\S+) ± (\S+)", cell).groups())
            assert math.isfinite(mean) and math.isfinite(sd) and sd >= 0
        if label != "Whole":
            assert 0 < int(pairs) < whole_pairs
    assert "Whole - Random" in table
    png = (out / "validation.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000

    record = json.loads((out / "students" / "idc" / "seed1.json").read_text())
    assert [v["iteration"] for v in record["validation"]] == [4, 8, 12]
    manifest = json.loads((out / "datasets" / "dcsr" / "manifest.json").read_text())
    assert manifest["method"] == "dcsr" and manifest["pairs"] == int(rows["DCSR"][0])
    assert "== teacher" in first.output and "== student IDC seed 1" in first.output

    again = runner.invoke(app, tiny_options(out, train_photos_dir, tiny_test_folder))
    assert again.exit_code == 0, again.output
    assert "teacher: loading" in again.output and "dcsr: reusing" in again.output
    assert (out / "table.md").read_text() == table

    float_run = runner.invoke(
        app, tiny_options(out, train_photos_dir, tiny_test_folder) + ["--rows", "idc,idc-float"]
    )
    assert float_run.exit_code == 0, float_run.output
    assert "idc: reusing" in float_run.output and "dataset idc-float" not in float_run.output
    float_rows = table_rows((out / "table.md").read_text(), ("IDC", "IDC (float LR)"))
    assert float_rows["IDC"] == rows["IDC"]  # the same set and cached students
    assert float_rows["IDC (float LR)"][0] == rows["IDC"][0]
    idc_set = out / "datasets" / "idc"
    rounded, exact = training_pairs("idc", idc_set), training_pairs("idc-float", idc_set)
    assert rounded.lr.dtype == np.uint8 and exact.lr.dtype == np.float32
    assert np.array_equal(np.clip(np.rint(exact.lr * 255), 0, 255), rounded.lr)  # one set
    assert not np.array_equal(exact.lr, rounded.lr / np.float32(255))  # but unrounded
    for seed in (0, 1):
        png_student, float_student = (
            json.loads((out / "students" / row / f"seed{seed}.json").read_text())
            for row in ("idc", "idc-float")
        )
        assert float_student["scores"] != png_student["scores"]  # same seed, other LR inputs


def test_paper_tables_refuses_an_out_folder_made_with_other_settings(
    train_photos_dir, tiny_test_folder, tmp_path
):
    out = tmp_path / "tables"
    (out).mkdir()
    (out / "settings.json").write_text(json.dumps({"ratio": 0.5}))
    result = CliRunner().invoke(app, tiny_options(out, train_photos_dir, tiny_test_folder))
    assert result.exit_code == 2
    assert "other settings" in result.output and "ratio" in result.output


def test_paper_tables_rejects_an_unknown_row(train_photos_dir, tiny_test_folder, tmp_path):
    options = tiny_options(tmp_path / "t", train_photos_dir, tiny_test_folder) + [
        "--rows",
        "whole,gan",
    ]
    result = CliRunner().invoke(app, options)
    assert result.exit_code == 2
    assert "gan" in result.output
    assert not (tmp_path / "t").exists()


def without_option(options: list[str], name: str) -> list[str]:
    at = options.index(name)
    return options[:at] + options[at + 2 :]


def test_teacher_is_trained_once_as_the_whole_rows_seed0_student(
    train_photos_dir, tiny_test_folder, tmp_path
):
    """Without --teacher-iterations the teacher is trained exactly as the Whole row's seed-0
    student; a second run that loads that teacher and trains Whole seed 0 itself gets the same
    scores and curve."""
    options = without_option(
        tiny_options(tmp_path / "shared", train_photos_dir, tiny_test_folder),
        "--teacher-iterations",
    )
    runner = CliRunner()
    shared = runner.invoke(app, options + ["--rows", "whole,random", "--seeds", "1"])
    assert shared.exit_code == 0, shared.output
    assert "teacher = Whole seed 0" in shared.output
    assert "== student Whole seed 0: reusing" in shared.output  # not trained again
    assert "== student Whole seed 0 (" not in shared.output

    teacher = tmp_path / "shared" / "teacher.safetensors"
    separate_options = without_option(
        tiny_options(tmp_path / "separate", train_photos_dir, tiny_test_folder),
        "--teacher-iterations",
    )
    separate = runner.invoke(
        app, separate_options + ["--rows", "whole", "--seeds", "1", "--teacher", str(teacher)]
    )
    assert separate.exit_code == 0, separate.output
    assert "teacher: loading" in separate.output
    assert "== student Whole seed 0 (" in separate.output  # trained as a student here
    records = [
        json.loads((tmp_path / run / "students" / "whole" / "seed0.json").read_text())
        for run in ("shared", "separate")
    ]
    for key in ("scores", "validation", "pairs"):
        assert records[0][key] == records[1][key]


def test_a_larger_upsampler_makes_the_hr_of_teacher_hr_rows(t91_dir, tiny_test_folder, tmp_path):
    """--upsampler-feat trains a separate stage-2 model once; Random-T's HR is then its output."""
    runner = CliRunner()
    base = tiny_options(tmp_path / "t", t91_dir, tiny_test_folder) + ["--seeds", "1"]
    plain = runner.invoke(app, base + ["--rows", "random-t"])
    upsampled_options = tiny_options(tmp_path / "u", t91_dir, tiny_test_folder)
    upsampled_options += ["--seeds", "1", "--rows", "random-t", "--upsampler-feat", "8"]
    upsampled_options += ["--upsampler-blocks", "1", "--upsampler-iterations", "3"]
    upsampled = runner.invoke(app, upsampled_options)
    assert plain.exit_code == 0 and upsampled.exit_code == 0, upsampled.output
    assert "upsampler: 8 channels, 1 blocks, 3 iterations" in upsampled.output
    assert (tmp_path / "u" / "upsampler.safetensors").exists()
    by_teacher = training_pairs("random-t", tmp_path / "t" / "datasets" / "random-t")
    by_upsampler = training_pairs("random-t", tmp_path / "u" / "datasets" / "random-t")
    assert by_teacher.names == by_upsampler.names
    assert np.array_equal(by_teacher.lr, by_upsampler.lr)
    assert not np.array_equal(by_teacher.hr, by_upsampler.hr)


def test_idc_can_match_the_features_of_the_larger_upsampler(t91_dir, tiny_test_folder, tmp_path):
    """--idc-features upsampler: the IDC row's matching uses the up-sampler (its manifest's
    teacher is upsampler.safetensors); the -T rows are not affected; without an up-sampler the
    command refuses before it trains anything."""
    runner = CliRunner()
    options = tiny_options(tmp_path / "u", t91_dir, tiny_test_folder) + ["--seeds", "1"]
    options += ["--rows", "random-t,idc", "--upsampler-feat", "8", "--upsampler-blocks", "1"]
    options += ["--upsampler-iterations", "3", "--idc-features", "upsampler"]
    run = runner.invoke(app, options)
    assert run.exit_code == 0, run.output
    datasets = tmp_path / "u" / "datasets"
    idc_teacher = json.loads((datasets / "idc" / "manifest.json").read_text())["teacher"]
    random_t_teacher = json.loads((datasets / "random-t" / "manifest.json").read_text())["teacher"]
    assert idc_teacher["checkpoint"] == str(tmp_path / "u" / "upsampler.safetensors")
    assert random_t_teacher["checkpoint"] == str(tmp_path / "u" / "teacher.safetensors")
    assert idc_teacher["weights_sha256"] != random_t_teacher["weights_sha256"]

    refused_options = tiny_options(tmp_path / "r", t91_dir, tiny_test_folder)
    refused = runner.invoke(app, refused_options + ["--rows", "idc", "--idc-features", "upsampler"])
    assert refused.exit_code != 0 and "needs --upsampler-feat" in refused.output
    assert not (tmp_path / "r" / "teacher.safetensors").exists()
