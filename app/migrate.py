"""The pre-start step: wait for the database, then `alembic upgrade head` (also `downgrade`)."""

from __future__ import annotations

import logging
import time
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import text

import migrations
from app.db import make_engine

log = logging.getLogger(__name__)


def alembic_config(url: str) -> Config:
    """An Alembic config for `url` that works without alembic.ini (installed package)."""
    config = Config()
    config.set_main_option("script_location", str(Path(migrations.__file__).parent))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    config.attributes["configure_logger"] = False
    return config


def wait_for_database(url: str, timeout_s: float = 60.0) -> None:
    """Retry `SELECT 1` until the database answers; raise after `timeout_s`."""
    engine = make_engine(url)
    deadline = time.monotonic() + timeout_s
    try:
        while True:
            try:
                with engine.connect() as connection:
                    connection.execute(text("SELECT 1"))
                return
            except Exception as error:
                if time.monotonic() > deadline:
                    message = f"the database did not answer in {timeout_s:.0f}s: {error}"
                    raise RuntimeError(message) from error
                log.info("waiting for the database: %s", error)
                time.sleep(1.0)
    finally:
        engine.dispose()


def upgrade(url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(url), revision)


def downgrade(url: str, revision: str = "base") -> None:
    command.downgrade(alembic_config(url), revision)
