"""The training set of each row: the real pairs (Whole), or a condensation job through the api."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from benchmarks.config import (
    FLOAT_LR_ROW,
    TEACHER_HR_SUFFIX,
    BenchmarkConfig,
    variant_overrides,
)
from benchmarks.console import BenchmarkError, log, phase
from idc_core.api import (
    SELECTION_METHODS,
    CondenseJob,
    Instance,
    PairedArrays,
    PatchSettings,
    ProgressEvent,
    SRModel,
    condense_images,
    describe_teacher,
    finalize_dataset,
    list_images,
    load_instance,
    synthetic_count,
    write_meta_info,
    write_pairs,
)

DONE_MARKER = ".complete"


def image_paths(folders: Sequence[Path], count: int | None = None) -> list[Path]:
    """The images of the training folders in order, or `count` of them evenly spaced (so that a
    subset mixes the folders, as the paper's 80-image ablation subset samples DIV2K)."""
    paths = [path for folder in folders for path in list_images(folder)]
    if count is None or count >= len(paths):
        return paths
    if count < 1:
        raise BenchmarkError(f"need at least one training image, got {count}")
    return [paths[i] for i in np.linspace(0, len(paths) - 1, count).round().astype(int)]


def load_instances(paths: Sequence[Path], patch: PatchSettings) -> list[Instance]:
    return [load_instance(path, patch) for path in paths]


def pairs_of(instances: Sequence[Instance]) -> PairedArrays:
    """Every pair of every instance in memory, named `<instance>_<index>`."""
    return PairedArrays(
        hr=np.concatenate([i.hr for i in instances]),
        lr=np.concatenate([i.lr for i in instances]),
        names=[f"{i.name}_{k:04d}" for i in instances for k in range(len(i))],
    )


def selection_ratio(instances: Sequence[Instance], ratio: float) -> float:
    """The ratio at which a global selection keeps as many pairs as IDC makes at `ratio`.

    IDC makes ceil(r N) pairs per image, so on small images it makes more than r times the whole
    set (about 1.7 times at 1% of 64 px patches of T91 + BSD200). The paper gives every method the
    same count (12,076 pairs in Table 1), so the baselines run at this matched ratio.
    """
    total = sum(len(instance) for instance in instances)
    idc_total = sum(synthetic_count(len(instance), ratio) for instance in instances)
    return min(1.0, idc_total / total)


def dataset_row(row: str) -> str:
    """The row whose training set `row` uses (`datasets/<that row>/`): its own, but `idc` for
    the float-LR row."""
    return "idc" if row == FLOAT_LR_ROW else row


def row_job(row: str, instances: Sequence[Instance], config: BenchmarkConfig) -> CondenseJob | None:
    """The condensation job of a table row: None for Whole (every real pair); a selection
    baseline at the ratio that matches IDC's pair count; IDC with `idc_preset`; an ablation
    variant v1..v7 with its own preset. Every IDC row gets the same `idc_overrides`. In a
    benchmark that offers the float-LR row, the `idc` set always keeps its float LR too, so that
    `idc` and `idc-float` share one set whichever of them a run asks for."""
    if row == "whole":
        return None
    base = row.removesuffix(TEACHER_HR_SUFFIX)
    overrides = dict(config.idc_overrides)
    if base in SELECTION_METHODS:
        method, preset, ratio = base, config.idc_preset, selection_ratio(instances, config.ratio)
    elif (changes := variant_overrides(row)) is not None:
        method, preset, ratio = "idc", config.idc_preset, config.ratio
        overrides |= changes
    else:
        method, preset, ratio = "idc", config.idc_preset if row == "idc" else row, config.ratio
    return CondenseJob(
        method=method,
        ratio=ratio,
        patch=config.patch,
        preset=preset,
        overrides=overrides,
        seed=config.selection_seed,
        device=config.device,
        save_float_lr=row == "idc" and FLOAT_LR_ROW in config.labels,
        teacher_hr=method != "idc" and row.endswith(TEACHER_HR_SUFFIX),
    )


def write_whole(instances: Sequence[Instance], out_dir: Path) -> int:
    """Write every real pair of `instances` in the paired layout: the "Whole" row's training set."""
    if (out_dir / DONE_MARKER).exists():
        return write_meta_info(out_dir)
    for instance in instances:
        stems = [f"{instance.name}_{k:04d}" for k in range(len(instance))]
        write_pairs(out_dir, stems, instance.hr, instance.lr)
    count = write_meta_info(out_dir)
    (out_dir / DONE_MARKER).write_text(f"{count}\n")
    return count


def _progress_printer(row: str, every: int) -> Callable[[ProgressEvent], None]:
    """An `on_progress` for `condense_images` that prints every `every`-th finished image."""

    def on_progress(event: ProgressEvent) -> None:
        if event.kind == "selecting":
            log(f"  {row}: selecting over {event.total} images")
        finished = event.kind in ("instance_finished", "instance_skipped")
        if finished and ((event.index + 1) % every == 0 or event.index + 1 == event.total):
            log(f"  {row}: {event.index + 1}/{event.total} images done")

    return on_progress


def build_dataset(
    row: str,
    out_dir: Path,
    job: CondenseJob | None,
    paths: Sequence[Path],
    instances: Sequence[Instance],
    teacher: SRModel | None,
    teacher_path: Path,
    upsampler: SRModel | None = None,
) -> None:
    """One row's training set: every real pair when `job` is None (Whole), else the job's set
    built through the public api (HR of IDC and -T rows made by `upsampler` when given, else by
    the teacher). A finalised set (manifest.json present) is reused."""
    with phase(f"dataset {row}"):
        if job is None:
            log(f"  {row}: {write_whole(instances, out_dir)} pairs")
            return
        if (out_dir / "manifest.json").exists():
            log(f"  {row}: reusing {out_dir}")
            return
        on_progress = _progress_printer(row, max(1, len(paths) // 5))
        condense_images(paths, out_dir, job, teacher, on_progress, upsampler=upsampler)
        manifest = finalize_dataset(out_dir, job, describe_teacher(teacher, teacher_path), paths)
        log(f"  {row}: {manifest['pairs']} pairs in {manifest['seconds']:.0f} s")
