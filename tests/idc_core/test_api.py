"""condense_images / finalize_dataset end to end on real (cropped) photos, with a small teacher."""

import hashlib
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from idc_core.api import (
    CondenseCancelled,
    CondenseJob,
    DeviceUnavailableError,
    ImageReadError,
    PatchSettings,
    build_model,
    condense_images,
    describe_teacher,
    finalize_dataset,
    resolve_device,
)
from idc_core.data.images import load_rgb, save_png
from idc_core.data.paired import read_pairs
from idc_core.data.patches import load_instance

PATCH = PatchSettings(patch_size=32, step=16, scale=4)
JOB = CondenseJob(
    ratio=0.2, patch=PATCH, preset="tiny", overrides={"c_out": 16}, seed=7, device="cpu"
)


@pytest.fixture()
def images(tmp_path, photos_dir) -> list[Path]:
    """Two 96x96 crops of real photos (25 patch pairs each at 32/16)."""
    folder = tmp_path / "images"
    folder.mkdir()
    paths = []
    for name in ("astronaut", "chelsea"):
        path = folder / f"{name}.png"
        save_png(path, load_rgb(photos_dir / f"{name}.png")[40:136, 40:136])
        paths.append(path)
    return paths


def _digests(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.parent.name in ("HR", "LR", "LR_float")
    }


def test_condense_writes_pairs_markers_and_manifest(tmp_path, images, teacher):
    out = tmp_path / "out"
    events = []
    job = JOB.model_copy(update={"save_float_lr": True})
    records = condense_images(images, out, job, teacher, on_progress=events.append)

    n = math.ceil(0.2 * 25)
    assert [(r.name, r.n_real, r.n_synthetic) for r in records] == [
        ("astronaut", 25, n),
        ("chelsea", 25, n),
    ]
    pairs = read_pairs(out)
    assert pairs.hr.shape == (2 * n, 32, 32, 3) and pairs.lr.shape == (2 * n, 8, 8, 3)
    assert pairs.names[:2] == ["astronaut_0000", "astronaut_0001"]
    floats = read_pairs(out, prefer_float=True).lr
    assert floats.dtype == np.float32 and np.abs(floats * 255 - pairs.lr).max() <= 0.5 + 1e-4
    # HR is the teacher's output for the (float) synthetic LR, rounded to 8 bits.
    with torch.no_grad():
        hr = teacher(torch.from_numpy(floats[:n]).permute(0, 3, 1, 2)).clamp(0, 1)
    expected = np.rint(hr.permute(0, 2, 3, 1).numpy() * 255)
    assert np.abs(expected - pairs.hr[:n]).max() <= 1
    kinds = [e.kind for e in events]
    assert kinds.count("instance_finished") == 2 and kinds.count("step") == 2 * 6

    manifest = finalize_dataset(out, job, describe_teacher(teacher), images)
    on_disk = json.loads((out / "manifest.json").read_text())
    assert on_disk == manifest
    assert manifest["method"] == "idc" and manifest["pairs"] == 2 * n
    assert manifest["settings"]["iterations"] == 6 and manifest["settings"]["c_out"] == 16
    assert manifest["job"]["seed"] == 7
    assert [i["n_synthetic"] for i in manifest["instances"]] == [n, n]
    assert manifest["sources"]["count"] == 2
    assert (
        manifest["sources"]["files"][0]["sha256"]
        == hashlib.sha256(images[0].read_bytes()).hexdigest()
    )
    assert len(manifest["teacher"]["weights_sha256"]) == 64
    lines = (out / "meta_info.txt").read_text().splitlines()
    assert lines[0] == "astronaut_0000.png (32,32,3)" and len(lines) == 2 * n


def test_resume_redoes_only_the_missing_instance_with_identical_bytes(tmp_path, images, teacher):
    out = tmp_path / "out"
    condense_images(images, out, JOB, teacher)
    before = _digests(out)
    for path in out.rglob("chelsea_*"):
        path.unlink()
    (out / "instances" / "chelsea.json").unlink()

    events = []
    condense_images(images, out, JOB, teacher, on_progress=events.append)
    assert [(e.kind, e.instance) for e in events if e.kind != "step"] == [
        ("instance_skipped", "astronaut"),
        ("instance_started", "chelsea"),
        ("instance_finished", "chelsea"),
    ]
    assert _digests(out) == before


def test_cancel_leaves_no_half_written_instance_and_resumes(tmp_path, images, teacher):
    out = tmp_path / "out"
    polls = []

    def stop_in_second_instance():
        polls.append(1)
        return (
            len(polls) > 10
        )  # 1 poll before astronaut, 6 in it, 1 before chelsea, then 2 in chelsea

    with pytest.raises(CondenseCancelled):
        condense_images(images, out, JOB, teacher, should_stop=stop_in_second_instance)
    assert (out / "instances" / "astronaut.json").is_file()
    assert not (out / "instances" / "chelsea.json").exists()
    assert not list(out.rglob("chelsea_*")) and not list(out.rglob("*.tmp"))
    with pytest.raises(ValueError, match="not condensed yet"):
        finalize_dataset(out, JOB, None, images)

    records = condense_images(images, out, JOB, teacher)
    assert [r.name for r in records] == ["astronaut", "chelsea"]
    assert finalize_dataset(out, JOB, None, images)["pairs"] == 10


def test_random_selection_keeps_real_pairs(tmp_path, images):
    out = tmp_path / "out"
    job = JOB.model_copy(update={"method": "random", "ratio": 0.1})
    records = condense_images(images, out, job, teacher=None)
    assert sum(r.n_synthetic for r in records) == 5  # round(0.1 * 50), one global budget
    checked = 0
    for path, record in zip(images, records, strict=True):
        instance = load_instance(path, PATCH)
        for stem in record.stems:
            index = int(stem.rsplit("_", 1)[1])
            assert np.array_equal(load_rgb(out / "HR" / f"{stem}.png"), instance.hr[index])
            assert np.array_equal(load_rgb(out / "LR" / f"{stem}.png"), instance.lr[index])
            checked += 1
    assert checked == 5  # every kept pair is the real one, whichever instances keep them
    assert finalize_dataset(out, job, None, images)["settings"] is None


def test_bad_inputs_fail_clearly_before_any_work(tmp_path, images, teacher):
    out = tmp_path / "out"
    with pytest.raises(ValueError, match="x4"):
        torch.manual_seed(0)
        condense_images(images, out, JOB, build_model("edsr-tiny", 2, num_feat=8, num_block=1))
    broken = images[0].parent / "broken.png"
    broken.write_text("not an image")
    with pytest.raises(ImageReadError, match="broken.png"):
        condense_images([*images, broken], out, JOB, teacher)
    with pytest.raises(ValueError, match="share the name"):
        condense_images([images[0], images[0]], out, JOB, teacher)
    with pytest.raises(ValueError, match="too small|smaller"):
        condense_images(
            images,
            out,
            JOB.model_copy(update={"patch": PatchSettings(patch_size=128, step=64, scale=4)}),
            teacher,
        )
    assert not list(out.rglob("*.png"))
    with pytest.raises(ValueError, match="unknown preset"):
        CondenseJob(preset="nope")
    with pytest.raises(ValueError):
        CondenseJob(ratio=1.5)


def test_other_settings_in_the_same_folder_are_refused(tmp_path, images, teacher):
    out = tmp_path / "out"
    condense_images(images[:1], out, JOB, teacher)
    with pytest.raises(ValueError, match="other settings"):
        condense_images(images[:1], out, JOB.model_copy(update={"seed": 8}), teacher)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error on a machine without CUDA")
def test_resolve_device_without_cuda():
    assert resolve_device("auto").type == "cpu" and resolve_device("cpu").type == "cpu"
    with pytest.raises(DeviceUnavailableError, match="CUDA is not available"):
        resolve_device("cuda")
    with pytest.raises(ValueError, match="unknown device"):
        resolve_device("tpu")


def test_teacher_hr_keeps_random_lr_and_makes_hr_with_the_teacher(tmp_path, images, teacher):
    """Random-T: the LR patches Random picks, and the teacher's (rounded) HR of each of them."""
    random_job = JOB.model_copy(update={"method": "random"})
    random_t_job = JOB.model_copy(update={"method": "random", "teacher_hr": True})
    condense_images(images, tmp_path / "random", random_job, None)
    condense_images(images, tmp_path / "random_t", random_t_job, teacher)
    plain, with_teacher = read_pairs(tmp_path / "random"), read_pairs(tmp_path / "random_t")
    assert plain.names == with_teacher.names and len(plain.names) > 0
    assert np.array_equal(plain.lr, with_teacher.lr)
    lr = torch.from_numpy(plain.lr.transpose(0, 3, 1, 2).astype(np.float32) / 255.0)
    with torch.no_grad():
        expected = teacher.eval()(lr).clamp(0, 1).numpy().transpose(0, 2, 3, 1)
    made = with_teacher.hr.astype(np.float32) / 255.0
    assert np.abs(made - expected).max() <= 0.5 / 255 + 1e-5
    assert not np.array_equal(with_teacher.hr, plain.hr)


def test_teacher_hr_needs_a_teacher_and_a_selection_method(tmp_path, images):
    with pytest.raises(ValueError, match="needs a teacher"):
        condense_images(
            images,
            tmp_path / "out",
            JOB.model_copy(update={"method": "random", "teacher_hr": True}),
            None,
        )
    with pytest.raises(ValueError, match="teacher_hr is for selection methods"):
        CondenseJob(method="idc", teacher_hr=True)
