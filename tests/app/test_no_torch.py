"""The API process imports nothing of the `core` extra (torch and the rest of the compute stack,
which the API image does not install), and importing any app module has no side effects."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest_service import subprocess_env

# The `core` extra of pyproject.toml, and spandrel (installed beside it), by import name.
CORE_MODULES = ("torch", "sklearn", "skimage", "safetensors", "spandrel", "matplotlib", "einops")

# A meta-path finder that refuses the compute stack, as the API image (which lacks it) would,
# and remembers who asked first. Then every module of `app` is imported and the app is built.
PROBE = """
import importlib, pkgutil, sys, traceback

BLOCKED = set(sys.argv[2].split(","))

class Refuse:
    first = None
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            if Refuse.first is None:
                Refuse.first = name + " imported by:\\n" + "".join(traceback.format_stack(limit=25))
            raise ImportError(f"{name} is not installed in the API image")
        return None

sys.meta_path.insert(0, Refuse())
import app
modules = [m.name for m in pkgutil.walk_packages(app.__path__, "app.")]
for name in modules:
    importlib.import_module(name)
import idc_core.spec
from app.config import Settings
from app.main import create_app
application = create_app(Settings(_env_file=None, secret_key="x" * 40, data_dir=sys.argv[1]))
assert application.openapi()["paths"]
print(Refuse.first or f"CLEAN {len(modules)}")
"""


def test_every_app_module_imports_without_the_compute_stack_or_the_environment(tmp_path):
    # A .env here that no import may read: its invalid port would fail `Settings()` (the app is
    # then built from explicit settings that ignore .env).
    (tmp_path / ".env").write_text("IDC_API_PORT=not-a-port\n")
    result = subprocess.run(
        [sys.executable, "-c", PROBE, str(tmp_path), ",".join(CORE_MODULES)],
        cwd=tmp_path,
        env=subprocess_env({}),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("CLEAN"), result.stdout
    assert int(result.stdout.split()[1]) > 20  # every module was walked, not a few
