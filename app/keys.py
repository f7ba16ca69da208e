"""Where the service keeps each object in storage: one prefix per dataset, teacher and job.

datasets/<id>/...                 the uploaded images (`app.uploads` names them inside)
teachers/<id>/model<suffix>       a checkpoint, and teachers/<id>/model.json its sidecar
jobs/<id>/output/<relative path>  a job's condensed folder as it grows (`idc_core.spec.layout`)
jobs/<id>/result/<file>           the archive, manifest and preview of a finished job
"""

from __future__ import annotations


def dataset_prefix(dataset_id: str) -> str:
    return f"datasets/{dataset_id}/"


def teacher_prefix(teacher_id: str) -> str:
    return f"teachers/{teacher_id}/"


def teacher_model_key(teacher_id: str, suffix: str = ".safetensors") -> str:
    return f"{teacher_prefix(teacher_id)}model{suffix}"


def teacher_config_key(teacher_id: str) -> str:
    return f"{teacher_prefix(teacher_id)}model.json"


def job_prefix(job_id: str) -> str:
    """Every object of a job: its output (intermediate instances) and its result."""
    return f"jobs/{job_id}/"


def job_output_prefix(job_id: str) -> str:
    return f"{job_prefix(job_id)}output/"


def job_result_prefix(job_id: str) -> str:
    return f"{job_prefix(job_id)}result/"
