"""Entry point of the `idc` command: each sub-module registers its commands on `app`."""

from __future__ import annotations

import typer

app = typer.Typer(
    name="idc",
    help="Instance Data Condensation for image super-resolution: prepare, condense, train, evaluate.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)

from idc_core.cli import condense, evaluate, prepare, student, teacher  # noqa: E402

for _module in (teacher, student, evaluate, prepare, condense):
    _module.register(app)
