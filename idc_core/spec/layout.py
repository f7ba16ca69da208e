"""The condensed dataset on disk: BasicSR's paired layout plus one marker per finished instance.

out_dir/HR/<stem>.png           real or teacher-made HR patches
out_dir/LR/<stem>.png           LR patches with the same names
out_dir/LR_float/<stem>.npy     optional float32 LR (H x W x 3 in [0, 1]): 8-bit PNG rounds them
out_dir/meta_info.txt           one "<stem>.png (h,w,3)" line per pair, HR sizes
out_dir/manifest.json           what made the dataset (method, settings, teacher, sources)
out_dir/instances/<name>.json   the marker of a finished instance (`InstanceRecord`)

A pair's stem is `<instance name>_<j:04d>`. The markers are bookkeeping for resumption and are
not part of the dataset a user downloads (`DATASET_ENTRIES`).
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, Field

HR_DIR, LR_DIR, LR_FLOAT_DIR, META_INFO = "HR", "LR", "LR_float", "meta_info.txt"
MARKER_DIR, MANIFEST = "instances", "manifest.json"
DATASET_ENTRIES = (HR_DIR, LR_DIR, LR_FLOAT_DIR, META_INFO, MANIFEST)


class InstanceRecord(BaseModel):
    """One finished instance; stored as `instances/<name>.json` after its pairs are written."""

    name: str
    source: str
    method: str
    n_real: int
    n_synthetic: int
    stems: list[str]
    seconds: float
    job_fingerprint: str
    stats: dict[str, Any] = Field(default_factory=dict)


def pair_stem(name: str, index: int) -> str:
    """The stem of pair `index` of instance `name` (for baselines, the patch's index)."""
    return f"{name}_{index:04d}"


def is_pair_file_of(name: str, filename: str) -> bool:
    """Whether `filename` (HR/LR PNG or float LR) belongs to a pair of instance `name`."""
    return re.fullmatch(rf"{re.escape(name)}_\d{{4,}}\.(png|npy)", filename) is not None


def marker_file(name: str) -> str:
    """The marker's path relative to the dataset folder."""
    return f"{MARKER_DIR}/{name}.json"


def instance_files(record: InstanceRecord, float_lr: bool) -> list[str]:
    """Every file of a finished instance relative to the dataset folder, pairs first and its
    marker last: the order to copy them in, so that a marker always means a whole instance."""
    files = []
    for stem in record.stems:
        files += [f"{HR_DIR}/{stem}.png", f"{LR_DIR}/{stem}.png"]
        if float_lr:
            files.append(f"{LR_FLOAT_DIR}/{stem}.npy")
    return files + [marker_file(record.name)]
