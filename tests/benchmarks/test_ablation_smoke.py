"""The Table 2 benchmark end to end on a few real images with tiny sizes."""

import json

from typer.testing import CliRunner

from benchmarks.ablation import app

from .conftest import tiny_options
from .test_paper_tables_smoke import table_rows


def test_ablation_writes_the_variants_and_their_difference_from_idc(
    train_photos_dir, tiny_test_folder, tmp_path
):
    out = tmp_path / "ablation"
    options = tiny_options(out, train_photos_dir, tiny_test_folder) + ["--rows", "idc,v1,v4,random"]
    options[options.index("--idc-preset") + 1] = "tiny"
    options[options.index("--idc-iterations") + 1] = "6"  # v1, v4 use the cpu sizes otherwise
    result = CliRunner().invoke(app, options)
    assert result.exit_code == 0, result.output

    table = (out / "table.md").read_text()
    assert "Difference from IDC" in table
    body, differences = table.split("Difference from IDC")
    assert set(table_rows(body)) == {"IDC", "Random"}  # v1/v4 labels are not in ROWS
    assert "| v1 |" in body and "| v4 |" in body
    assert "| IDC | +0.00 | +0.0000 |" in differences
    assert (out / "validation.png").stat().st_size > 5000
    for variant, switched_off in (("v1", "use_local_features"), ("v4", "use_pair")):
        manifest = json.loads((out / "datasets" / variant / "manifest.json").read_text())
        assert manifest["settings"][switched_off] is False
        assert manifest["settings"]["iterations"] == 6
    idc = json.loads((out / "datasets" / "idc" / "manifest.json").read_text())
    assert idc["settings"]["use_pair"] is True


def test_without_validation_there_is_no_curve_to_plot(train_photos_dir, tiny_test_folder, tmp_path):
    """`--val-every 0` (the ablation's default): students validate once, after the last step, and
    the table is written without a validation.png."""
    out = tmp_path / "no-curves"
    options = tiny_options(out, train_photos_dir, tiny_test_folder)
    options[options.index("--val-every") + 1] = "0"
    result = CliRunner().invoke(app, options + ["--rows", "random", "--seeds", "1"])
    assert result.exit_code == 0, result.output
    assert "| Random |" in (out / "table.md").read_text()
    assert not (out / "validation.png").exists()
    record = json.loads((out / "students" / "random" / "seed0.json").read_text())
    assert [point["iteration"] for point in record["validation"]] == [12]
