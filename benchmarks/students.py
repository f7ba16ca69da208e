"""The models of a run: the teacher, the optional larger up-sampler, and the students of each
row (trained, tested, recorded as `students/<row>/seed<k>.json`)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import torch

from benchmarks.config import FLOAT_LR_ROW, BenchmarkConfig
from benchmarks.console import BenchmarkError, log, phase
from benchmarks.datasets import dataset_row
from idc_core.api import (
    CONVENTIONS,
    LR_FLOAT_DIR,
    PairedArrays,
    SRModel,
    build_model,
    evaluate_model_by_convention,
    load_model,
    make_validator,
    read_pairs,
    save_model,
    train_sr_model,
)


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


def upsampler_path(config: BenchmarkConfig) -> Path:
    return config.out / "upsampler.safetensors"


def get_upsampler(config: BenchmarkConfig, make_pairs: Callable[[], PairedArrays]) -> SRModel:
    """The larger stage-2 up-sampler (the paper up-samples with MambaIRv2, a stronger model than
    its feature extractor): `arch` with `upsampler_feat` channels and `upsampler_blocks` blocks,
    trained on the teacher's pairs with the teacher's recipe; cached as upsampler.safetensors."""
    path = upsampler_path(config)
    if path.exists():
        log(f"  upsampler: loading {path}")
        return load_model(path, device=config.device)
    recipe = config.teacher_recipe.model_copy(
        update={"iterations": config.upsampler_iterations, "val_every": 0}
    )
    torch.manual_seed(recipe.seed)
    model = build_model(
        config.arch,
        config.patch.scale,
        num_feat=config.upsampler_feat,
        num_block=config.upsampler_blocks,
    )
    history = train_sr_model(model, make_pairs(), recipe, config.device)
    log(
        f"  upsampler: {config.upsampler_feat} channels, {config.upsampler_blocks} blocks, "
        f"{recipe.iterations} iterations in {history.seconds:.0f} s"
    )
    save_model(model, path)
    return model


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
    validate = make_validator(config.val_folder, scale, config.device, config.convention)
    history = train_sr_model(student, dataset, recipe, config.device, validate=validate)
    scores: dict[str, dict[str, dict[str, float]]] = {}
    conventions = [config.convention, *CONVENTIONS]
    for folder in config.test_folders:
        by_convention = evaluate_model_by_convention(
            student, folder, scale, config.device, conventions
        )
        for convention, result in by_convention.items():
            scores.setdefault(convention, {})[result.name] = {
                "psnr": result.mean_psnr,
                "ssim": result.mean_ssim,
            }
    record = {
        "seed": seed,
        "pairs": len(dataset),
        "seconds": history.seconds,
        "convention": config.convention,
        "scores": scores[config.convention],
        "scores_by_convention": scores,
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
