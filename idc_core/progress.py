"""Progress of long steps (evaluation, training, condensation, ranking): counts, rate and ETA.

Library code opens a task where a step may take more than a few seconds:

    with progress.task("bicubic on Set14", total=14, unit="images") as task:
        for image in images:
            ...
            task.advance()

What becomes of it is the command's choice, made once with `report_to(stream)`: by default
nothing (library use, Celery workers and tests pay a counter increment); on a terminal one live
status line; when the stream is not a terminal (nohup, CI, a cluster scheduler) log lines: one
when a task starts, one every `interval` seconds while it runs, one when it ends.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime
from typing import TextIO

LOG_INTERVAL_S = 15.0  # between log lines when the output is not a terminal
LIVE_REFRESH_S = 0.2  # least time between redraws of the terminal status line


def format_duration(seconds: float) -> str:
    """12s, 3m05s, 1h02m."""
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


class Task:
    """One step with a known (or unknown) number of items; `skip` counts items already done
    (a resumed run), which count as completed but not towards the rate."""

    def __init__(
        self,
        description: str,
        total: int | None,
        unit: str,
        display: Display | None,
        clock: Callable[[], float],
    ) -> None:
        self.description, self.total, self.unit = description, total, unit
        self.completed, self.skipped, self.info = 0, 0, ""
        self.display, self.clock = display, clock
        self.started = clock()

    def advance(self, count: int = 1, info: str | None = None) -> None:
        self.update(completed=self.completed + count, info=info)

    def skip(self, count: int = 1, info: str | None = None) -> None:
        self.skipped += count
        self.update(completed=self.completed + count, info=info)

    def update(
        self, completed: int | None = None, total: int | None = None, info: str | None = None
    ) -> None:
        if completed is not None:
            self.completed = completed
        if total is not None:
            self.total = total
        if info is not None:
            self.info = info
        if self.display is not None:
            self.display.changed(self)

    @property
    def elapsed(self) -> float:
        return self.clock() - self.started

    def eta(self) -> float | None:
        """Seconds left at the rate of the items done so far (skipped ones excluded)."""
        timed = self.completed - self.skipped
        if self.total is None or timed <= 0:
            return None
        return self.elapsed / timed * max(0, self.total - self.completed)

    def line(self, final: bool = False) -> str:
        """`teacher: 1200/3000 steps (40%), 9.8 steps/s, ETA 3m04s, loss 0.0312`."""
        parts = [f"{self.completed}/{self.total if self.total is not None else '?'} {self.unit}"]
        if self.total:
            parts[0] += f" ({100 * self.completed / self.total:.0f}%)"
        timed, elapsed = self.completed - self.skipped, self.elapsed
        if timed > 0 and elapsed > 0:
            rate = timed / elapsed
            unit = self.unit or "items"
            parts.append(f"{rate:.1f} {unit}/s" if rate >= 1 else f"{1 / rate:.1f} s each")
        if final:
            parts.append(f"took {format_duration(elapsed)}")
        elif (eta := self.eta()) is not None:
            parts.append(f"ETA {format_duration(eta)}")
        if self.info:
            parts.append(self.info)
        return f"{self.description}: {', '.join(parts)}"


class Display:
    """Where the tasks of one command are shown: a live line on a terminal, log lines otherwise."""

    def __init__(
        self,
        stream: TextIO,
        live: bool | None = None,
        interval: float = LOG_INTERVAL_S,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.stream = stream
        self.live = stream.isatty() if live is None else live
        self.interval, self.clock = interval, clock or time.monotonic
        self.open: list[Task] = []
        self.last_logged: dict[int, float] = {}  # task id -> clock of its last log line
        self.last_redraw = float("-inf")
        self.status_width = 0

    def started(self, task: Task) -> None:
        self.open.append(task)
        if self.live:
            self._redraw(force=True)
        else:
            size = f"{task.total} {task.unit}".strip() if task.total is not None else "?"
            self._log(task, f"{task.description}: started ({size})")

    def changed(self, task: Task) -> None:
        if self.live:
            self._redraw()
        elif self.clock() - self.last_logged.get(id(task), float("-inf")) >= self.interval:
            self._log(task, task.line())

    def ended(self, task: Task, error: BaseException | None) -> None:
        self.open.remove(task)
        line = task.line(final=True)
        if error is not None:
            line += f" (stopped: {type(error).__name__})"
        if self.live:
            self._clear_status()
            self.stream.write(line + "\n")
            self._redraw(force=True)
        else:
            self._log(task, line)
        self.last_logged.pop(id(task), None)
        self.stream.flush()

    def close(self) -> None:
        self._clear_status()
        self.stream.flush()

    def _log(self, task: Task, text: str) -> None:
        self.stream.write(f"[{datetime.now():%H:%M:%S}] {text}\n")
        self.stream.flush()
        self.last_logged[id(task)] = self.clock()

    def _clear_status(self) -> None:
        if self.status_width:
            self.stream.write("\r" + " " * self.status_width + "\r")
            self.status_width = 0

    def _redraw(self, force: bool = False) -> None:
        now = self.clock()
        if not force and now - self.last_redraw < LIVE_REFRESH_S:
            return
        self.last_redraw = now
        text = " | ".join(task.line() for task in self.open)
        self._clear_status()
        if text:
            self.stream.write(text)
            self.status_width = len(text)
        self.stream.flush()


_display: ContextVar[Display | None] = ContextVar("idc_progress_display", default=None)


@contextmanager
def report_to(
    stream: TextIO | None = None, live: bool | None = None, interval: float = LOG_INTERVAL_S
) -> Iterator[Display]:
    """Show every task opened inside the block on `stream` (default: stderr)."""
    display = Display(stream if stream is not None else sys.stderr, live, interval)
    token = _display.set(display)
    try:
        yield display
    finally:
        _display.reset(token)
        display.close()


@contextmanager
def task(description: str, total: int | None = None, unit: str = "") -> Iterator[Task]:
    """A task shown by the active display, if any; its end line says how long it took."""
    display = _display.get()
    current = Task(description, total, unit, display, display.clock if display else time.monotonic)
    if display is not None:
        display.started(current)
    error: BaseException | None = None
    try:
        yield current
    except BaseException as raised:
        error = raised
        raise
    finally:
        if display is not None:
            display.ended(current, error)
