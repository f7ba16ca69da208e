"""`idc evaluate`: PSNR/SSIM of a model (and/or the Bicubic row) on test folders, as a table and
optionally JSON; both name the metric convention."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from idc_core import progress
from idc_core.cli.common import ConventionOption, console, user_errors, write_json
from idc_core.data.images import list_images
from idc_core.device import resolve_device
from idc_core.evaluation.evaluate import EvalResult, evaluate_bicubic, evaluate_model
from idc_core.evaluation.metrics import DEFAULT_CONVENTION, check_convention
from idc_core.models.checkpoint import load_model

CONVENTION_TITLES = {
    "matlab": "MATLAB convention: Y rounded as rgb2ycbcr, grey images as grey levels",
    "basicsr": "BasicSR convention: float Y, grey images as RGB",
}


def results_table(rows: list[tuple[str, EvalResult]], scale: int, convention: str) -> Table:
    table = Table(title=f"PSNR / SSIM ({convention}), x{scale}, {scale}-pixel border cropped")
    for column in ("method", "test set", "images", "PSNR (dB)", "SSIM"):
        table.add_column(column, justify="left" if column in ("method", "test set") else "right")
    for method, result in rows:
        table.add_row(
            method,
            result.name,
            str(len(result.images)),
            f"{result.mean_psnr:.2f}",
            f"{result.mean_ssim:.4f}",
        )
    return table


def evaluate(
    model_path: Annotated[
        Path | None,
        typer.Option("--model", help="model file (ours or spandrel's); optional with --bicubic"),
    ] = None,
    folders: Annotated[
        list[Path] | None, typer.Argument(help="test folders (same as --test-folders)")
    ] = None,
    test_folders: Annotated[
        list[Path] | None,
        typer.Option("--test-folders", help="test folders: --test-folders Set5 Set14"),
    ] = None,
    scale: Annotated[
        int | None, typer.Option(help="SR factor (default: the model's; 4 without a model)")
    ] = None,
    device: Annotated[str, typer.Option(help="auto, cpu or cuda")] = "auto",
    bicubic: Annotated[bool, typer.Option(help="also (or only) score bicubic up-sampling")] = False,
    convention: ConventionOption = DEFAULT_CONVENTION,
    json_path: Annotated[Path | None, typer.Option("--json", help="write scores here")] = None,
) -> None:
    """Score a model on HR test folders (LR made by MATLAB-style bicubic down-sampling)."""
    with user_errors(), progress.report_to():
        convention = check_convention(convention)
        all_folders = [*(test_folders or []), *(folders or [])]
        if not all_folders:
            raise ValueError("give at least one test folder (--test-folders Set5 Set14)")
        if model_path is None and not bicubic:
            raise ValueError("give --model PATH, or --bicubic for the Bicubic row alone")
        for folder in all_folders:
            list_images(folder)  # fail now on a missing or empty folder, not after the first set
        model, torch_device = None, None
        if model_path is not None:
            torch_device = resolve_device(device)
            model = load_model(model_path, torch_device)
            if scale is not None and scale != model.scale:
                raise ValueError(
                    f"{model_path} is a x{model.scale} model; --scale {scale} does not fit"
                )
            scale = model.scale
        scale = scale or 4
        rows: list[tuple[str, EvalResult]] = []
        for folder in all_folders:
            if model is not None:
                result = evaluate_model(model, folder, scale, torch_device, convention=convention)
                rows.append((model.arch, result))
            if bicubic:
                rows.append(("bicubic", evaluate_bicubic(folder, scale, convention)))
        console.print(results_table(rows, scale, convention))
        console.print(CONVENTION_TITLES[convention], soft_wrap=True)
        if json_path is not None:
            write_json(
                json_path,
                {
                    "model": str(model_path) if model_path is not None else None,
                    "arch": model.arch if model is not None else None,
                    "scale": scale,
                    "convention": convention,
                    "device": str(torch_device) if torch_device is not None else None,
                    "results": [{"method": m, **r.to_dict()} for m, r in rows],
                },
            )
            console.print(f"wrote {json_path}")


def register(app: typer.Typer) -> None:
    app.command("evaluate")(evaluate)
