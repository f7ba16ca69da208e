"""The engine's pooled Postgres connections: one the database dropped while it sat idle in the
pool is replaced before anything gets it; one used a moment ago is handed out without a ping, and
a disconnect its query finds costs that one query, not the next."""

from __future__ import annotations

import time
from collections.abc import Iterator

import psycopg
import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import OperationalError

from app import db
from tests.conftest_service import PG_ADMIN_URL


def _terminate(backend_pid: int) -> None:
    """Kill a server process and wait (up to 5 s) until it has exited."""
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
        assert admin.execute("SELECT pg_terminate_backend(%s, 5000)", (backend_pid,)).fetchone()


def _backend_pid(engine) -> int:
    with engine.connect() as connection:
        return connection.execute(text("SELECT pg_backend_pid()")).scalar_one()


@pytest.fixture
def engine(postgres_url) -> Iterator[Engine]:
    """The API's engine with a pool of one connection, so every checkout reuses it."""
    engine = db.make_engine(postgres_url, pool_size=1, max_overflow=0)
    yield engine
    engine.dispose()


def test_a_connection_dropped_while_idle_is_replaced(engine, monkeypatch):
    monkeypatch.setattr(db, "PING_IDLE_S", 0.2)
    first = _backend_pid(engine)
    _terminate(first)
    time.sleep(0.5)  # idle in the pool for longer than PING_IDLE_S
    assert _backend_pid(engine) != first  # no error: the ping found it dead


def test_a_pinged_connection_serves_autocommit_reads_and_transactions(engine, monkeypatch):
    """The ping leaves no transaction open, so a read session can switch to autocommit."""
    monkeypatch.setattr(db, "PING_IDLE_S", 0.0)  # ping at every checkout
    for _ in range(2):
        with db.make_read_sessionmaker(engine)() as session:
            assert session.execute(text("SELECT 1")).scalar_one() == 1
        with db.make_sessionmaker(engine)() as session, session.begin():
            assert session.execute(text("SELECT 2")).scalar_one() == 2


def test_a_connection_used_a_moment_ago_is_not_pinged(engine, monkeypatch):
    monkeypatch.setattr(db, "PING_IDLE_S", 60.0)
    first = _backend_pid(engine)
    _terminate(first)
    with pytest.raises(OperationalError) as raised:  # handed out unchecked: the query finds it
        _backend_pid(engine)
    assert raised.value.connection_invalidated
    assert _backend_pid(engine) != first  # the pool was invalidated: a fresh connection
