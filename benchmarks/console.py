"""How the benchmarks talk to the person running them: log lines, timed phases, clean errors."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

import typer


class BenchmarkError(RuntimeError):
    """A benchmark cannot run as asked; the message says why and what to do."""


def log(message: str) -> None:
    print(message, flush=True)


@contextmanager
def exit_on_error() -> Iterator[None]:
    """Bad input or a mismatched out folder: a message and exit status 2, no traceback."""
    try:
        yield
    except (BenchmarkError, ValueError) as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from error


@contextmanager
def phase(name: str) -> Iterator[None]:
    """Print how long a phase took, so that a budget can be checked against real runs."""
    start = time.perf_counter()
    log(f"== {name} ...")
    yield
    log(f"== {name}: {time.perf_counter() - start:.1f} s")
