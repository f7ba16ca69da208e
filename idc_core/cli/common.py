"""What every `idc` command shares: turning expected errors into a message and exit code 1, the
metric-convention option, and saving trained models."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from idc_core.evaluation.metrics import CONVENTIONS, DEFAULT_CONVENTION
from idc_core.models.base import SRModel
from idc_core.models.checkpoint import save_model
from idc_core.spec import TrainRecipe
from idc_core.training.loop import TrainHistory

console = Console()
error_console = Console(stderr=True)

ConventionOption = Annotated[
    str,
    typer.Option(
        help=f"PSNR/SSIM convention: {' or '.join(CONVENTIONS)} (default {DEFAULT_CONVENTION}: "
        "as the published tables; basicsr: as BasicSR's calculate_psnr/ssim)"
    ),
]


@contextmanager
def user_errors() -> Iterator[None]:
    """Bad input (ValueError and its kin, unreadable files) -> 'error: ...' on stderr, exit 1."""
    try:
        yield
    except (ValueError, OSError) as error:  # pydantic's ValidationError is a ValueError
        error_console.print(
            f"[bold red]error:[/] {error}", markup=True, highlight=False, soft_wrap=True
        )
        raise typer.Exit(1) from error


def write_json(path: Path, data: Any) -> None:
    """Write `data` as indented JSON, creating the parent folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2) + "\n")


def history_path(model_path: Path) -> Path:
    """Where a training command writes the loss/validation history of `model_path`."""
    return model_path.with_name(f"{model_path.stem}.history.json")


ModelOverwrite = Annotated[
    bool, typer.Option("--overwrite", help="replace an existing --out model and its .json files")
]


def check_model_path(path: Path, overwrite: bool = False) -> None:
    """Fail before training, not after, when the output name is wrong or would replace a model
    (its weights, config or history) that the user did not ask to replace."""
    if path.suffix != ".safetensors":
        raise ValueError(f"--out must end in .safetensors, got {path}")
    existing = [p for p in (path, path.with_suffix(".json"), history_path(path)) if p.exists()]
    if existing and not overwrite:
        names = ", ".join(str(p) for p in existing)
        raise ValueError(f"{names} already exist; pass --overwrite to replace them")


def save_trained(
    model: SRModel,
    out: Path,
    recipe: TrainRecipe,
    history: TrainHistory,
    convention: str | None = None,
) -> None:
    """Write the model, its `.json` description and `<stem>.history.json` (with the metric
    convention of its validations); report them."""
    save_model(model, out)
    record = {"recipe": recipe.model_dump(), "validation_convention": convention}
    write_json(history_path(out), {**record, **history.to_dict()})
    console.print(f"saved {out} ({history.seconds:.1f} s, final loss {history.losses[-1]:.4f})")
    for row in history.validations:
        metrics = ", ".join(f"{k} {v:.4f}" for k, v in row.items() if k != "iteration")
        console.print(f"  validation at step {row['iteration']} ({convention}): {metrics}")
