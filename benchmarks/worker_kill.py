"""A worker SIGKILLed mid-shard, with the default liveness settings, in both modes: how long from
the kill until the job has succeeded on another worker process.

- `redis`: Postgres, the Redis broker, local files; the API (`idc-service serve`) and one
  `idc-service worker`; after the kill a second worker is started (as an orchestrator would).
- `embedded`: `idc-service embedded` (SQLite, SQLite broker, local files); its supervisor
  restarts the worker by itself.

The job: 3 photos that scikit-image ships, IDC with the `tiny` preset at 400 steps (2-3 s per
instance on two cores) and a 10-step teacher, 2 images per shard; the worker (its process group:
main process and pool child) is killed while shard 0's second instance runs. Printed: seconds
from the kill to the worker back (embedded), to the lost shard re-sent (from the worker log), and
to the job succeeded. No figure is checked here.

    python benchmarks/worker_kill.py [--modes redis,embedded] [--redis-url redis://127.0.0.1:6379/3]

The Redis database given is emptied at the end; no test session may use it meanwhile (the test
fixtures empty theirs when they end, which would drop the queued tasks of this run).
"""

from __future__ import annotations

import argparse
import io
import os
import re
import secrets
import signal
import subprocess
import sys
import tempfile
import time
import zipfile
from contextlib import ExitStack
from pathlib import Path

import httpx
import numpy as np
import redis
import skimage.data
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.service_under_test import (  # noqa: E402
    DEFAULT_PG_ADMIN_URL,
    _create_key,
    _database,
    _free_port,
)

# (scikit-image photo, top, left, size): the crops the tests use.
PHOTOS = {"chelsea": ("chelsea", 0, 80, 288), "coffee": ("coffee", 100, 200, 256)}
PHOTOS["rocket"] = ("rocket", 100, 200, 280)
JOB = {
    "method": "idc",
    "ratio": 0.1,
    "scale": 4,
    "patch": {"patch_size": 64, "step": 64},
    "preset": "tiny",
    "iterations": 400,
    "teacher": {"mode": "train", "arch": "edsr-tiny", "iterations": 10, "patch_size": 48},
    "seed": 0,
}
STARTED = re.compile(r"worker process started \(pid (\d+)\)")


def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, (source, top, left, size) in PHOTOS.items():
            image = np.asarray(getattr(skimage.data, source)())[
                top : top + size, left : left + size
            ]
            png = io.BytesIO()
            Image.fromarray(image).save(png, format="PNG")
            archive.writestr(f"photos/{name}.png", png.getvalue())
    return buffer.getvalue()


def _spawn(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    with open(log, "ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "app.cli", *args],
            env=env,
            cwd=log.parent,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=40)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def _wait(condition, timeout: float, what: str, interval: float = 0.3):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    raise RuntimeError(f"timed out after {timeout:.0f}s waiting for {what}")


def _ready(url: str) -> bool:
    try:
        return httpx.get(f"{url}/readyz", timeout=5).status_code == 200
    except httpx.TransportError:
        return False


def _run(mode: str, env: dict[str, str], folder: Path, key: str, url: str) -> dict[str, float]:
    log = folder / "service.log"
    stack = ExitStack()
    processes: list[subprocess.Popen] = []
    stack.callback(lambda: [_stop(p) for p in reversed(processes)])
    with stack:
        if mode == "embedded":
            processes.append(_spawn(["embedded"], env, log))
        else:
            processes.append(_spawn(["serve", "--no-migrate"], env, log))
            processes.append(_spawn(["worker"], env, log))
        _wait(lambda: _ready(url), 180, "the service and a live worker")
        headers = {"Authorization": f"Bearer {key}"}
        client = stack.enter_context(httpx.Client(base_url=url, headers=headers, timeout=30))
        dataset = client.post("/datasets", files={"archive": ("d.zip", _zip())}).json()["id"]
        job_id = client.post("/condense", json={**JOB, "dataset_id": dataset}).json()["id"]

        def job() -> dict:
            return client.get(f"/jobs/{job_id}").json()

        def mid_shard() -> bool:
            state = job()
            fraction = state["progress"]["fraction"] * 3
            return state["stage"] == "condensing" and 1.05 < fraction < 2

        _wait(mid_shard, 300, "shard 0's second instance")
        worker_pid = (
            int(STARTED.findall(log.read_text())[-1]) if mode == "embedded" else processes[1].pid
        )
        os.killpg(worker_pid, signal.SIGKILL)
        killed = time.monotonic()
        figures: dict[str, float] = {}
        if mode == "embedded":
            _wait(lambda: len(STARTED.findall(log.read_text())) > 1, 120, "the restart")
            figures["worker restarted"] = time.monotonic() - killed
        else:
            processes.append(_spawn(["worker"], env, log))
        resent = False
        while True:
            state = job()
            if not resent and "re-sent idc.run_shard" in log.read_text(errors="replace"):
                resent, figures["shard re-sent"] = True, time.monotonic() - killed
            if state["status"] in ("succeeded", "failed", "cancelled"):
                break
            if time.monotonic() - killed > 600:
                raise RuntimeError(f"the job did not end within 600 s of the kill: {state}")
            time.sleep(0.3)
        figures["job succeeded" if state["status"] == "succeeded" else state["status"]] = (
            time.monotonic() - killed
        )
        return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--modes", default="redis,embedded")
    parser.add_argument(
        "--redis-url", default=os.environ.get("IDC_TEST_REDIS_URL", "redis://127.0.0.1:6379/3")
    )
    parser.add_argument("--pg-admin-url", default=DEFAULT_PG_ADMIN_URL)
    options = parser.parse_args()
    base = {k: v for k, v in os.environ.items() if not k.startswith("IDC_")}
    base |= {"PYTHONPATH": str(Path(__file__).resolve().parents[1]), "OMP_NUM_THREADS": "1"}
    from app.config import Settings
    from app.migrate import upgrade

    defaults = {
        n: Settings.model_fields[n].default for n in ("worker_stale_s", "heartbeat_interval_s")
    }
    print(
        f"defaults: stale after {defaults['worker_stale_s']} s, heartbeat every "
        f"{defaults['heartbeat_interval_s']} s"
    )
    for mode in options.modes.split(","):
        with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
            folder = Path(tmp)
            port = _free_port()
            env = base | {
                "IDC_DATA_DIR": str(folder / "idc"),
                "IDC_API_PORT": str(port),
                "IDC_SECRET_KEY": secrets.token_hex(32),
                "IDC_SHARD_SIZE": "2",
                "IDC_DEVICE": "cpu",
                "IDC_PROGRESS_INTERVAL_S": "0.2",
            }
            if mode == "redis":
                env["IDC_DATABASE_URL"] = stack.enter_context(_database(options.pg_admin_url))
                env["IDC_BROKER_URL"] = options.redis_url
                env["IDC_QUEUE"] = f"idc-bench-{secrets.token_hex(4)}"
                client = redis.Redis.from_url(options.redis_url)
                stack.callback(client.close)
                stack.callback(client.flushdb)
            database_url = env.get("IDC_DATABASE_URL") or f"sqlite:///{folder / 'idc' / 'idc.db'}"
            (folder / "idc").mkdir()
            upgrade(database_url)
            key = _create_key(database_url, "bench")
            try:
                figures = _run(mode, env, folder, key, f"http://127.0.0.1:{port}")
            except RuntimeError:
                print((folder / "service.log").read_text(errors="replace")[-6000:])
                raise
        shown = ", ".join(f"{name} after {seconds:.1f} s" for name, seconds in figures.items())
        print(f"{mode}: worker SIGKILLed mid-shard; {shown}", flush=True)


if __name__ == "__main__":
    main()
