"""Which run a command is (`RunRecord`): what decides its output, digested, and a one-line summary
for the messages that refuse a folder holding another run."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from idc_core.data.patches import PatchSettings
from idc_core.manifest import sources_digest
from idc_core.output_folder import RunRecord
from idc_core.spec import CondenseJob


def _digest(decisive: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(decisive, sort_keys=True).encode()).hexdigest()


def _patch_summary(patch: PatchSettings) -> str:
    return f"x{patch.scale}, {patch.patch_size} px patches step {patch.step}"


def _sources_summary(sources: dict[str, Any]) -> str:
    return f"{sources['count']} images (sources sha256 {sources['sha256'][:12]})"


def prepare_run(patch: PatchSettings, float_lr: bool, paths: Sequence[Path]) -> RunRecord:
    """`idc prepare`: the patch settings, float LR or not, and the source images."""
    sources = sources_digest(paths)
    decisive = {"patch": patch.model_dump(), "float_lr": float_lr, "sources": sources["sha256"]}
    summary = f"idc prepare, {_patch_summary(patch)}, {_sources_summary(sources)}"
    return RunRecord(
        command="prepare",
        fingerprint=_digest({"command": "prepare", **decisive}),
        summary=summary + (", float LR" if float_lr else ""),
        details=decisive,
    )


def condense_run(
    job: CondenseJob, teacher: dict[str, Any] | None, paths: Sequence[Path]
) -> RunRecord:
    """`idc condense`: the job (method, ratio, patches, settings, seed; not the device), the
    teacher (`{"weights_sha256": ...}` of a given checkpoint, `{"trained": {...}}` for one trained
    into the folder, or None), and the source images."""
    sources = sources_digest(paths)
    decisive = {"job": job.fingerprint(None), "teacher": teacher, "sources": sources["sha256"]}
    if teacher is None:
        teacher_text = "no teacher"
    elif "weights_sha256" in teacher:
        teacher_text = f"teacher weights sha256 {teacher['weights_sha256'][:12]}"
    else:
        teacher_text = "teacher trained here ({})".format(
            ", ".join(f"{k} {v}" for k, v in teacher["trained"].items())
        )
    options = [
        f"--method {job.method}" + (" --teacher-hr" if job.teacher_hr else ""),
        f"r={job.ratio}",
        _patch_summary(job.patch),
        f"preset {job.preset}" + (f" {job.overrides}" if job.overrides else ""),
        f"seed {job.seed}",
        _sources_summary(sources),
        teacher_text,
    ]
    if job.save_float_lr:
        options.append("float LR")
    return RunRecord(
        command="condense",
        fingerprint=_digest({"command": "condense", **decisive}),
        summary="idc condense " + ", ".join(options),
        details=decisive,
    )
