"""One benchmark run: patches, teacher, one training set per row, students; each phase timed
and cached in the out folder.

Layout of a benchmark's out folder (every artefact is reused by a re-run with the same settings):

    settings.json                 the settings the folder was made with (a re-run must match)
    teacher.safetensors/.json     the teacher (edsr-tiny by default) trained on the whole set
    upsampler.safetensors/.json   the larger stage-2 up-sampler, with --upsampler-feat N
    datasets/<row>/               each training set in the paired layout (HR/, LR/, meta_info.txt,
                                  manifest.json; idc-float trains on datasets/idc's LR_float/)
    students/<row>/seed<k>.json   test scores and validation curve of one student
    table.md, validation.png      the results (report.py)
"""

from __future__ import annotations

from dataclasses import dataclass

from benchmarks.config import BenchmarkConfig, check_settings
from benchmarks.console import log, phase
from benchmarks.datasets import (
    build_dataset,
    dataset_row,
    image_paths,
    load_instances,
    pairs_of,
    row_job,
    selection_ratio,
)
from benchmarks.figure4 import write_figure4
from benchmarks.report import write_report
from benchmarks.students import get_teacher, get_upsampler, train_students, upsampler_path
from idc_core.api import (
    Instance,
    PairedArrays,
    build_model,
    build_settings,
    list_images,
    read_pairs,
)


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
        for overrides in config.idc_settings_of_rows():
            build_settings(preset, overrides)
    build_model(config.arch, config.patch.scale)
    for folder in [*config.train_folders, *config.test_folders, config.val_folder]:
        list_images(folder)
    check_settings(config)
    with phase("prepare patches"):
        paths = image_paths(config.train_folders, config.images)
        instances = load_instances(paths, config.patch)
        subset_pairs = sum(len(i) for i in instances)
        row_pairs = round(selection_ratio(instances, config.ratio) * subset_pairs)
        log(f"  {len(paths)} images, {subset_pairs} pairs, {row_pairs} per condensed row")

    def all_instances() -> list[Instance]:
        return load_instances(image_paths(config.train_folders), config.patch)

    whole_instances = all_instances() if config.whole_on_all_images else instances
    whole = sum(len(i) for i in whole_instances)
    whole_folder = config.out / "datasets" / "whole"
    if "whole" in config.rows:  # first: the teacher may be the Whole row's seed-0 student
        build_dataset("whole", whole_folder, None, paths, whole_instances, None, config.teacher)
    with phase("teacher"):
        if config.teacher_on_all_images:  # like the paper's, not only the subset's

            def make_pairs() -> PairedArrays:
                return pairs_of(whole_instances if config.whole_on_all_images else all_instances())
        elif config.teacher_is_whole_student():  # the very pairs the Whole students read

            def make_pairs() -> PairedArrays:
                return read_pairs(whole_folder)
        else:

            def make_pairs() -> PairedArrays:
                return pairs_of(whole_instances)

        teacher = get_teacher(config, make_pairs)
        upsampler = get_upsampler(config, make_pairs) if config.upsampler_feat else None
    for row in dict.fromkeys(dataset_row(row) for row in config.rows):  # each set once, in order
        if row == "whole":
            continue
        folder = config.out / "datasets" / row
        job = row_job(row, instances, config)
        if job is not None and job.method == "idc" and config.idc_features == "upsampler":
            # the up-sampler is the feature extractor of the matching and makes the HR
            features, features_path = upsampler, upsampler_path(config)
        else:
            features, features_path = teacher, config.teacher
        build_dataset(row, folder, job, paths, instances, features, features_path, upsampler)
    results = train_students(config)
    return BenchmarkRun(results, len(paths), whole, row_pairs)


def report_run(
    config: BenchmarkConfig,
    run: BenchmarkRun,
    title: str,
    reference: str | None = None,
    figure: bool = True,
) -> None:
    """Write and print `table.md` (and `validation.png` when the students validated), and Figure 4
    of the first two images."""
    names = [folder.name for folder in config.test_folders]
    out = config.out
    table = write_report(
        out, run.results, names, title, config.val_folder.name, reference, config.convention
    )
    log(table)
    plot = out / "validation.png"
    log(f"wrote {out / 'table.md'}" + (f" and {plot}" if plot.exists() else ""))
    if figure:
        paths = image_paths(config.train_folders, config.images)[:2]
        write_figure4(
            out / "figure4.png", paths, config.teacher, config.patch, config.ratio,
            config.idc_overrides, config.selection_seed, config.device, config.idc_preset,
        )  # fmt: skip
        log(f"wrote {out / 'figure4.png'} (Figure 4) of {', '.join(p.name for p in paths)}")
