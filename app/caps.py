"""The most one job may ask of the workers, stated once. The request schema's bounds and the check
of its `settings` overrides both read these values, so a value above a cap is refused (422)
whichever way it comes in: a top-level field, a teacher field or an IDC settings override.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

MAX_ITERATIONS = 1_000_000  # IDC optimisation steps per instance (paper: 20,000)
MAX_PATCH = 2048  # HR patch side and step of the condensed pairs
MAX_SHARD_SIZE = 10_000  # images per shard task
MAX_TEACHER_ITERATIONS = 2_000_000
MAX_TEACHER_BATCH = 1024
MAX_TEACHER_PATCH = 1024  # HR training patch side and step of a trained teacher
MAX_TEACHER_LR = 1.0

# IDC settings an override may raise, and how far. The others are fractions, weights, switches or
# choices that the settings model bounds itself and that cost nothing more when changed.
SETTING_CAPS: dict[str, int] = {
    "iterations": MAX_ITERATIONS,
    "instances_per_batch": 64,
    "num_freqs": 65_536,
    "freq_chunk": 65_536,
    "freq_bank": 1_048_576,
    "real_subsample": 1_048_576,
    "c_out": 4096,
    "k": 15,
    "p": 256,
    "n_groups": 4096,
    "kmeans_n_init": 100,
    "assign_steps": 100_000,
    "pair_refresh_every": MAX_ITERATIONS,
    "feature_batch": 4096,
}


def check_overrides(overrides: Mapping[str, Any]) -> None:
    """Raise ValueError naming the first override that is above its cap or not a finite number."""
    for name, value in overrides.items():
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"{name} must be a finite number, not {value}")
        cap = SETTING_CAPS.get(name)
        if cap is not None and isinstance(value, int | float) and value > cap:
            raise ValueError(f"{name} may be at most {cap}")
