"""Request and response bodies of the REST API (pydantic v2), with the examples OpenAPI shows.

A condensation request is checked by turning it into the job spec (`app.jobspec`), with
idc_core's torch-free rules (`idc_core.spec`), so a bad request answers 422 before anything is
queued.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, field_validator

from app import caps
from app.jobspec import CheckpointTeacher, JobSpec, TrainedTeacher
from idc_core.spec import PRESETS, RECIPES, Arch, Method, Scale, TeacherTraining

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


class PatchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    patch_size: int = Field(256, description="HR patch side, a multiple of the scale (paper: 256)")
    step: int = Field(128, description="stride between HR patches (paper: 128)")


class TrainTeacherRequest(BaseModel):
    """Train a teacher on the dataset's own patches as stage 1 of the job, with one of the
    library's recipes (`teacher-cpu` by default); the fields set here override it."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    mode: Literal["train"] = "train"
    arch: Arch = "edsr-tiny"
    recipe: str = Field("teacher-cpu", description=f"training recipe: {', '.join(RECIPES)}")
    iterations: int | None = Field(None, description="empty = the recipe's")
    batch_size: int | None = Field(None, description="empty = the recipe's")
    lr: float | None = Field(None, description="empty = the recipe's")
    patch_size: int = Field(96, description="HR training patch side")
    step: int | None = Field(None, description="stride; empty = half a patch")

    def resolve(self, scale: int, seed: int) -> TrainedTeacher:
        training = TeacherTraining.resolve(
            self.arch,
            scale,
            self.patch_size,
            self.step,
            self.recipe,
            seed,
            iterations=self.iterations,
            batch_size=self.batch_size,
            lr=self.lr,
        )
        return TrainedTeacher(training=training)


TeacherRequest = Annotated[TrainTeacherRequest | CheckpointTeacher, Field(discriminator="mode")]


class CondenseRequest(BaseModel):
    """The body of POST /condense. Its values are checked once, when `job_spec` builds the
    `JobSpec` that the workers run (the route answers 422 with what is wrong)."""

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
    ratio: float = Field(0.1, description="share of the patches kept, in (0, 1] (paper: 0.1)")
    scale: Scale = 4
    patch: PatchRequest = Field(default_factory=PatchRequest)
    preset: str = Field("cpu", description=f"IDC settings preset: {', '.join(PRESETS)}")
    iterations: int | None = Field(None, description="IDC steps per image; empty = the preset's")
    settings: dict[str, Any] = Field(
        default_factory=dict, description="other IDCSettings fields to override"
    )
    teacher: TeacherRequest | None = Field(
        None, description="needed by every method but random selection (and by teacher_hr)"
    )
    seed: int = Field(0, description="job seed, 0 .. 2^31 - 1")
    save_float_lr: bool = Field(False, description="also write LR_float/*.npy (float32)")
    teacher_hr: bool = Field(
        False, description="selection methods: HR made by the teacher (Random-T, K-Center-T...)"
    )
    shard_size: int | None = Field(
        None, description="images per shard; empty = the service's setting"
    )

    @field_validator("settings")
    @classmethod
    def _capped(cls, overrides: dict[str, Any]) -> dict[str, Any]:
        """The service's caps (app/caps.py) before any override reaches the library."""
        caps.check_overrides(overrides)
        return overrides

    def job_spec(self, default_shard_size: int) -> JobSpec:
        """The one place the request becomes what the workers run (pydantic ValidationError
        when any value is wrong)."""
        overrides = dict(self.settings)
        if self.iterations is not None:
            overrides["iterations"] = self.iterations
        teacher = (
            self.teacher.resolve(self.scale, self.seed)
            if isinstance(self.teacher, TrainTeacherRequest)
            else self.teacher
        )
        return JobSpec.model_validate(
            {
                "dataset_id": self.dataset_id,
                "job": {
                    "method": self.method,
                    "ratio": self.ratio,
                    "patch": {**self.patch.model_dump(), "scale": self.scale},
                    "preset": self.preset,
                    "overrides": overrides,
                    "seed": self.seed,
                    "save_float_lr": self.save_float_lr,
                    "teacher_hr": self.teacher_hr,
                },
                "teacher": teacher,
                "shard_size": self.shard_size or default_shard_size,
            }
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
    params: dict[str, Any] = Field(description="the request as it was sent")
    spec: dict[str, Any] = Field(description="what the workers run: the request, resolved")
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


class ReadyOut(HealthOut):
    """`/readyz`: each dependency's check, the live workers on the service's queue and the
    messages waiting in it (null when they could not be counted)."""

    workers: int | None = None
    queue_depth: int | None = None


class ErrorOut(BaseModel):
    detail: str
