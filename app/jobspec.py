"""The contract between the API and the workers: `JobSpec`, what a job runs.

`POST /condense` builds it once from the request (`CondenseRequest.job_spec`), which is the one
validation of every job value, and stores it as `jobs.spec`; each worker task parses it once
(`JobSpec.model_validate(job.spec)`) and hands its parts to idc_core as they are: `job` to
`condense_images`, `teacher.training` to `train_teacher`. The raw request is stored beside it
(`jobs.params`) for display only; no worker reads it. Torch-free: only `idc_core.spec` types.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from app import caps
from idc_core.spec import CondenseJob, TeacherTraining


class CheckpointTeacher(BaseModel):
    """Use a checkpoint uploaded with POST /teachers (or trained by an earlier job)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    mode: Literal["checkpoint"] = "checkpoint"
    teacher_id: str = Field(min_length=1, max_length=36)


class TrainedTeacher(BaseModel):
    """Train a teacher on the dataset's own patches as stage 1 of the job."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    mode: Literal["train"] = "train"
    training: TeacherTraining


TeacherSource = Annotated[TrainedTeacher | CheckpointTeacher, Field(discriminator="mode")]


class JobSpec(BaseModel):
    """Everything a job's workers need besides the dataset's images, every value resolved."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    version: Literal[1] = 1
    dataset_id: str
    job: CondenseJob = Field(description="what idc_core condenses (the device is the worker's)")
    teacher: TeacherSource | None = None
    shard_size: int = Field(ge=1, le=caps.MAX_SHARD_SIZE, description="images per IDC shard task")

    @model_validator(mode="after")
    def _check(self) -> JobSpec:
        if self.teacher is None and self.job.needs_teacher:
            raise ValueError(
                f"method {self.job.method!r} needs a teacher (train one or give its id)"
            )
        training = self.teacher.training if isinstance(self.teacher, TrainedTeacher) else None
        if training is not None and training.patch.scale != self.job.patch.scale:
            raise ValueError("the teacher must be trained at the job's scale")
        self._within_service_limits()
        return self

    def _within_service_limits(self) -> None:
        """The service's caps (app/caps.py) on one job, whichever field a value came in by."""
        caps.check_overrides(self.job.idc_settings().model_dump())
        limits: list[tuple[str, float, float]] = [
            ("patch.patch_size", self.job.patch.patch_size, caps.MAX_PATCH),
            ("patch.step", self.job.patch.step, caps.MAX_PATCH),
        ]
        if isinstance(self.teacher, TrainedTeacher):
            training = self.teacher.training
            limits += [
                ("teacher.iterations", training.recipe.iterations, caps.MAX_TEACHER_ITERATIONS),
                ("teacher.batch_size", training.recipe.batch_size, caps.MAX_TEACHER_BATCH),
                ("teacher.lr", training.recipe.lr, caps.MAX_TEACHER_LR),
                ("teacher.patch_size", training.patch.patch_size, caps.MAX_TEACHER_PATCH),
                ("teacher.step", training.patch.step, caps.MAX_TEACHER_PATCH),
            ]
        for name, value, cap in limits:
            if value > cap:
                raise ValueError(f"{name} is {value}; this service allows at most {cap}")

    def images_per_shard(self, n_images: int) -> int:
        """IDC condenses each image on its own, so shards run in parallel; a selection baseline
        ranks the whole set at once, so it runs as one shard."""
        return self.shard_size if self.job.method == "idc" else n_images
