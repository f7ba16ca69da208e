"""`idc evaluate`: Y-PSNR/SSIM of a model on test folders, as a table and optionally JSON."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.progress import Progress
from rich.table import Table

from idc_core.api import (
    EvalResult,
    evaluate_bicubic,
    evaluate_model,
    list_images,
    load_model,
    resolve_device,
)
from idc_core.cli.common import console, error_console, user_errors, write_json


def results_table(rows: list[tuple[str, EvalResult]], scale: int) -> Table:
    table = Table(title=f"Y-channel PSNR / SSIM, x{scale}, {scale}-pixel border cropped")
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
    model_path: Annotated[Path, typer.Option("--model", help="model file (ours or spandrel's)")],
    folders: Annotated[
        list[Path] | None, typer.Argument(help="test folders (same as --test-folders)")
    ] = None,
    test_folders: Annotated[
        list[Path] | None,
        typer.Option("--test-folders", help="test folders: --test-folders Set5 Set14"),
    ] = None,
    scale: Annotated[int | None, typer.Option(help="SR factor (default: the model's)")] = None,
    device: Annotated[str, typer.Option(help="auto, cpu or cuda")] = "auto",
    bicubic: Annotated[bool, typer.Option(help="also score bicubic up-sampling")] = False,
    json_path: Annotated[Path | None, typer.Option("--json", help="write scores here")] = None,
) -> None:
    """Score a model on HR test folders (LR made by MATLAB-style bicubic down-sampling)."""
    with user_errors():
        all_folders = [*(test_folders or []), *(folders or [])]
        if not all_folders:
            raise ValueError("give at least one test folder (--test-folders Set5 Set14)")
        for folder in all_folders:
            list_images(folder)  # fail now on a missing or empty folder, not after the first set
        torch_device = resolve_device(device)
        model = load_model(model_path, torch_device)
        scale = scale or model.scale
        if scale != model.scale:
            raise ValueError(
                f"{model_path} is a x{model.scale} model; --scale {scale} does not fit"
            )
        rows: list[tuple[str, EvalResult]] = []
        with Progress(console=error_console) as progress:
            for folder in all_folders:
                task = progress.add_task(f"{model.arch} on {folder.name}", total=None)
                result = evaluate_model(
                    model, folder, scale, torch_device, lambda _, t=task: progress.advance(t)
                )
                rows.append((model.arch, result))
                if bicubic:
                    rows.append(("bicubic", evaluate_bicubic(folder, scale)))
        console.print(results_table(rows, scale))
        if json_path is not None:
            write_json(
                json_path,
                {
                    "model": str(model_path),
                    "arch": model.arch,
                    "scale": scale,
                    "results": [{"method": m, **r.to_dict()} for m, r in rows],
                },
            )
            console.print(f"wrote {json_path}")


def register(app: typer.Typer) -> None:
    app.command("evaluate")(evaluate)
