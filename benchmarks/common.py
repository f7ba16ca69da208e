"""What the paper-table benchmarks share: the settings, and the cached, timed phases of a run
(patches, teacher, one training set per row, students). `report.py` writes the results.

Layout of a benchmark's out folder (every artefact is reused by a re-run with the same settings):

    settings.json                 the settings the folder was made with (a re-run must match)
    teacher.safetensors/.json     the teacher (edsr-tiny by default) trained on the whole set
    datasets/<row>/               each training set in the paired layout (HR/, LR/, meta_info.txt;
                                  idc-float trains on datasets/idc, reading its LR_float/)
    students/<row>/seed<k>.json   test scores and validation curve of one student
    table.md, validation.png      the results
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import typer
from pydantic import BaseModel, ConfigDict, Field

from idc_core.api import (
    PRESETS,
    CondenseJob,
    PatchSettings,
    ProgressEvent,
    TrainRecipe,
    build_settings,
    condense_images,
    describe_teacher,
    finalize_dataset,
    resolve_device,
)
from idc_core.baselines import METHODS as SELECTION_METHODS
from idc_core.data.images import list_images
from idc_core.data.paired import (
    LR_FLOAT_DIR,
    PairedArrays,
    read_pairs,
    write_meta_info,
    write_pairs,
)
from idc_core.data.patches import Instance, load_instance
from idc_core.evaluation import evaluate_model, make_validator
from idc_core.method.condense import synthetic_count
from idc_core.models import SRModel, build_model, load_model, save_model
from idc_core.training import train_sr_model

SHARED_SR = Path(__file__).resolve().parents[2] / "shared" / "data" / "sr"
DONE_MARKER = ".complete"
FLOAT_LR_ROW = "idc-float"
"""A row that trains on the `idc` row's set but reads its float LR (`LR_float/`), not the 8-bit
PNGs: the two rows differ only in the rounding of the LR inputs."""


class BenchmarkError(RuntimeError):
    """A benchmark cannot run as asked; the message says why and what to do."""


def log(message: str) -> None:
    print(message, flush=True)


@contextmanager
def exit_on_error() -> Iterator[None]:
    """Bad input or a mismatched out folder: a message and exit status 2, no traceback."""
    try:
        yield
    except (BenchmarkError, ValueError) as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from error


@contextmanager
def phase(name: str) -> Iterator[None]:
    """Print how long a phase took, so that a budget can be checked against real runs."""
    start = time.perf_counter()
    log(f"== {name} ...")
    yield
    log(f"== {name}: {time.perf_counter() - start:.1f} s")


class BenchmarkConfig(BaseModel):
    """Everything a benchmark run depends on. All but `out`, `rows`, `labels` and `seeds` must
    match the `settings.json` of an existing out folder, whose caches are then reused."""

    model_config = ConfigDict(frozen=True)

    out: Path
    rows: list[str] = Field(
        description="row keys: whole, a selection method, idc, idc-float, v1..v7"
    )
    labels: dict[str, str] = Field(description="row key -> label in the table")
    seeds: int = Field(ge=1, description="students per row")
    train_folders: list[Path]
    images: int | None = Field(description="evenly spaced training images used (None: all)")
    test_folders: list[Path]
    val_folder: Path
    patch: PatchSettings
    ratio: float = Field(gt=0, le=1, description="IDC's ratio per image")
    arch: str = Field(description="teacher and student architecture")
    teacher: Path = Field(description="teacher checkpoint; trained there when missing")
    teacher_on_all_images: bool = Field(description="train on every image, not the subset")
    teacher_recipe: TrainRecipe
    student_recipe: TrainRecipe
    idc_preset: str
    idc_overrides: dict
    selection_seed: int
    device: str

    def idc_presets(self) -> set[str]:
        """The IDC presets the rows use: `idc_preset`, and the ablation variants by name."""
        return {self.idc_preset} | {row for row in self.rows if row in PRESETS}

    def teacher_is_whole_student(self) -> bool:
        """True when the teacher would be trained exactly as the Whole row's seed-0 student (same
        pairs, recipe and seed): it is then trained once and serves as both."""
        return (
            not self.teacher_on_all_images
            and "whole" in self.rows
            and self.teacher_recipe == self.student_recipe.model_copy(update={"seed": 0})
        )

    def cache_key(self) -> dict:
        return self.model_dump(mode="json", exclude={"out", "rows", "labels", "seeds"})


def config_from_options(
    options: dict, labels: dict[str, str], teacher_on_all_images: bool
) -> BenchmarkConfig:
    """A `BenchmarkConfig` from the options of a benchmark command (its parameters by name)."""
    out, batch_size, lr = options["out"], options["batch_size"], options["learning_rate"]
    rows = [name.strip() for name in options["rows"].split(",") if name.strip()]
    unknown = [name for name in rows if name not in labels]
    if unknown or not rows:
        raise BenchmarkError(f"unknown rows {unknown}; choose among {', '.join(labels)}")
    return BenchmarkConfig(
        out=out,
        rows=rows,
        labels=labels,
        seeds=options["seeds"],
        train_folders=options["train_folder"] or [SHARED_SR / "T91", SHARED_SR / "BSD200"],
        images=options["images"],
        test_folders=options["test_folder"] or [SHARED_SR / "Set5", SHARED_SR / "Set14"],
        val_folder=options["val_folder"],
        patch=PatchSettings(
            patch_size=options["patch_size"], step=options["step"], scale=options["scale"]
        ),
        ratio=options["ratio"],
        arch=options["arch"],
        teacher=options["teacher"] or out / "teacher.safetensors",
        teacher_on_all_images=teacher_on_all_images,
        teacher_recipe=TrainRecipe(
            iterations=options["teacher_iterations"] or options["student_iterations"],
            batch_size=batch_size,
            lr=lr,
            seed=0,
            val_every=options["val_every"],  # used only when it is the Whole row's student
        ),
        student_recipe=TrainRecipe(
            iterations=options["student_iterations"],
            batch_size=batch_size,
            lr=lr,
            val_every=options["val_every"],
        ),
        idc_preset=options["idc_preset"],
        idc_overrides={"iterations": options["idc_iterations"]}
        if options["idc_iterations"]
        else {},
        selection_seed=options["selection_seed"],
        device=str(resolve_device(options["device"])),
    )


def check_settings(config: BenchmarkConfig) -> None:
    """Write `settings.json`, or refuse when the folder holds results of other settings."""
    config.out.mkdir(parents=True, exist_ok=True)
    path = config.out / "settings.json"
    settings = config.cache_key()
    if path.exists():
        previous = json.loads(path.read_text())
        changed = sorted(
            k for k in settings.keys() | previous.keys() if previous.get(k) != settings.get(k)
        )
        if changed:
            raise BenchmarkError(
                f"{config.out} holds results made with other settings ({', '.join(changed)}); "
                "use another --out folder or delete this one"
            )
    path.write_text(json.dumps(settings, indent=2, sort_keys=True))


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
    if row in SELECTION_METHODS:
        method, preset, ratio = row, config.idc_preset, selection_ratio(instances, config.ratio)
    else:
        method, preset, ratio = "idc", config.idc_preset if row == "idc" else row, config.ratio
    return CondenseJob(
        method=method,
        ratio=ratio,
        patch=config.patch,
        preset=preset,
        overrides=config.idc_overrides,
        seed=config.selection_seed,
        device=config.device,
        save_float_lr=row == "idc" and FLOAT_LR_ROW in config.labels,
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
) -> None:
    """One row's training set: every real pair when `job` is None (Whole), else the job's set
    built through the public api. A finalised set (manifest.json present) is reused."""
    with phase(f"dataset {row}"):
        if job is None:
            log(f"  {row}: {write_whole(instances, out_dir)} pairs")
            return
        if (out_dir / "manifest.json").exists():
            log(f"  {row}: reusing {out_dir}")
            return
        on_progress = _progress_printer(row, max(1, len(paths) // 5))
        condense_images(paths, out_dir, job, teacher, on_progress)
        manifest = finalize_dataset(out_dir, job, describe_teacher(teacher, teacher_path), paths)
        log(f"  {row}: {manifest['pairs']} pairs in {manifest['seconds']:.0f} s")


def student_path(config: BenchmarkConfig, row: str, seed: int) -> Path:
    return config.out / "students" / row / f"seed{seed}.json"


def get_teacher(config: BenchmarkConfig, make_pairs: Callable[[], PairedArrays]) -> SRModel:
    """Load the teacher checkpoint, or train it on `make_pairs()` and save it there. When it is
    trained exactly as the Whole row's seed-0 student, that student's record is kept too."""
    path, scale = config.teacher, config.patch.scale
    if path.exists():
        log(f"  teacher: loading {path}")
        teacher = load_model(path, device=config.device)
        if teacher.scale != scale:
            raise BenchmarkError(f"{path} is a x{teacher.scale} model, the benchmark is x{scale}")
        return teacher
    recipe = config.teacher_recipe
    if config.teacher_is_whole_student():
        teacher, record = train_and_test(make_pairs(), config, 0)
        write_record(student_path(config, "whole", 0), record)
        log(
            f"  teacher = Whole seed 0: {recipe.iterations} iterations in {record['seconds']:.0f} s"
        )
    else:
        torch.manual_seed(recipe.seed)
        teacher = build_model(config.arch, scale)
        history = train_sr_model(teacher, make_pairs(), recipe, config.device)
        log(f"  teacher: {recipe.iterations} iterations in {history.seconds:.0f} s")
    save_model(teacher, path)
    return teacher


def write_record(path: Path, record: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record, indent=2))


def train_and_test(
    dataset: PairedArrays, config: BenchmarkConfig, seed: int
) -> tuple[SRModel, dict]:
    """Train one student on `dataset` with the student recipe and `seed` (weights, batch order,
    augmentation) and test it on every test folder; the model and its record (scores, curve)."""
    scale = config.patch.scale
    torch.manual_seed(seed)
    student = build_model(config.arch, scale)
    recipe = config.student_recipe.model_copy(update={"seed": seed})
    validate = make_validator(config.val_folder, scale, config.device)
    history = train_sr_model(student, dataset, recipe, config.device, validate=validate)
    scores = {}
    for folder in config.test_folders:
        result = evaluate_model(student, folder, scale, config.device)
        scores[result.name] = {"psnr": result.mean_psnr, "ssim": result.mean_ssim}
    record = {
        "seed": seed,
        "pairs": len(dataset),
        "seconds": history.seconds,
        "scores": scores,
        "validation": history.validations,
    }
    return student, record


def training_pairs(row: str, folder: Path) -> PairedArrays:
    """The pairs a row's students train on: the float LR for the float-LR row (refused when the
    set has none, e.g. one built before the benchmark kept it), the 8-bit PNG LR otherwise."""
    if row != FLOAT_LR_ROW:
        return read_pairs(folder)
    if not (folder / LR_FLOAT_DIR).is_dir():
        raise BenchmarkError(
            f"{folder} has no {LR_FLOAT_DIR}/ for the {row} row (built before the benchmark kept "
            "float LR); use another --out folder"
        )
    return read_pairs(folder, prefer_float=True)


def train_students(config: BenchmarkConfig) -> dict[str, list[dict]]:
    """`config.seeds` students per row on its set in `datasets/`; label -> a record per seed."""
    results: dict[str, list[dict]] = {}
    for row in config.rows:
        label = config.labels[row]
        dataset = training_pairs(row, config.out / "datasets" / dataset_row(row))
        results[label] = []
        for seed in range(config.seeds):
            path = student_path(config, row, seed)
            if path.exists():
                log(f"== student {label} seed {seed}: reusing {path}")
                record = json.loads(path.read_text())
            else:
                with phase(f"student {label} seed {seed} ({len(dataset)} pairs)"):
                    _, record = train_and_test(dataset, config, seed)
                    write_record(path, record)
            scores = record["scores"].items()
            log("  " + ", ".join(f"{n} {s['psnr']:.2f} dB / {s['ssim']:.4f}" for n, s in scores))
            results[label].append(record)
    return results


@dataclass
class BenchmarkRun:
    """What a run produced: label -> one student record per seed, and the set's sizes."""

    results: dict[str, list[dict]]
    images: int
    whole_pairs: int
    row_pairs: int


def run_benchmark(config: BenchmarkConfig) -> BenchmarkRun:
    """Patches, teacher, one training set per row, students: every phase timed and cached."""
    # Bad input fails here, before anything is written or trained.
    for preset in config.idc_presets():
        build_settings(preset, config.idc_overrides)
    build_model(config.arch, config.patch.scale)
    for folder in [*config.train_folders, *config.test_folders, config.val_folder]:
        list_images(folder)
    check_settings(config)
    with phase("prepare patches"):
        paths = image_paths(config.train_folders, config.images)
        instances = load_instances(paths, config.patch)
        whole = sum(len(i) for i in instances)
        row_pairs = round(selection_ratio(instances, config.ratio) * whole)
        log(f"  {len(paths)} images, {whole} pairs, {row_pairs} per condensed row")
    whole_folder = config.out / "datasets" / "whole"
    if "whole" in config.rows:  # first: the teacher may be the Whole row's seed-0 student
        build_dataset("whole", whole_folder, None, paths, instances, None, config.teacher)
    with phase("teacher"):
        if config.teacher_on_all_images:  # like the paper's, not only the subset's

            def make_pairs() -> PairedArrays:
                return pairs_of(load_instances(image_paths(config.train_folders), config.patch))
        elif config.teacher_is_whole_student():  # the very pairs the Whole students read

            def make_pairs() -> PairedArrays:
                return read_pairs(whole_folder)
        else:

            def make_pairs() -> PairedArrays:
                return pairs_of(instances)

        teacher = get_teacher(config, make_pairs)
    for row in dict.fromkeys(dataset_row(row) for row in config.rows):  # each set once, in order
        if row == "whole":
            continue
        folder = config.out / "datasets" / row
        job = row_job(row, instances, config)
        build_dataset(row, folder, job, paths, instances, teacher, config.teacher)
    results = train_students(config)
    return BenchmarkRun(results, len(paths), whole, row_pairs)
