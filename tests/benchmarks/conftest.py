"""A tiny real test set for the benchmark smoke runs: crops of two real photos."""

from pathlib import Path

import pytest

from idc_core.data.images import load_rgb, save_png


@pytest.fixture(scope="session")
def tiny_test_folder(photos_dir, tmp_path_factory) -> Path:
    """96x96 centre crops of the chelsea and coffee photos (evaluating full Set5/Set14 takes seconds
    per student, too slow for a CI smoke run)."""
    folder = tmp_path_factory.mktemp("tiny_test_set")
    for name in ("chelsea", "coffee"):
        image = load_rgb(photos_dir / f"{name}.png")
        top, left = (image.shape[0] - 96) // 2, (image.shape[1] - 96) // 2
        save_png(folder / f"{name}.png", image[top : top + 96, left : left + 96])
    return folder


def tiny_options(out: Path, train_folder: Path, test_folder: Path) -> list[str]:
    """Sizes that run the whole pipeline in seconds: 4 images, 32 px patches, tens of steps."""
    return [
        "--out", str(out),
        "--train-folder", str(train_folder),
        "--test-folder", str(test_folder),
        "--val-folder", str(test_folder),
        "--images", "4",
        "--patch-size", "32",
        "--step", "32",
        "--seeds", "2",
        "--teacher-iterations", "10",
        "--student-iterations", "12",
        "--batch-size", "4",
        "--val-every", "4",
        "--idc-preset", "tiny",
        "--idc-iterations", "0",
        "--device", "cpu",
    ]  # fmt: skip
