"""The one option set of the table benchmarks (`paper_tables`, `ablation`); each command only
chooses its defaults (`CommandDefaults`) and what it does with the options."""

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer

from benchmarks.config import SHARED_SR


@dataclass(frozen=True)
class CommandDefaults:
    """The defaults in which the two commands differ."""

    out: Path
    rows: str
    rows_help: str
    teacher_iterations: int | None
    teacher_help: str
    val_every: int


def benchmark_command(
    defaults: CommandDefaults,
) -> Callable[[Callable[[dict[str, Any]], None]], Callable[..., None]]:
    """Decorate `body(options)` into a typer command with every benchmark option; `options` is
    the parameters by name."""

    def decorate(body: Callable[[dict[str, Any]], None]) -> Callable[..., None]:
        def main(
            out: Annotated[Path, typer.Option(help="results and caches")] = defaults.out,
            train_folder: Annotated[
                list[Path] | None,
                typer.Option(help="training image folder (repeat; default T91, BSD200)"),
            ] = None,
            test_folder: Annotated[
                list[Path] | None, typer.Option(help="test folder (repeat; default Set5, Set14)")
            ] = None,
            val_folder: Annotated[
                Path, typer.Option(help="validation set of the curves (tune on this one only)")
            ] = SHARED_SR / "Set14",
            images: Annotated[
                int | None,
                typer.Option(min=0, help="evenly spaced images the condensed rows use (0: all)"),
            ] = 29,
            rows: Annotated[str, typer.Option(help=defaults.rows_help)] = defaults.rows,
            ratio: Annotated[
                float, typer.Option(help="ratio per image (paper: 0.1; never one patch per image)")
            ] = 0.1,
            scale: Annotated[int, typer.Option(help="super-resolution factor")] = 4,
            patch_size: Annotated[int, typer.Option(help="HR patch side in pixels")] = 64,
            step: Annotated[int, typer.Option(help="HR patch stride in pixels")] = 32,
            seeds: Annotated[int, typer.Option(min=1, help="student seeds per row")] = 3,
            arch: Annotated[str, typer.Option(help="teacher and student architecture")] = (
                "edsr-tiny"
            ),
            teacher: Annotated[
                Path | None, typer.Option(help="existing teacher checkpoint (default: train one)")
            ] = None,
            teacher_iterations: Annotated[
                int | None, typer.Option(min=1, help=defaults.teacher_help)
            ] = defaults.teacher_iterations,
            student_iterations: Annotated[int, typer.Option(min=1)] = 2000,
            batch_size: Annotated[int, typer.Option(min=1)] = 16,
            learning_rate: Annotated[float, typer.Option(min=0)] = 1.5e-3,
            val_every: Annotated[
                int,
                typer.Option(
                    min=0, help="validate every N steps (0: only after the last, no curves)"
                ),
            ] = defaults.val_every,
            idc_preset: Annotated[str, typer.Option(help="settings preset of the IDC row")] = (
                "cpu"
            ),
            idc_iterations: Annotated[
                int, typer.Option(min=0, help="IDC steps per image in every row (0: the presets')")
            ] = 0,
            upsampler_feat: Annotated[
                int,
                typer.Option(
                    min=0,
                    help="0: the teacher makes the HR of IDC and -T rows; N: a larger up-sampler "
                    "with N channels, trained on the teacher's pairs, makes it",
                ),
            ] = 0,
            upsampler_blocks: Annotated[int, typer.Option(min=1)] = 6,
            upsampler_iterations: Annotated[int, typer.Option(min=1)] = 2000,
            idc_features: Annotated[
                str,
                typer.Option(
                    help="teacher: IDC rows match the teacher's features; upsampler: the larger "
                    "up-sampler's (needs --upsampler-feat), a stronger feature extractor",
                ),
            ] = "teacher",
            selection_seed: Annotated[int, typer.Option(help="seed of the condensation jobs")] = 0,
            device: Annotated[str, typer.Option(help="auto, cpu or cuda")] = "auto",
            figure: Annotated[
                bool, typer.Option(help="also write figure4.png (real, start, v1..v4, IDC)")
            ] = True,
        ) -> None:
            options = dict(locals())  # every parameter above, by name, and the closure's `body`
            del options["body"]
            options["images"] = options["images"] or None
            body(options)

        main.__doc__ = body.__doc__
        return main

    return decorate
