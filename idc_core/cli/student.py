"""`idc train-student`: train a fresh SR model on a (condensed) paired dataset."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import torch
import typer

from idc_core import progress
from idc_core.cli.common import (
    ConventionOption,
    ModelOverwrite,
    check_model_path,
    console,
    save_trained,
    user_errors,
)
from idc_core.cli.teacher import (
    Arch,
    BatchSize,
    Device,
    Iterations,
    LearningRate,
    Out,
    Seed,
    ValEvery,
    ValFolder,
)
from idc_core.data.paired import read_pairs
from idc_core.device import resolve_device
from idc_core.evaluation.evaluate import make_validator
from idc_core.evaluation.metrics import DEFAULT_CONVENTION, check_convention
from idc_core.models.registry import build_model
from idc_core.spec import get_recipe
from idc_core.training.loop import train_sr_model


def infer_scale(hr_side: int, lr_side: int) -> int:
    """The SR factor of a paired dataset from its patch sizes."""
    if lr_side == 0 or hr_side % lr_side:
        raise ValueError(f"HR side {hr_side} is not a multiple of LR side {lr_side}")
    return hr_side // lr_side


def train_student(
    data: Annotated[Path, typer.Option("--data", help="paired dataset folder (HR/, LR/)")],
    out: Out,
    arch: Arch = "edsr-tiny",
    recipe: Annotated[str, typer.Option(help="named training recipe")] = "student-cpu",
    iterations: Iterations = None,
    batch_size: BatchSize = None,
    lr: LearningRate = None,
    seed: Seed = 0,
    device: Device = "auto",
    float_lr: Annotated[bool, typer.Option(help="use LR_float/*.npy when present")] = True,
    val_folder: ValFolder = None,
    val_every: ValEvery = None,
    convention: ConventionOption = DEFAULT_CONVENTION,
    overwrite: ModelOverwrite = False,
) -> None:
    """Train a student from scratch on --data; the scale comes from the patch sizes."""
    with user_errors(), progress.report_to():
        check_model_path(out, overwrite)
        settings = get_recipe(
            recipe,
            iterations=iterations,
            batch_size=batch_size,
            lr=lr,
            seed=seed,
            val_every=val_every,
        )
        torch_device = resolve_device(device)
        pairs = read_pairs(data, prefer_float=float_lr)
        scale = infer_scale(pairs.hr.shape[1], pairs.lr.shape[1])
        validate = (
            make_validator(val_folder, scale, torch_device, check_convention(convention))
            if val_folder
            else None
        )
        torch.manual_seed(seed)
        model = build_model(arch, scale)
        console.print(
            f"student {arch} x{scale} on {len(pairs)} pairs ({pairs.lr.dtype} LR), {torch_device}"
        )
        history = train_sr_model(
            model, pairs, settings, torch_device, validate=validate, description="student"
        )
        save_trained(model, out, settings, history, convention if val_folder else None)


def register(app: typer.Typer) -> None:
    app.command("train-student")(train_student)
