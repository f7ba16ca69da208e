"""`idc prepare`: cut every image into its real HR/LR patch pairs (the "Whole" dataset)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from idc_core.api import (
    MANIFEST,
    PatchSettings,
    check_images,
    list_images,
    load_instance,
    pair_stem,
    sources_digest,
    write_meta_info,
    write_pairs,
)
from idc_core.cli.common import console, error_console, user_errors

ImagesDir = Annotated[Path, typer.Option("--images", help="folder of real HR images")]
OutDir = Annotated[Path, typer.Option("--out", help="output folder (paired layout)")]
Scale = Annotated[int, typer.Option(help="super-resolution factor: 2, 3 or 4")]
PatchSize = Annotated[int, typer.Option(help="HR patch side in pixels (paper: 256)")]
Step = Annotated[int, typer.Option(help="stride between HR patches in pixels (paper: 128)")]


def prepare(
    images: ImagesDir,
    out: OutDir,
    scale: Scale = 4,
    patch_size: PatchSize = 256,
    step: Step = 128,
    float_lr: Annotated[bool, typer.Option(help="also write LR_float/*.npy")] = False,
) -> None:
    """Write all overlapping patch pairs of --images to --out, with meta_info.txt."""
    with user_errors():
        patch = PatchSettings(patch_size=patch_size, step=step, scale=scale)
        paths = list_images(images)
        check_images(paths, patch.patch_size, patch.scale)
        total = 0
        columns = (
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
        )
        with Progress(*columns, console=error_console) as progress:
            task = progress.add_task("prepare", total=len(paths))
            for path in paths:
                instance = load_instance(path, patch)
                stems = [pair_stem(instance.name, j) for j in range(len(instance))]
                lr_float = instance.lr.astype("float32") / 255.0 if float_lr else None
                write_pairs(out, stems, instance.hr, instance.lr, lr_float)
                total += len(instance)
                progress.advance(task)
        write_meta_info(out)
        (out / MANIFEST).write_text(
            json.dumps(
                {
                    "method": "whole",
                    "patch": patch.model_dump(),
                    "pairs": total,
                    "sources": sources_digest(paths),
                },
                indent=2,
            )
            + "\n"
        )
        console.print(f"wrote {total} pairs from {len(paths)} images to {out}")


def register(app: typer.Typer) -> None:
    app.command("prepare")(prepare)
