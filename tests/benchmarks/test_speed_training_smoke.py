"""benchmarks/speed_training.py times both layouts and prints their ratio."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_speed_training_prints_both_layouts_and_their_ratio():
    result = subprocess.run(
        [sys.executable, "benchmarks/speed_training.py", "--steps", "2", "--rounds", "1"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("channels_last: ") and lines[1].startswith("contiguous   : ")
    assert "x as fast (2 threads)" in lines[2]
