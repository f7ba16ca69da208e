"""No command destroys a dataset: `idc prepare` and `idc condense` refuse, before any change, an
output folder holding another run or files they did not write; `--overwrite` replaces an idc
output whole and nothing else; the same run resumes."""

import hashlib
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from idc_core.cli.main import app
from idc_core.data.images import load_rgb, save_png
from idc_core.data.paired import read_pairs

runner = CliRunner()
SMALL = ["--patch-size", "32", "--step", "16", "--scale", "4"]


def _crops(folder: Path, photos_dir: Path, names: tuple[str, ...], top: int) -> Path:
    folder.mkdir()
    for name in names:
        save_png(
            folder / f"{name}.png", load_rgb(photos_dir / f"{name}.png")[top : top + 96, 40:136]
        )
    return folder


@pytest.fixture()
def images_a(tmp_path, photos_dir):
    return _crops(tmp_path / "a", photos_dir, ("astronaut", "chelsea"), 40)


@pytest.fixture()
def images_b(tmp_path, photos_dir):
    return _crops(tmp_path / "b", photos_dir, ("coffee", "rocket"), 100)


def digests(root: Path) -> dict[str, str]:
    """Every file under `root` (relative path -> SHA-256), links included as their target's."""
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def prepare(images: Path, out: Path, *extra: str):
    return runner.invoke(
        app, ["prepare", "--images", str(images), "--out", str(out), *SMALL, *extra]
    )


def condense(images: Path, out: Path, *extra: str):
    args = ["condense", "--images", str(images), "--out", str(out), *SMALL, "--device", "cpu"]
    return runner.invoke(app, [*args, "--ratio", "0.2", *extra])


def condense_random(images: Path, out: Path, *extra: str):
    return condense(images, out, "--method", "random", *extra)


def test_condense_into_a_prepared_folder_is_refused_with_nothing_changed(
    tmp_path, images_a, images_b
):
    work = tmp_path / "W"
    assert prepare(images_a, work).exit_code == 0
    before = digests(tmp_path)
    result = condense_random(images_b, work)
    assert result.exit_code == 1
    assert "holds the output of another run: idc prepare" in result.output
    assert "nothing was changed" in result.output and "--overwrite" in result.output
    assert digests(tmp_path) == before
    assert len(read_pairs(work)) == 50  # BasicSR's loader still finds every listed pair


def test_prepare_into_a_condensed_folder_is_refused_with_nothing_changed(
    tmp_path, images_a, images_b
):
    work = tmp_path / "W"
    assert condense_random(images_a, work).exit_code == 0
    before = digests(tmp_path)
    result = prepare(images_a, work)
    assert result.exit_code == 1
    assert (
        "idc condense --method random" in result.output and "nothing was changed" in result.output
    )
    assert digests(tmp_path) == before
    other = condense_random(images_a, work, "--seed", "1")  # another run of the same command
    assert other.exit_code == 1 and "another run" in other.output
    assert digests(tmp_path) == before


def test_overwrite_replaces_an_idc_output_whole_and_nothing_outside(tmp_path, images_a, images_b):
    work = tmp_path / "W"
    assert prepare(images_a, work, "--float-lr").exit_code == 0
    outside = digests(tmp_path / "a")
    result = condense_random(images_b, work, "--overwrite")
    assert result.exit_code == 0, result.output
    assert "removed the earlier idc output" in result.output
    pairs = read_pairs(work)
    assert {name.rsplit("_", 1)[0] for name in pairs.names} == {"coffee", "rocket"}
    assert not (work / "LR_float").exists()  # nothing of the prepared set is left
    assert json.loads((work / "manifest.json").read_text())["method"] == "random"
    assert digests(tmp_path / "a") == outside


def test_files_idc_did_not_write_are_refused_even_with_overwrite(tmp_path, images_a, photos_dir):
    work = tmp_path / "photos_of_mine"
    work.mkdir()
    (work / "holiday.png").write_bytes((photos_dir / "chelsea.png").read_bytes())
    (work / "notes.txt").write_text("mine\n")
    before = digests(tmp_path)
    for extra in ((), ("--overwrite",)):
        result = prepare(images_a, work, *extra)
        assert result.exit_code == 1
        assert "files idc does not write: holiday.png, notes.txt" in result.output
        assert digests(tmp_path) == before


def test_a_link_out_of_the_folder_is_never_followed(tmp_path, images_a, images_b):
    work = tmp_path / "W"
    assert prepare(images_a, work).exit_code == 0
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "precious.png").write_bytes(b"keep me")
    (work / "LR_float").symlink_to(elsewhere, target_is_directory=True)
    before = digests(tmp_path)
    result = condense_random(images_b, work, "--overwrite")
    assert result.exit_code == 1 and "LR_float (a link)" in result.output
    assert digests(tmp_path) == before


def test_an_interrupted_condense_resumes_to_the_same_bytes(tmp_path, images_a):
    work = tmp_path / "W"
    args = ["--method", "idc", "--train-teacher", "--teacher-iterations", "2", "--preset", "tiny"]
    first = condense(images_a, work, *args)
    assert first.exit_code == 0, first.output
    complete = digests(work)
    # As if the run had died after the first image: the second's files and the end files gone.
    for path in [*work.rglob("chelsea*"), work / "manifest.json", work / "meta_info.txt"]:
        path.unlink()
    (work / "SHA256SUMS").unlink()
    again = condense(images_a, work, *args)
    assert again.exit_code == 0, again.output
    assert "resuming the same run" in again.output and "reusing the teacher" in again.output
    resumed = digests(work)
    for name in ("manifest.json", "instances/astronaut.json", "instances/chelsea.json"):
        complete.pop(name), resumed.pop(name)  # timings and dates differ
    assert resumed == complete


def test_a_stray_file_in_a_resumed_run_is_refused(tmp_path, images_a):
    work = tmp_path / "W"
    assert prepare(images_a, work).exit_code == 0
    (work / "HR" / "other_0000.png").write_bytes(b"not ours")
    before = digests(tmp_path)
    result = prepare(images_a, work)
    assert result.exit_code == 1
    assert "files it did not write: HR/other_0000.png" in result.output
    assert digests(tmp_path) == before
    (work / "HR" / "other_0000.png").unlink()
    assert prepare(images_a, work).exit_code == 0  # the same run again: resumed


def test_an_output_path_that_is_a_file_is_refused(tmp_path, images_a):
    target = tmp_path / "W"
    target.write_text("a file")
    result = prepare(images_a, target)
    assert result.exit_code == 1 and "is not a folder" in result.output
    assert target.read_text() == "a file"
