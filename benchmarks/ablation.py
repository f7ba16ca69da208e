"""Table 2 of the paper (the ablation of IDC's parts) at CPU scale: one cached command.

    python -m benchmarks.ablation --out runs/ablation

The paper condenses 80 of DIV2K's 800 images at 10% each (1% of the whole set) with full IDC and
the variants v1..v7, trains the same student on each set and reports each variant's difference
from full IDC. Here: 29 evenly spaced images of T91 + BSD200 (a tenth of the 291) at 10% each,
full IDC (the --idc-preset, `cpu` by default) and the presets v1..v7 (the same sizes with parts
switched off, see idc_core.method.settings), the same fixed student as benchmarks.paper_tables,
several seeds. `table.md` gives mean ± sd over seeds and each row's PSNR difference from IDC;
`validation.png` the validation curves; `figure4.png` the patches of v1..v4 and IDC for the first
two images (benchmarks.figure4; --no-figure skips it). Add `random` (and `whole`, the subset's
every pair) to --rows for a selection reference.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

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

VARIANTS = ("v1", "v2", "v3", "v4", "v5", "v6", "v7")
ROW_LABELS = {"idc": "IDC", **{v: v for v in VARIANTS}, "random": "Random", "whole": "Whole"}

app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)


@app.command()
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
    """Reproduce Table 2 at CPU scale (see the module docstring)."""
    options = dict(locals())  # every parameter above, by name
    with exit_on_error():
        config = config_from_options(options, ROW_LABELS, teacher_on_all_images=True)
        run = run_benchmark(config)
        title = (
            f"Table 2 at CPU scale: x{scale}, {run.images} images at r = {ratio:g} each "
            f"({run.row_pairs} pairs per condensed row, {run.row_pairs / run.whole_pairs:.2%} of "
            f"their patches), {patch_size} px HR patches, {arch} student, "
            f"{student_iterations} iterations"
        )
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


if __name__ == "__main__":
    app()
