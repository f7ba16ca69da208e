"""What a condensation job is (`CondenseJob`), what it reports (`ProgressEvent`) and what each
finished instance leaves behind (`InstanceRecord`, the JSON marker)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from idc_core.data.patches import PatchSettings
from idc_core.method.settings import IDCSettings, build_settings

Method = Literal["idc", "random", "herding", "kcenter", "dcsr"]


class CondenseJob(BaseModel):
    """Everything that decides a condensed dataset, except the images and the teacher."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    method: Method = Field("idc", description="idc, or a selection baseline of Table 1")
    ratio: float = Field(0.1, gt=0, le=1, description="condensation ratio r (paper: 0.1)")
    patch: PatchSettings = Field(default_factory=PatchSettings)
    preset: str = Field("cpu", description="IDC settings preset (see idc_core.method.settings)")
    overrides: dict[str, Any] = Field(default_factory=dict, description="IDC settings changed")
    seed: int = Field(0, ge=0, description="job seed; instance seeds derive from it and the name")
    device: str = Field("auto", description="auto, cpu, cuda or cuda:N")
    save_float_lr: bool = Field(False, description="also write LR_float/<stem>.npy (float32)")
    teacher_hr: bool = Field(
        False,
        description="selection methods: HR patches made by the teacher from the selected real "
        "LR patches (Random-T, K-Center-T, ...), the control IDC must beat; IDC always does this",
    )

    @property
    def needs_teacher(self) -> bool:
        """IDC matches teacher features and up-samples with it; selections use it to rank
        (all but random) or to make HR (`teacher_hr`)."""
        return self.method != "random" or self.teacher_hr

    @model_validator(mode="after")
    def _settings_are_valid(self) -> CondenseJob:
        if self.teacher_hr and self.method == "idc":
            raise ValueError("teacher_hr is for selection methods; IDC's HR is the teacher's")
        self.idc_settings()  # unknown presets or fields fail here, before any work
        return self

    def idc_settings(self) -> IDCSettings:
        return build_settings(self.preset, self.overrides)

    def fingerprint(self, teacher_weights: str | None) -> str:
        """Digest of what decides the output (the device does not), for safe resumption."""
        decisive = self.model_dump(exclude={"device"})
        # Diagnostics only describe the output, so switching them does not block a resume.
        decisive["settings"] = self.idc_settings().model_dump(exclude={"diagnostics"})
        decisive["teacher_weights"] = teacher_weights
        return hashlib.sha256(json.dumps(decisive, sort_keys=True).encode()).hexdigest()


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


@dataclass
class ProgressEvent:
    """Progress of `condense_images`.

    kind: 'selecting' (a baseline ranks the whole set), 'instance_started', 'step' (one IDC
    optimisation step: `step` of `steps`, with `losses`), 'instance_finished' or
    'instance_skipped' (already had a marker). `index` counts instances from 0 of `total`.
    Steps come at every iteration: consumers that store them should throttle.
    """

    kind: Literal["selecting", "instance_started", "step", "instance_finished", "instance_skipped"]
    instance: str
    index: int
    total: int
    step: int = 0
    steps: int = 0
    losses: dict[str, float] = field(default_factory=dict)
