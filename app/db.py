"""Database engine and sessions, shared by the API and the workers.

SQLite (embedded mode) is opened in WAL mode with a busy timeout, so that the API and one worker
process can write to the same file; a pooled Postgres connection is checked before use when it
has been idle.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import TypeVar

import anyio
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import NullPool


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def make_engine(
    url: str, pool_size: int = 5, max_overflow: int = 10, pooled: bool = True
) -> Engine:
    """An engine for `url` with a pool of `pool_size` (+ `max_overflow`) connections, or none
    kept open (`pooled=False`: a process that forks children must not hand them its connections);
    for SQLite, creates the file's folder and sets the pragmas."""
    pool: dict = {"pool_size": pool_size, "max_overflow": max_overflow}
    if not pooled:
        pool = {"poolclass": NullPool}
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        elif pooled:
            pool = {}  # an in-memory database lives in one connection, not a pool
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 30}, **pool
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    engine = create_engine(url, **pool)
    _ping_when_idle(engine)
    return engine


# A pooled connection idle for longer than this is checked with a round trip before use.
PING_IDLE_S = 1.0


def _ping_when_idle(engine: Engine) -> None:
    """Check a pooled connection before use when it has been idle for PING_IDLE_S or longer, so
    that one the database dropped (a restart, an idle timeout) is replaced, not handed to a
    request. `pool_pre_ping` does the same on every checkout: a round trip per request of a busy
    API, which is what a connection used a moment ago does not need. A disconnect found by a
    query instead still invalidates the pool (SQLAlchemy's disconnect handling)."""

    @event.listens_for(engine, "checkin")
    def _checked_in(_dbapi_connection, record) -> None:
        record.info["checked_in"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checkout(dbapi_connection, record, _proxy) -> None:
        checked_in = record.info.get("checked_in")  # None: connected just now
        if checked_in is None or time.monotonic() - checked_in < PING_IDLE_S:
            return
        try:  # pool_pre_ping's own ping, which leaves no transaction open
            engine.dialect.do_ping(dbapi_connection)
        except Exception as error:  # the pool replaces the connection and tries again
            raise DisconnectionError(f"dropped while idle: {error}") from error


Result = TypeVar("Result")


class DatabaseBusy(RuntimeError):
    """Every database slot of the API stayed taken for longer than a request may wait."""


class SessionGate:
    """Lets at most `slots` requests hold a database session at once, the others wait their turn
    on the event loop for up to `wait_s` seconds (then DatabaseBusy, which the API answers 503).

    With `slots` no larger than the engine's pool, a session never waits for a connection inside a
    worker thread. Without the gate, threads blocked on an empty pool can take every thread of the
    threadpool while the requests that hold the connections wait for a thread to finish in: the
    API locks up until the pool's timeout and answers 500.
    """

    def __init__(self, slots: int, wait_s: float) -> None:
        self.slots = slots
        self.wait_s = wait_s
        self._semaphore = asyncio.Semaphore(slots)

    def reset(self) -> None:
        """A fresh semaphore for a new event loop (asyncio primitives belong to one loop)."""
        self._semaphore = asyncio.Semaphore(self.slots)

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        try:
            await asyncio.wait_for(self._semaphore.acquire(), self.wait_s)
        except TimeoutError as error:
            raise DatabaseBusy(
                f"all {self.slots} database slots stayed busy for {self.wait_s:g}s"
            ) from error
        try:
            yield
        finally:
            self._semaphore.release()

    async def run(
        self, sessions: sessionmaker[Session], work: Callable[[Session], Result]
    ) -> Result:
        """`work(session)` in one worker thread inside a slot, the session closed in that same
        thread: one thread hop for a whole read (SessionDep's routes take three)."""

        def in_thread() -> Result:
            with sessions() as session:
                return work(session)

        async with self.slot():
            return await anyio.to_thread.run_sync(in_thread)


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def make_read_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    """Sessions for reads of one statement, in autocommit mode: no BEGIN and no ROLLBACK, two
    round trips to the database fewer per request. Never for writes."""
    return sessionmaker(
        engine.execution_options(isolation_level="AUTOCOMMIT"), expire_on_commit=False
    )


@contextmanager
def session_scope(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session that commits when the block ends and rolls back when it raises."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
