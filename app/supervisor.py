"""Keeps one worker subprocess alive for `idc-service embedded`.

The worker runs in a process group of its own. When it exits without being asked to (killed,
out of memory, crashed), its whole group is killed (a prefork child left behind would hold the
job's lease) and it is started again, after a pause that doubles while it keeps dying at once
(1 s up to 30 s). `stop()` ends it: SIGTERM (warm shutdown), then SIGKILL after `grace_s`.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import threading
import time

log = logging.getLogger(__name__)

# A worker that lived this long counts as healthy: the next restart waits the least again.
HEALTHY_S = 60.0
FIRST_PAUSE_S, MAX_PAUSE_S = 1.0, 30.0


class WorkerSupervisor:
    def __init__(self, argv: list[str], env: dict[str, str], grace_s: float = 30.0) -> None:
        self.argv, self.env, self.grace_s = argv, env, grace_s
        self.process: subprocess.Popen[bytes] | None = None
        self.restarts = 0
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._watch, name="worker supervisor", daemon=True)

    def start(self) -> None:
        self._spawn()
        self._thread.start()

    def _spawn(self) -> None:
        with self._lock:
            if self._stopping.is_set():
                return
            self.process = subprocess.Popen(self.argv, env=self.env, start_new_session=True)
            self.started_at = time.monotonic()
        log.info("worker process started (pid %d)", self.process.pid)

    def _watch(self) -> None:
        pause = FIRST_PAUSE_S
        while not self._stopping.is_set():
            process = self.process
            assert process is not None
            code = process.wait()
            if self._stopping.is_set():
                return
            _kill_group(process.pid)
            lived = time.monotonic() - self.started_at
            pause = FIRST_PAUSE_S if lived >= HEALTHY_S else min(pause * 2, MAX_PAUSE_S)
            log.error(
                "the worker process (pid %d) exited unexpectedly with code %s after %.0fs; "
                "restarting it in %.0fs",
                process.pid,
                code,
                lived,
                pause,
            )
            if self._stopping.wait(pause):
                return
            self.restarts += 1
            self._spawn()

    def stop(self) -> None:
        """Warm shutdown of the worker (SIGTERM), SIGKILL of its group after the grace time."""
        with self._lock:
            self._stopping.set()
            process = self.process
        if process is None:
            return
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=self.grace_s)
            except subprocess.TimeoutExpired:
                log.warning("the worker did not stop within %.0fs; killing it", self.grace_s)
        _kill_group(process.pid)
        process.wait()


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)
