"""Request and response bodies of the REST API (pydantic v2), with the examples OpenAPI shows.

Method, preset and patch settings are checked here against idc_core's torch-free settings
modules, so a bad request answers 422 before anything is queued.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from app import caps
from idc_core.data.patches import PatchSettings
from idc_core.method.settings import PRESETS
from idc_core.pipeline_job import CondenseJob, Method

# idc_core's model registry imports torch, so the built-in architecture names are repeated
# here; tests/worker/test_contracts.py checks that they match idc_core's.
TEACHER_ARCHS = ("edsr-tiny", "edsr-baseline")
Arch = Literal["edsr-tiny", "edsr-baseline"]


T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int = Field(description="rows matching the filters")
    limit: int
    offset: int


class ImageInfo(BaseModel):
    name: str = Field(description="instance name: the file's stem, made safe")
    member: str = Field(description="path inside the uploaded archive")
    width: int
    height: int
    bytes: int
    sha256: str


class DatasetOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str
    image_count: int
    total_pixels: int
    total_bytes: int = Field(description="sum of the image files' sizes")
    archive_bytes: int
    digest: str = Field(description="sha256 over sorted (name, image sha256): format-independent")
    created_at: datetime


class DatasetDetail(DatasetOut):
    images: list[ImageInfo]


class TeacherOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str
    source: Literal["uploaded", "trained"]
    filename: str
    arch: str | None = Field(description="from the checkpoint's JSON sidecar, when given")
    scale: int | None
    size_bytes: int
    digest: str
    job_id: str | None = Field(description="the job that trained it (source=trained)")
    created_at: datetime


class PatchSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    patch_size: int = Field(256, ge=8, le=caps.MAX_PATCH, description="HR patch side (paper: 256)")
    step: int = Field(
        128, ge=1, le=caps.MAX_PATCH, description="stride between HR patches (paper: 128)"
    )


class TrainTeacherSpec(BaseModel):
    """Train a teacher on the dataset's own patches as stage 1 of the job."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    mode: Literal["train"] = "train"
    arch: Arch = "edsr-tiny"
    iterations: int = Field(3000, ge=1, le=caps.MAX_TEACHER_ITERATIONS)
    batch_size: int = Field(16, ge=1, le=caps.MAX_TEACHER_BATCH)
    lr: float = Field(5e-4, gt=0, le=1)
    patch_size: int = Field(
        96, ge=8, le=caps.MAX_TEACHER_PATCH, description="HR training patch side"
    )
    step: int | None = Field(
        None, ge=1, le=caps.MAX_TEACHER_PATCH, description="stride; empty = patch_size / 2"
    )

    def step_for(self, scale: int) -> int:
        """The stride: as given, or half a patch rounded down to a multiple of `scale`."""
        return self.step or max(scale, self.patch_size // 2 // scale * scale)


class CheckpointTeacherSpec(BaseModel):
    """Use a checkpoint uploaded with POST /teachers (or trained by an earlier job)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    mode: Literal["checkpoint"] = "checkpoint"
    teacher_id: str = Field(min_length=1, max_length=36)


TeacherSpec = Annotated[TrainTeacherSpec | CheckpointTeacherSpec, Field(discriminator="mode")]


class CondenseRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        allow_inf_nan=False,
        json_schema_extra={
            "examples": [
                {
                    "dataset_id": "3f0c6a52-4a55-4c1e-9d0b-6c2f0e1b9a10",
                    "method": "idc",
                    "ratio": 0.1,
                    "scale": 4,
                    "patch": {"patch_size": 96, "step": 48},
                    "preset": "cpu",
                    "teacher": {"mode": "train", "arch": "edsr-tiny", "iterations": 500},
                    "seed": 0,
                },
                {
                    "dataset_id": "3f0c6a52-4a55-4c1e-9d0b-6c2f0e1b9a10",
                    "method": "kcenter",
                    "ratio": 0.1,
                    "scale": 4,
                    "teacher": {"mode": "checkpoint", "teacher_id": "a1b2c3d4-..."},
                },
            ]
        },
    )

    dataset_id: str = Field(min_length=1, max_length=36)
    method: Method = Field("idc", description="idc, or a selection baseline")
    ratio: float = Field(0.1, gt=0, le=1, description="share of the patches kept (paper: 0.1)")
    scale: Literal[2, 3, 4] = 4
    patch: PatchSpec = Field(default_factory=PatchSpec)
    preset: str = Field("cpu", description=f"IDC settings preset: {', '.join(PRESETS)}")
    iterations: int | None = Field(
        None, ge=1, le=caps.MAX_ITERATIONS, description="overrides the preset"
    )
    settings: dict[str, Any] = Field(
        default_factory=dict, description="other IDCSettings fields to override"
    )
    teacher: TeacherSpec | None = Field(
        None, description="needed by every method but random selection"
    )
    seed: int = Field(0, ge=0, le=2**31 - 1)
    save_float_lr: bool = Field(False, description="also write LR_float/*.npy (float32)")
    shard_size: int | None = Field(
        None,
        ge=1,
        le=caps.MAX_SHARD_SIZE,
        description="images per shard; empty = the service's setting",
    )

    @field_validator("settings")
    @classmethod
    def _capped(cls, overrides: dict[str, Any]) -> dict[str, Any]:
        caps.check_overrides(overrides)
        return overrides

    @model_validator(mode="after")
    def _check(self) -> CondenseRequest:
        self.condense_job()
        if self.teacher is not None and self.teacher.mode == "train":
            step = self.teacher.step_for(self.scale)
            PatchSettings(patch_size=self.teacher.patch_size, step=step, scale=self.scale)
        if self.teacher is None and self.method != "random":
            raise ValueError(f"method {self.method!r} needs a teacher (train one or give its id)")
        return self

    def condense_job(self) -> CondenseJob:
        """The idc_core job this request describes (validated by idc_core's own model)."""
        overrides = dict(self.settings)
        if self.iterations is not None:
            overrides["iterations"] = self.iterations
        return CondenseJob(
            method=self.method,
            ratio=self.ratio,
            patch=PatchSettings(
                patch_size=self.patch.patch_size, step=self.patch.step, scale=self.scale
            ),
            preset=self.preset,
            overrides=overrides,
            seed=self.seed,
            save_float_lr=self.save_float_lr,
        )


class JobAccepted(BaseModel):
    id: str
    status: str
    url: str = Field(description="poll this URL for the job's state")


class JobProgress(BaseModel):
    instances_done: int
    instances_total: int
    fraction: float = Field(description="0..1 of the current stage, counting partial instances")
    shards_done: int
    shards_total: int


class JobOut(BaseModel):
    id: str
    status: Literal["queued", "running", "succeeded", "failed", "cancelled"]
    stage: str
    method: str
    dataset_id: str | None
    teacher_id: str | None
    progress: JobProgress
    eta_seconds: float | None = Field(description="estimate for the current stage; None = unknown")
    error: str | None
    cancel_requested: bool
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    timings: dict[str, float] = Field(description="seconds spent per stage")
    params: dict[str, Any] = Field(description="the validated request")
    links: dict[str, str]


class JobResult(BaseModel):
    job_id: str
    url: str = Field(description="signed download URL of the condensed dataset (zip)")
    expires_at: datetime
    filename: str
    preview_url: str | None
    manifest: dict[str, Any]


class HealthOut(BaseModel):
    status: Literal["ok", "unavailable"]
    checks: dict[str, str] = Field(default_factory=dict)


class ErrorOut(BaseModel):
    detail: str
