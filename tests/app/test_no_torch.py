"""The API process never imports torch: it stays small and never touches a GPU."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest_service import subprocess_env

# A meta-path finder that remembers who imported torch first (and lets the import go on).
PROBE = """
import sys, traceback

class Witness:
    stack = None
    def find_spec(self, name, path=None, target=None):
        if name == "torch" and Witness.stack is None:
            Witness.stack = "".join(traceback.format_stack(limit=25))
        return None

sys.meta_path.insert(0, Witness())
from app.config import Settings
from app.main import create_app
import app.cli, app.migrate, worker.celery_app
application = create_app(Settings(_env_file=None, secret_key="x" * 40, data_dir=sys.argv[1]))
assert application.openapi()["paths"]
print("TORCH IMPORTED BY:\\n" + Witness.stack if Witness.stack else "NO TORCH")
"""


def test_importing_and_building_the_api_loads_no_torch(tmp_path):
    result = subprocess.run(
        [sys.executable, "-c", PROBE, str(tmp_path)],
        cwd=tmp_path,
        env=subprocess_env({}),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "NO TORCH", result.stdout
