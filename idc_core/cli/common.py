"""What every `idc` command shares: turning expected errors into a message and exit code 1, and
a progress bar for training."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from idc_core.api import SRModel, TrainHistory, TrainProgress, TrainRecipe, save_model

console = Console()
error_console = Console(stderr=True)


@contextmanager
def user_errors() -> Iterator[None]:
    """Bad input (ValueError and its kin, unreadable files) -> 'error: ...' on stderr, exit 1."""
    try:
        yield
    except (ValueError, OSError) as error:  # pydantic's ValidationError is a ValueError
        error_console.print(f"[bold red]error:[/] {error}", markup=True, highlight=False)
        raise typer.Exit(1) from error


@contextmanager
def training_progress(description: str, total: int) -> Iterator[Any]:
    """A rich bar with the current loss; yields the `on_progress` callback for train_sr_model."""
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("loss {task.fields[loss]:.4f}"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=error_console, transient=False) as progress:
        task = progress.add_task(description, total=total, loss=float("nan"))

        def on_progress(event: TrainProgress) -> None:
            progress.update(task, completed=event.iteration, loss=event.loss)

        yield on_progress


def write_json(path: Path, data: Any) -> None:
    """Write `data` as indented JSON, creating the parent folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2) + "\n")


def history_path(model_path: Path) -> Path:
    """Where a training command writes the loss/validation history of `model_path`."""
    return model_path.with_name(f"{model_path.stem}.history.json")


def check_model_path(path: Path) -> None:
    """Fail before training, not after, when the output name is wrong."""
    if path.suffix != ".safetensors":
        raise ValueError(f"--out must end in .safetensors, got {path}")


def save_trained(model: SRModel, out: Path, recipe: TrainRecipe, history: TrainHistory) -> None:
    """Write the model, its `.json` description and `<stem>.history.json`; report them."""
    save_model(model, out)
    write_json(history_path(out), {"recipe": recipe.model_dump(), **history.to_dict()})
    console.print(f"saved {out} ({history.seconds:.1f} s, final loss {history.losses[-1]:.4f})")
    for row in history.validations:
        metrics = ", ".join(f"{k} {v:.4f}" for k, v in row.items() if k != "iteration")
        console.print(f"  validation at step {row['iteration']}: {metrics}")
