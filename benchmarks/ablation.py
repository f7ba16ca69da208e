"""Table 2 of the paper (the ablation of IDC's parts) at CPU scale: one cached command.

    python -m benchmarks.ablation --out runs/ablation --teacher runs/tables/teacher.safetensors

The paper condenses 80 of DIV2K's 800 images at 10% each (1% of the whole set) with full IDC and
the variants v1..v7, trains the same student on each set and reports each variant's difference
from full IDC. Here: 29 evenly spaced images of T91 + BSD200 (a tenth of the 291) at 10% each,
full IDC (the --idc-preset, `cpu` by default) and the presets v1..v7 (the same sizes with parts
switched off, see idc_core.method.settings), the same student as benchmarks.paper_tables,
several seeds. `table.md` gives mean ± sd over seeds and each row's PSNR difference from IDC;
<<<<<<< HEAD
`validation.png` the validation curves. Add `random`, `random-t` (and `whole`, the subset's every
pair) to --rows for the references.
=======
`validation.png` the validation curves; `figure4.png` the patches of v1..v4 and IDC for the first
two images (benchmarks.figure4; --no-figure skips it). Add `random` (and `whole`, the subset's
every pair) to --rows for a selection reference.
>>>>>>> issue-8-diag
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

<<<<<<< HEAD
from benchmarks.config import config_from_options
from benchmarks.console import exit_on_error
from benchmarks.options import CommandDefaults, benchmark_command
from benchmarks.run import report_run, run_benchmark
=======
from benchmarks.common import (
    SHARED_SR,
    config_from_options,
    exit_on_error,
    image_paths,
    log,
    run_benchmark,
)
from benchmarks.figure4 import write_figure4
from benchmarks.report import write_report
>>>>>>> issue-8-diag

VARIANTS = ("v1", "v2", "v3", "v4", "v5", "v6", "v7")
ROW_LABELS = {"idc": "IDC", **{v: v for v in VARIANTS}, "random": "Random", "whole": "Whole"}
DEFAULTS = CommandDefaults(
    out=Path("runs/ablation"),
    rows=",".join(["idc", *VARIANTS]),
    rows_help="comma-separated rows: idc, v1..v7, random, whole, selections + '-t', idc[...]",
    teacher_iterations=1500,
    teacher_help="teacher steps on all training images (ignored with --teacher)",
)

app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)


@app.command()
<<<<<<< HEAD
@benchmark_command(DEFAULTS)
def main(options: dict[str, Any]) -> None:
=======
def main(
    out: Annotated[Path, typer.Option(help="results and caches")] = Path("runs/ablation"),
    train_folder: Annotated[
        list[Path] | None, typer.Option(help="training image folder (repeat; default T91, BSD200)")
    ] = None,
    test_folder: Annotated[
        list[Path] | None, typer.Option(help="test folder (repeat; default Set5, Set14)")
    ] = None,
    val_folder: Annotated[Path, typer.Option(help="validation set of the curves")] = (
        SHARED_SR / "Set14"
    ),
    images: Annotated[int, typer.Option(min=1, help="evenly spaced images condensed")] = 29,
    rows: Annotated[str, typer.Option(help="comma-separated rows")] = ",".join(["idc", *VARIANTS]),
    ratio: Annotated[float, typer.Option(help="ratio per image (paper: 0.1)")] = 0.1,
    scale: Annotated[int, typer.Option(help="super-resolution factor")] = 4,
    patch_size: Annotated[int, typer.Option(help="HR patch side in pixels")] = 64,
    step: Annotated[int, typer.Option(help="HR patch stride in pixels")] = 32,
    seeds: Annotated[int, typer.Option(min=1, help="student seeds per row")] = 2,
    arch: Annotated[str, typer.Option(help="teacher and student architecture")] = "edsr-tiny",
    teacher: Annotated[
        Path | None,
        typer.Option(
            help="existing teacher, e.g. runs/tables/teacher.safetensors (default: train)"
        ),
    ] = None,
    teacher_iterations: Annotated[int, typer.Option(min=1)] = 1500,
    student_iterations: Annotated[int, typer.Option(min=1)] = 1000,
    batch_size: Annotated[int, typer.Option(min=1)] = 16,
    learning_rate: Annotated[float, typer.Option(min=0)] = 1.5e-3,
    val_every: Annotated[int, typer.Option(min=0, help="validate every N steps")] = 250,
    idc_preset: Annotated[str, typer.Option(help="settings preset of the full IDC row")] = "cpu",
    idc_iterations: Annotated[
        int, typer.Option(min=0, help="IDC steps per image in every row (0: the presets' own)")
    ] = 100,
    selection_seed: Annotated[int, typer.Option(help="seed of the condensation jobs")] = 0,
    device: Annotated[str, typer.Option(help="auto, cpu or cuda")] = "auto",
    figure: Annotated[bool, typer.Option(help="also write figure4.png (v1..v4, IDC)")] = True,
) -> None:
>>>>>>> issue-8-diag
    """Reproduce Table 2 at CPU scale (see the module docstring)."""
    with exit_on_error():
        config = config_from_options(
            options, ROW_LABELS, teacher_on_all_images=True, whole_on_all_images=False
        )
        run = run_benchmark(config)
        title = (
            f"Table 2 at CPU scale: x{config.patch.scale}, {run.images} images at "
            f"r = {config.ratio:g} each ({run.row_pairs} pairs per condensed row, "
            f"{run.row_pairs / run.whole_pairs:.2%} of their patches), "
            f"{config.patch.patch_size} px HR patches, {config.arch} student, "
            f"{config.student_recipe.iterations} iterations"
        )
        report_run(
            config, run, title, "IDC" if "IDC" in run.results else None, figure=options["figure"]
        )
<<<<<<< HEAD
=======
        names = [folder.name for folder in config.test_folders]
        reference = "IDC" if "IDC" in run.results else None
        table = write_report(out, run.results, names, title, val_folder.name, reference)
        log(table)
        log(f"wrote {out / 'table.md'} and {out / 'validation.png'}")
        if figure:
            paths = image_paths(config.train_folders, config.images)[:2]
            write_figure4(
                out / "figure4.png", paths, config.teacher, config.patch, ratio,
                config.idc_overrides, selection_seed, config.device, idc_preset,
            )  # fmt: skip
            log(f"wrote {out / 'figure4.png'} (Figure 4) of {', '.join(p.name for p in paths)}")
>>>>>>> issue-8-diag


if __name__ == "__main__":
    app()
