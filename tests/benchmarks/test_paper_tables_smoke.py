"""The Table 1 benchmark end to end on four real images with tiny sizes."""

import json
import math
import re

from typer.testing import CliRunner

from benchmarks.paper_tables import app

from .conftest import tiny_options

ROWS = ("Whole", "Random", "Herding", "K-Center", "DCSR", "IDC")


def table_rows(table: str) -> dict[str, list[str]]:
    """Row label -> cells of the Markdown table's body."""
    rows = {}
    for line in table.splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if line.startswith("|") and cells[0] in ROWS:
            rows[cells[0]] = cells[1:]
    return rows


def test_paper_tables_writes_table_and_plot_and_reuses_its_caches(
    t91_dir, tiny_test_folder, tmp_path
):
    out = tmp_path / "tables"
    runner = CliRunner()
    first = runner.invoke(app, tiny_options(out, t91_dir, tiny_test_folder))
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

    again = runner.invoke(app, tiny_options(out, t91_dir, tiny_test_folder))
    assert again.exit_code == 0, again.output
    assert "teacher: loading" in again.output and "dcsr: reusing" in again.output
    assert (out / "table.md").read_text() == table


def test_paper_tables_refuses_an_out_folder_made_with_other_settings(
    t91_dir, tiny_test_folder, tmp_path
):
    out = tmp_path / "tables"
    (out).mkdir()
    (out / "settings.json").write_text(json.dumps({"ratio": 0.5}))
    result = CliRunner().invoke(app, tiny_options(out, t91_dir, tiny_test_folder))
    assert result.exit_code == 2
    assert "other settings" in result.output and "ratio" in result.output


def test_paper_tables_rejects_an_unknown_row(t91_dir, tiny_test_folder, tmp_path):
    options = tiny_options(tmp_path / "t", t91_dir, tiny_test_folder) + ["--rows", "whole,gan"]
    result = CliRunner().invoke(app, options)
    assert result.exit_code == 2
    assert "gan" in result.output
    assert not (tmp_path / "t").exists()
