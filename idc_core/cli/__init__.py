"""The `idc` command line (typer)."""
