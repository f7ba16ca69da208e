"""`idc teacher train`: train the teacher SR model on the overlapping patches of real images."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

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
from idc_core.data.images import list_images
from idc_core.data.patches import PatchSettings
from idc_core.device import resolve_device
from idc_core.evaluation.evaluate import make_validator
from idc_core.evaluation.metrics import DEFAULT_CONVENTION, check_convention
from idc_core.spec import get_recipe
from idc_core.training.teacher import train_teacher

teacher_app = typer.Typer(
    help="Train the teacher model that IDC distils from.", no_args_is_help=True
)

# Options shared with `idc train-student`.
Arch = Annotated[str, typer.Option(help="built-in architecture: edsr-tiny, edsr-baseline")]
Iterations = Annotated[int | None, typer.Option(help="override the recipe's steps")]
BatchSize = Annotated[int | None, typer.Option(help="override the recipe's batch size")]
LearningRate = Annotated[float | None, typer.Option(help="override the recipe's learning rate")]
Seed = Annotated[int, typer.Option(help="seeds initial weights, batch order and augmentation")]
Device = Annotated[str, typer.Option(help="auto, cpu or cuda")]
ValFolder = Annotated[Path | None, typer.Option(help="test images to validate on (e.g. Set5)")]
ValEvery = Annotated[int | None, typer.Option(help="validate every N steps (default: at end)")]
Out = Annotated[Path, typer.Option("--out", help="model file to write (.safetensors)")]


@teacher_app.command("train")
def train(
    images: Annotated[Path, typer.Option("--images", help="folder of real HR training images")],
    out: Out,
    arch: Arch = "edsr-tiny",
    scale: Annotated[int, typer.Option(help="super-resolution factor: 2, 3 or 4")] = 4,
    recipe: Annotated[str, typer.Option(help="named training recipe")] = "teacher-cpu",
    iterations: Iterations = None,
    batch_size: BatchSize = None,
    lr: LearningRate = None,
    patch_size: Annotated[int, typer.Option(help="HR patch side in pixels")] = 64,
    step: Annotated[int, typer.Option(help="stride between HR patches in pixels")] = 32,
    seed: Seed = 0,
    device: Device = "auto",
    val_folder: ValFolder = None,
    val_every: ValEvery = None,
    convention: ConventionOption = DEFAULT_CONVENTION,
    overwrite: ModelOverwrite = False,
) -> None:
    """Train a teacher on every patch of the images in --images and save it to --out."""
    with user_errors(), progress.report_to():
        check_model_path(out, overwrite)
        patch = PatchSettings(patch_size=patch_size, step=step, scale=scale)
        settings = get_recipe(
            recipe,
            iterations=iterations,
            batch_size=batch_size,
            lr=lr,
            seed=seed,
            val_every=val_every,
        )
        torch_device = resolve_device(device)
        paths = list_images(images)
        validate = (
            make_validator(val_folder, scale, torch_device, check_convention(convention))
            if val_folder
            else None
        )
        console.print(f"teacher {arch} x{scale} on {len(paths)} images, {torch_device}")
        model, history = train_teacher(
            paths, patch, settings, arch, torch_device, validate=validate
        )
        save_trained(model, out, settings, history, convention if val_folder else None)


def register(app: typer.Typer) -> None:
    app.add_typer(teacher_app, name="teacher")
