"""`idc prepare`: cut every image into its real HR/LR patch pairs (the "Whole" dataset)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from idc_core import __version__, progress
from idc_core.cli.common import console, user_errors
from idc_core.condense_folder import check_images
from idc_core.data.images import list_images
from idc_core.data.paired import write_meta_info, write_pairs
from idc_core.data.patches import PatchSettings, load_instance
from idc_core.manifest import run_environment, sources_digest, write_checksums, write_manifest
from idc_core.output_folder import claim_output_folder
from idc_core.run_identity import prepare_run
from idc_core.spec import pair_stem

ImagesDir = Annotated[Path, typer.Option("--images", help="folder of real HR images")]
OutDir = Annotated[Path, typer.Option("--out", help="output folder (paired layout)")]
Scale = Annotated[int, typer.Option(help="super-resolution factor: 2, 3 or 4")]
PatchSize = Annotated[int, typer.Option(help="HR patch side in pixels (paper: 256)")]
Step = Annotated[int, typer.Option(help="stride between HR patches in pixels (paper: 128)")]
Overwrite = Annotated[
    bool,
    typer.Option(
        "--overwrite",
        help="replace --out whole when it holds another idc run (never a folder with other files)",
    ),
]


def report_claim(state: str, out: Path) -> None:
    """Say what became of the output folder."""
    if state == "resumed":
        console.print(f"resuming the same run in {out}")
    elif state == "replaced":
        console.print(f"--overwrite: removed the earlier idc output in {out}")


def prepare(
    images: ImagesDir,
    out: OutDir,
    scale: Scale = 4,
    patch_size: PatchSize = 256,
    step: Step = 128,
    float_lr: Annotated[bool, typer.Option(help="also write LR_float/*.npy")] = False,
    overwrite: Overwrite = False,
) -> None:
    """Write all overlapping patch pairs of --images to --out, with meta_info.txt."""
    with user_errors(), progress.report_to():
        patch = PatchSettings(patch_size=patch_size, step=step, scale=scale)
        paths = list_images(images)
        check_images(paths, patch.patch_size, patch.scale)
        run = prepare_run(patch, float_lr, paths)
        report_claim(claim_output_folder(out, run, [p.stem for p in paths], overwrite), out)
        total = 0
        with progress.task("prepare", len(paths), "images") as task:
            for path in paths:
                instance = load_instance(path, patch)
                stems = [pair_stem(instance.name, j) for j in range(len(instance))]
                lr_float = instance.lr.astype("float32") / 255.0 if float_lr else None
                write_pairs(out, stems, instance.hr, instance.lr, lr_float)
                total += len(instance)
                task.advance(info=f"{instance.name} {len(instance)} pairs")
        write_meta_info(out)
        write_manifest(
            out,
            {
                "format": "idc-paired-dataset",
                "format_version": 1,
                "idc_version": __version__,
                "created": datetime.now(UTC).isoformat(timespec="seconds"),
                "method": "whole",
                "patch": patch.model_dump(),
                "float_lr": float_lr,
                "environment": run_environment(),
                "sources": sources_digest(paths),
                "pairs": total,
                "outputs": write_checksums(out),
            },
        )
        console.print(f"wrote {total} pairs from {len(paths)} images to {out}")


def register(app: typer.Typer) -> None:
    app.command("prepare")(prepare)
