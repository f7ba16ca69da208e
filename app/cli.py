"""`idc-service`: create API keys, migrate, and run the API, a worker, or both (embedded)."""

from __future__ import annotations

import os
import signal
import sys
from typing import Annotated

import typer

from app.config import get_settings
from app.logs import configure_logging

app = typer.Typer(help="The IDC condensation service.", no_args_is_help=True)


def _settings(host: str | None = None, port: int | None = None):
    """The settings; `host`/`port` options replace IDC_API_HOST/PORT (also for signed URLs)."""
    if host is not None:
        os.environ["IDC_API_HOST"] = host
    if port is not None:
        os.environ["IDC_API_PORT"] = str(port)
    get_settings.cache_clear()
    try:
        return get_settings()
    except ValueError as error:
        typer.echo(f"error: invalid settings: {error}", err=True)
        raise typer.Exit(2) from error


def _migrate(timeout_s: float) -> None:
    from app.migrate import upgrade, wait_for_database

    settings = _settings()
    settings.ensure_local_dirs()
    try:
        wait_for_database(settings.sqlalchemy_url, timeout_s)
        upgrade(settings.sqlalchemy_url)
    except Exception as error:
        typer.echo(f"error: migration failed: {error}", err=True)
        raise typer.Exit(1) from error


@app.command()
def migrate(
    timeout: Annotated[float, typer.Option(help="seconds to wait for the database")] = 60.0,
) -> None:
    """Wait for the database, then apply every migration (alembic upgrade head)."""
    _migrate(timeout)
    typer.echo("database is at the latest revision", err=True)


@app.command("create-key")
def create_key(
    owner: Annotated[str, typer.Option(help="the owner the key acts for")],
    name: Annotated[str, typer.Option(help="a label to recognise the key")] = "",
) -> None:
    """Create an API key and print it (only once: the database keeps its hash)."""
    from app.db import make_engine, make_sessionmaker, session_scope
    from app.security import create_api_key

    settings = _settings()
    engine = make_engine(settings.sqlalchemy_url)
    try:
        with session_scope(make_sessionmaker(engine)) as session:
            new = create_api_key(session, owner, name)
    except ValueError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from error
    finally:
        engine.dispose()
    typer.echo(f"created key {new.id} for owner {new.owner!r}; it is shown only now:", err=True)
    typer.echo(new.key)


@app.command("revoke-key")
def revoke_key(key_id: Annotated[str, typer.Argument(help="key id or its prefix")]) -> None:
    """Revoke an API key: requests with it answer 401 from now on."""
    from app.db import make_engine, make_sessionmaker, session_scope
    from app.security import revoke_api_key

    engine = make_engine(_settings().sqlalchemy_url)
    with session_scope(make_sessionmaker(engine)) as session:
        found = revoke_api_key(session, key_id)
    engine.dispose()
    if not found:
        typer.echo(f"error: no key {key_id!r}", err=True)
        raise typer.Exit(1)
    typer.echo(f"revoked {key_id}", err=True)


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="default: IDC_API_HOST")] = None,
    port: Annotated[int | None, typer.Option(help="default: IDC_API_PORT")] = None,
    migrate_first: Annotated[bool, typer.Option("--migrate/--no-migrate")] = True,
) -> None:
    """Run the API (uvicorn), after applying the migrations."""
    settings = _settings(host, port)
    configure_logging(settings.log_level)
    if migrate_first:
        _migrate(60.0)
    _run_api(settings)


def _run_api(settings) -> None:
    """Serve app.main's application with uvicorn (trusting proxy headers) until stopped: in
    `IDC_API_WORKERS` processes, which then count their metrics in one shared folder."""
    import uvicorn

    from app.metrics import multiprocess_metrics

    with multiprocess_metrics(settings.api_workers):
        uvicorn.run(
            "app.main:create_app",
            factory=True,
            host=settings.api_host,
            port=settings.api_port,
            log_level=settings.log_level.lower(),
            proxy_headers=True,
            workers=settings.api_workers,
        )


def _worker_argv(concurrency: int | None, settings) -> list[str]:
    gpus = [g for g in settings.worker_gpus.split(",") if g.strip()]
    processes = concurrency or len(gpus) or 1
    return [
        "worker",
        "--pool=prefork",
        f"--concurrency={processes}",
        f"--loglevel={settings.log_level}",
        f"--queues={settings.queue}",
        "--without-gossip",
        "--without-mingle",
    ]


@app.command()
def worker(
    concurrency: Annotated[
        int | None, typer.Option(help="processes; default: one per IDC_WORKER_GPUS entry, or 1")
    ] = None,
) -> None:
    """Run a Celery worker (prefork: one child per GPU; CUDA is set up in the children only)."""
    from worker.celery_app import celery_app

    settings = _settings()
    settings.ensure_local_dirs()
    celery_app.worker_main(_worker_argv(concurrency, settings))


@app.command()
def embedded(
    host: Annotated[str | None, typer.Option(help="default: IDC_API_HOST")] = None,
    port: Annotated[int | None, typer.Option(help="default: IDC_API_PORT")] = None,
) -> None:
    """API and one worker together, with SQLite, local files and a SQLite broker by default:
    nothing else to install or start. A worker that dies is started again."""
    from app.supervisor import WorkerSupervisor

    settings = _settings(host, port)
    configure_logging(settings.log_level)
    _migrate(60.0)
    supervisor = WorkerSupervisor([sys.executable, "-m", "app.cli", "worker"], os.environ.copy())
    supervisor.start()
    # uvicorn re-raises SIGTERM once it has shut down; exiting through SystemExit instead lets
    # the `finally` below stop the worker rather than leave it orphaned.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        _run_api(settings)
    finally:
        supervisor.stop()


if __name__ == "__main__":
    app()
