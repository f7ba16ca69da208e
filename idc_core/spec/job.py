"""What a condensation job is (`CondenseJob`) and what it reports (`ProgressEvent`); the
methods, and which of them need a teacher."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, model_validator

from idc_core.method.settings import IDCSettings, build_settings
from idc_core.spec.layout import InstanceRecord
from idc_core.spec.patches import PatchSettings

SelectionMethod = Literal["random", "herding", "kcenter", "dcsr"]
Method = Literal["idc", SelectionMethod]
METHODS: tuple[str, ...] = get_args(Method)
SELECTION_METHODS: tuple[str, ...] = get_args(SelectionMethod)

Ratio = Annotated[float, Field(gt=0, le=1, description="condensation ratio r (paper: 0.1)")]
Seed = Annotated[
    int, Field(ge=0, le=2**31 - 1, description="job seed; instance seeds derive from it")
]


def needs_teacher(method: str, teacher_hr: bool = False) -> bool:
    """IDC matches teacher features and up-samples with it; selections use it to rank (all but
    random) or to make HR (`teacher_hr`)."""
    return method != "random" or teacher_hr


class CondenseJob(BaseModel):
    """Everything that decides a condensed dataset, except the images and the teacher."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    method: Method = Field("idc", description="idc, or a selection baseline of Table 1")
    ratio: Ratio = 0.1
    patch: PatchSettings = Field(default_factory=PatchSettings)
    preset: str = Field("cpu", description="IDC settings preset (see idc_core.method.settings)")
    overrides: dict[str, Any] = Field(default_factory=dict, description="IDC settings changed")
    seed: Seed = 0
    device: str = Field("auto", description="auto, cpu, cuda or cuda:N")
    save_float_lr: bool = Field(False, description="also write LR_float/<stem>.npy (float32)")
    teacher_hr: bool = Field(
        False,
        description="selection methods: HR patches made by the teacher from the selected real "
        "LR patches (Random-T, K-Center-T, ...), the control IDC must beat; IDC always does this",
    )

    _settings: IDCSettings | None = PrivateAttr(None)

    @property
    def needs_teacher(self) -> bool:
        return needs_teacher(self.method, self.teacher_hr)

    @model_validator(mode="after")
    def _settings_are_valid(self) -> CondenseJob:
        if self.teacher_hr and self.method == "idc":
            raise ValueError("teacher_hr is for selection methods; IDC's HR is the teacher's")
        self.idc_settings()  # unknown presets or fields fail here, before any work
        return self

    def idc_settings(self) -> IDCSettings:
        """The preset with the overrides applied (built once per job object)."""
        if self._settings is None:
            self._settings = build_settings(self.preset, self.overrides)
        return self._settings

    def on_device(self, device: str) -> CondenseJob:
        """The same job run on another device (the device decides nothing of the output)."""
        return self.model_copy(update={"device": device})

    def fingerprint(self, teacher_weights: str | None) -> str:
        """Digest of what decides the output (the device does not), for safe resumption."""
        decisive = self.model_dump(exclude={"device"})
        # Diagnostics only describe the output, so switching them does not block a resume.
        decisive["settings"] = self.idc_settings().model_dump(exclude={"diagnostics"})
        decisive["teacher_weights"] = teacher_weights
        return hashlib.sha256(json.dumps(decisive, sort_keys=True).encode()).hexdigest()


@dataclass
class ProgressEvent:
    """Progress of `condense_images`.

    kind: 'selecting' (a baseline ranks the whole set), 'instance_started', 'step' (one IDC
    optimisation step: `step` of `steps`, with `losses`), 'instance_finished' (with its
    `record`) or 'instance_skipped' (already had a marker; `record` too). `index` counts
    instances from 0 of `total`. Steps come at every iteration: consumers that store them
    should throttle.
    """

    kind: Literal["selecting", "instance_started", "step", "instance_finished", "instance_skipped"]
    instance: str
    index: int
    total: int
    step: int = 0
    steps: int = 0
    losses: dict[str, float] = field(default_factory=dict)
    record: InstanceRecord | None = None
