"""Table 2 of the paper (the ablation of IDC's parts) at CPU scale: one cached command.

    python -m benchmarks.ablation --out runs/ablation --teacher runs/tables/teacher.safetensors

The paper condenses 80 of DIV2K's 800 images at 10% each (1% of the whole set) with full IDC and
the variants v1..v7, trains the same student on each set and reports each variant's difference
from full IDC. Here: 29 evenly spaced images of T91 + BSD200 (a tenth of the 291) at 10% each,
full IDC (the --idc-preset, `cpu` by default) and the presets v1..v7 (the same sizes with parts
switched off, see idc_core.method.settings), the same student as benchmarks.paper_tables,
several seeds. `table.md` gives mean ± sd over seeds and each row's PSNR difference from IDC;
`validation.png` the validation curves when asked for (`--val-every N`). Add `random`,
`random-t` (and `whole`, the subset's every pair) to --rows for the references.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from benchmarks.config import config_from_options
from benchmarks.console import exit_on_error
from benchmarks.options import CommandDefaults, benchmark_command
from benchmarks.run import report_run, run_benchmark

VARIANTS = ("v1", "v2", "v3", "v4", "v5", "v6", "v7")
ROW_LABELS = {"idc": "IDC", **{v: v for v in VARIANTS}, "random": "Random", "whole": "Whole"}
DEFAULTS = CommandDefaults(
    out=Path("runs/ablation"),
    rows=",".join(["idc", *VARIANTS]),
    rows_help="comma-separated rows: idc, v1..v7, random, whole, selections + '-t', idc[...]",
    teacher_iterations=1500,
    teacher_help="teacher steps on all training images (ignored with --teacher)",
    val_every=0,  # validate once, at the end: Table 2 has no curves, and each costs time
)

app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)


@app.command()
@benchmark_command(DEFAULTS)
def main(options: dict[str, Any]) -> None:
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


if __name__ == "__main__":
    app()
