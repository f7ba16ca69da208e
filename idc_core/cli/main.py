"""Entry point of the `idc` command: each sub-module registers its commands on `app`."""

from __future__ import annotations

import typer

app = typer.Typer(
    name="idc",
    help="Instance Data Condensation for image super-resolution: prepare, condense, train, evaluate.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)

# Commands of the models/training/evaluation part (helper A).
from idc_core.cli import evaluate, student, teacher  # noqa: E402

for _module in (teacher, student, evaluate):
    _module.register(app)

# Commands of the IDC method part (helper B).
from idc_core.cli import condense, prepare  # noqa: E402

for _module in (prepare, condense):
    _module.register(app)
