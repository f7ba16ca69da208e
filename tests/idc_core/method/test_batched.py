"""Several instances condensed together (`condense_group`, `instances_per_batch`), on real photos.

The batched loop must keep each instance's result what it would be alone: same seeds, same
losses, same optimiser state per instance; only the teacher sees one batch for the whole group.
"""

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
    PatchSettings,
    condense_images,
    finalize_dataset,
)
from idc_core.data.images import load_rgb, save_png
from idc_core.data.paired import read_pairs
from idc_core.data.patches import make_instance
from idc_core.method import condense, instance_state, real_side
from idc_core.method.condense import condense_group, condense_instance
from idc_core.method.settings import CUDA_INSTANCES_PER_BATCH, build_settings

TINY = build_settings("tiny", {"c_out": 16})
PATCH = PatchSettings(patch_size=32, step=16, scale=4)
GOLDEN = Path(__file__).parent / "golden" / "condense_unbatched.npz"
NAMES = ("astronaut", "chelsea", "rocket")


def _crop(photos_dir: Path, position: int, name: str) -> np.ndarray:
    """96 x (96 + 16 i) crops, so the instances have 25, 30 and 35 patches (different n)."""
    return load_rgb(photos_dir / f"{name}.png")[40:136, 40 : 136 + 16 * position]


@pytest.fixture(scope="module")
def instances(photos_dir):
    return [make_instance(name, _crop(photos_dir, i, name), PATCH) for i, name in enumerate(NAMES)]


@pytest.fixture()
def images(tmp_path, photos_dir) -> list[Path]:
    folder = tmp_path / "images"
    folder.mkdir()
    paths = [folder / f"{name}.png" for name in NAMES]
    for i, (name, path) in enumerate(zip(NAMES, paths, strict=True)):
        save_png(path, _crop(photos_dir, i, name))
    return paths


def _job(instances_per_batch: int) -> CondenseJob:
    overrides = {"c_out": 16, "instances_per_batch": instances_per_batch}
    return CondenseJob(
        ratio=0.2, patch=PATCH, preset="tiny", overrides=overrides, seed=7, device="cpu"
    )


def _digests(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.parent.name in ("HR", "LR")
    }


def test_a_group_of_one_reproduces_the_unbatched_code(set5_dir, teacher):
    # The golden's instance: 25 pairs of a 96x96 corner of the published Set5 butterfly.
    small_instance = make_instance(
        "butterfly",
        load_rgb(set5_dir / "butterfly.png")[64:160, 64:160],
        PatchSettings(patch_size=32, step=16, scale=4),
    )
    # The golden was written by condense_instance before the batched loop existed (commit
    # 32c4b3f), with these arguments; it matched bit for bit on the machine that wrote it.
    golden = np.load(GOLDEN)
    totals, positions = [], set()

    def on_step(position, step, steps, losses):
        positions.add(position)
        totals.append(losses["total"])

    (result,) = condense_group([small_instance], teacher, 0.2, TINY, [3], on_step=on_step)
    np.testing.assert_allclose(result.lr, golden["lr"], rtol=0, atol=1e-6)
    np.testing.assert_allclose(totals, golden["total_losses"], rtol=1e-5)
    assert positions == {0} and result.stats["batch_size"] == 1
    alone = condense_instance(small_instance, teacher, 0.2, TINY, seed=3)
    assert np.array_equal(alone.lr, result.lr) and np.array_equal(alone.hr, result.hr)


def test_each_instance_of_a_group_gets_what_it_would_get_alone(instances, teacher):
    seen = []
    group = condense_group(
        instances, teacher, 0.2, TINY, [11, 12, 13], on_step=lambda *event: seen.append(event)
    )
    for instance, seed, result in zip(instances, [11, 12, 13], group, strict=True):
        n = math.ceil(0.2 * len(instance))
        assert result.lr.shape == (n, 3, 8, 8) and result.hr.shape == (n, 3, 32, 32)
        assert result.stats["n_real"] == len(instance) and result.stats["batch_size"] == 3
        alone = condense_instance(instance, teacher, 0.2, TINY, seed=seed)
        # Equal up to the rounding of the teacher's kernels at another batch size (bitwise on
        # the CPU where this was written).
        np.testing.assert_allclose(result.lr, alone.lr, rtol=0, atol=1e-5)
        np.testing.assert_allclose(result.hr, alone.hr, rtol=0, atol=1e-5)
        assert result.stats["final_losses"] == pytest.approx(alone.stats["final_losses"], 1e-4)
    # Every instance reports every step, in instance order within a step.
    steps = TINY.iterations
    assert [(position, step) for position, step, _, _ in seen] == [
        (position, step) for step in range(1, steps + 1) for position in range(3)
    ]
    assert len({len(r.lr) for r in group}) == 3  # 5, 6 and 7 synthetic patches
    assert teacher.training and all(p.requires_grad for p in teacher.parameters())


def test_losses_go_down_for_every_instance_of_a_group(instances, teacher):
    settings = TINY.model_copy(
        update=dict(
            init="noise",
            iterations=40,
            lr=0.05,
            use_group=False,
            use_pair=False,
            num_freqs=256,
            freq_bank=0,
        )
    )
    losses: dict[int, list[float]] = {0: [], 1: []}
    condense_group(
        instances[:2],
        teacher,
        0.2,
        settings,
        [0, 1],
        on_step=lambda position, step, n, values: losses[position].append(values["instance"]),
    )
    for position, curve in losses.items():
        assert len(curve) == 40
        assert np.mean(curve[-5:]) < 0.7 * np.mean(curve[:5]), position


def test_bf16_autocast_covers_the_teacher_only(instances, teacher, monkeypatch):
    """The CUDA path, run with the CPU's autocast: the teacher's features in bf16, the local
    features, characteristic functions, losses and synthetic pixels in float32."""
    reference = condense_group(instances[:2], teacher, 0.2, TINY, [1, 2])

    def cpu_bf16(device, bf16):
        return torch.autocast("cpu", dtype=torch.bfloat16)

    monkeypatch.setattr(instance_state, "teacher_autocast", cpu_bf16)
    monkeypatch.setattr(condense, "teacher_autocast", cpu_bf16)
    teacher_out, characteristic_in = set(), set()
    extract = teacher.extract_features

    def spy_teacher(lr):
        maps = extract(lr)
        teacher_out.add((maps.dtype, torch.is_autocast_enabled("cpu")))
        return maps

    def spy_sums(module):
        sums = module.segment_characteristic_sums

        def spy(features, *args, **kwargs):
            characteristic_in.add(features.dtype)
            return sums(features, *args, **kwargs)

        monkeypatch.setattr(module, "segment_characteristic_sums", spy)

    monkeypatch.setattr(teacher, "extract_features", spy_teacher)
    spy_sums(instance_state)
    spy_sums(real_side)
    group = condense_group(instances[:2], teacher, 0.2, TINY, [1, 2])

    # bf16 under autocast (stage 1); float32 outside it (stage 2, the up-sampling).
    assert teacher_out == {(torch.bfloat16, True), (torch.float32, False)}
    assert characteristic_in == {torch.float32}
    for result, exact in zip(group, reference, strict=True):
        assert result.lr.dtype == np.float32 and result.hr.dtype == np.float32
        difference = np.abs(result.lr - exact.lr).max()
        assert 0 < difference < 0.1  # bf16 did run, and only perturbed the result
        assert result.stats["final_losses"]["total"] == pytest.approx(
            exact.stats["final_losses"]["total"], rel=0.05
        )


def test_a_group_is_refused_when_seeds_or_patch_sizes_do_not_match(instances, teacher, photos_dir):
    with pytest.raises(ValueError, match="one seed per instance"):
        condense_group(instances, teacher, 0.2, TINY, [1])
    other = make_instance(
        "x", load_rgb(photos_dir / "chelsea.png")[:96, :96], PatchSettings(patch_size=48, step=24)
    )
    with pytest.raises(ValueError, match="patch size"):
        condense_group([instances[0], other], teacher, 0.2, TINY, [1, 2])


def test_instances_per_batch_defaults_to_one_on_cpu_and_more_on_cuda():
    assert TINY.instances_per_batch is None
    assert TINY.batch_size_on("cpu") == 1
    assert TINY.batch_size_on("cuda") == CUDA_INSTANCES_PER_BATCH > 1
    assert build_settings("tiny", {"instances_per_batch": 3}).batch_size_on("cuda") == 3
    with pytest.raises(ValueError):
        build_settings("tiny", {"instances_per_batch": 0})


def test_pipeline_condenses_in_groups_and_writes_every_instance(tmp_path, images, teacher):
    events = []
    records = condense_images(images, tmp_path / "out", _job(2), teacher, events.append)

    n_real = {"astronaut": 25, "chelsea": 30, "rocket": 35}
    assert [(r.name, r.n_real, r.n_synthetic) for r in records] == [
        (name, n_real[name], math.ceil(0.2 * n_real[name])) for name in NAMES
    ]
    pairs = read_pairs(tmp_path / "out")
    assert pairs.hr.shape == (18, 32, 32, 3) and pairs.lr.shape == (18, 8, 8, 3)
    # astronaut and chelsea start together, before any step; rocket after both are written.
    kinds = [(e.kind, e.instance) for e in events if e.kind != "step"]
    assert kinds == [
        ("instance_started", "astronaut"),
        ("instance_started", "chelsea"),
        ("instance_finished", "astronaut"),
        ("instance_finished", "chelsea"),
        ("instance_started", "rocket"),
        ("instance_finished", "rocket"),
    ]
    for name in NAMES:
        steps = [e.step for e in events if e.kind == "step" and e.instance == name]
        assert steps == list(range(1, TINY.iterations + 1))

    manifest = finalize_dataset(tmp_path / "out", _job(2), None, images)
    assert manifest["pairs"] == 18 and manifest["settings"]["instances_per_batch"] == 2
    assert [i["batch_size"] for i in manifest["instances"]] == [2, 2, 1]
    on_disk = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert on_disk["settings"]["instances_per_batch"] == 2

    # The same pixels as condensing one instance at a time (8-bit files, bitwise on this CPU).
    condense_images(images, tmp_path / "alone", _job(1), teacher)
    alone = read_pairs(tmp_path / "alone")
    assert alone.names == pairs.names
    assert np.abs(alone.lr.astype(int) - pairs.lr).max() <= 1
    assert np.abs(alone.hr.astype(int) - pairs.hr).max() <= 1


def test_a_cancelled_batched_run_resumes_to_identical_files(tmp_path, images, teacher):
    job = _job(2)
    condense_images(images, tmp_path / "reference", job, teacher)
    out = tmp_path / "out"

    # Cancelled in the middle of the first group: nothing of astronaut or chelsea is left.
    polls = []

    def stop_at_fifth_poll() -> bool:  # polls 1, 2: before astronaut and chelsea start; 3-5: steps
        polls.append(1)
        return len(polls) == 5

    with pytest.raises(CondenseCancelled, match="astronaut, chelsea: cancelled at step 2"):
        condense_images(images, out, job, teacher, should_stop=stop_at_fifth_poll)
    assert not list((out / "instances").iterdir())
    assert not any((out / sub).is_dir() and any((out / sub).iterdir()) for sub in ("HR", "LR"))

    # Cancelled once the first group is written: astronaut and chelsea are kept, rocket is not there.
    finished = []

    def note(event):
        if event.kind == "instance_finished":
            finished.append(event.instance)

    with pytest.raises(CondenseCancelled):
        condense_images(images, out, job, teacher, note, should_stop=lambda: len(finished) == 2)
    assert sorted(p.stem for p in (out / "instances").iterdir()) == ["astronaut", "chelsea"]

    events = []
    condense_images(images, out, job, teacher, events.append)
    assert [e.instance for e in events if e.kind == "instance_skipped"] == ["astronaut", "chelsea"]
    assert _digests(out) == _digests(tmp_path / "reference")
    assert len(_digests(out)) == 2 * 18
