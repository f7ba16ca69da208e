"""Submit condensation jobs, follow them, cancel them and fetch their results."""

from __future__ import annotations

import hashlib
import logging
from typing import Annotated, Any

from celery import Celery
from fastapi import APIRouter, Header, HTTPException, Query, Request, Response, status
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, object_session

from app import quotas
from app.api.deps import (
    BearerKey,
    CurrentOwner,
    QueueDep,
    SessionDep,
    SettingsDep,
    StorageDep,
    get_owned,
    not_found,
    unauthorized,
    valid_row_id,
)
from app.api.pagination import IsoDatetime, Limit, Offset, paginate
from app.cleanup import UNFINISHED, delete_jobs
from app.config import Settings
from app.jobspec import CheckpointTeacher, JobSpec
from app.metrics import JOBS_SUBMITTED
from app.models import (
    FINISHED,
    ApiKey,
    Dataset,
    Job,
    JobStage,
    JobStatus,
    Shard,
    Teacher,
    utcnow,
)
from app.queue import TASK_PREPARE
from app.retry import reset_for_retry
from app.schemas import CondenseRequest, JobAccepted, JobOut, JobProgress, JobResult, Page
from app.security import KEY_COLUMNS, key_lookup, owner_if_valid

log = logging.getLogger(__name__)
router = APIRouter(tags=["jobs"])

TOO_MANY_JOBS: dict[int | str, dict[str, Any]] = {
    429: {"description": "the owner has the most jobs running at once (Retry-After)"}
}


def _job_url(request: Request, job_id: str) -> str:
    return str(request.url_for("get_job", job_id=job_id))


_INSTANCES_DONE = func.coalesce(func.sum(Shard.instances_done), 0)
_PARTIAL_INSTANCES = func.coalesce(func.sum(Shard.progress), 0.0)
ShardSums = tuple[int, float]


def _shard_sums(job: Job) -> ShardSums:
    """(instances done, partial instances) over the job's shards, summed by the database: a job
    of thousands of shards is polled without loading one of them."""
    session = object_session(job)
    if session is None or "shards" in job.__dict__:  # already loaded: sum what is there
        return (
            sum(shard.instances_done for shard in job.shards),
            sum(shard.progress for shard in job.shards),
        )
    done, progress = session.execute(
        select(_INSTANCES_DONE, _PARTIAL_INSTANCES).where(Shard.job_id == job.id)
    ).one()
    return int(done), float(progress)


def _over_the_job_shards(total: Any, name: str) -> Any:
    """`total` over the shards of the Job row of the enclosing query (a correlated subquery)."""
    return select(total).where(Shard.job_id == Job.id).scalar_subquery().label(name)


def _read_polled_job(
    session: Session, key: str, job_id: str
) -> tuple[str | None, Job | None, ShardSums]:
    """(owner of `key`, the owner's job `job_id`, its shard sums) in one query: the key's row,
    outer-joined to the job, with the sums as correlated subqueries."""
    lookup = key_lookup(key)
    if lookup is None:
        return None, None, (0, 0.0)
    prefix, key_hash = lookup
    row = session.execute(
        select(
            *KEY_COLUMNS,
            Job,
            _over_the_job_shards(_INSTANCES_DONE, "done"),
            _over_the_job_shards(_PARTIAL_INSTANCES, "partial"),
        )
        .select_from(ApiKey)
        .outerjoin(Job, (Job.id == job_id) & (Job.owner == ApiKey.owner))
        .where(ApiKey.prefix == prefix)
    ).first()
    owner = owner_if_valid(row, key_hash)
    if owner is None or row is None or row.Job is None:
        return owner, None, (0, 0.0)
    return owner, row.Job, (int(row.done), float(row.partial))


def job_view(request: Request, job: Job, sums: ShardSums | None = None) -> JobOut:
    """The job as clients see it: progress summed over shards (`sums` when the caller has them),
    and an ETA for its stage."""
    done, progress = sums if sums is not None else _shard_sums(job)
    if job.stage == JobStage.condensing and job.instances_total:
        fraction = progress / job.instances_total
    elif job.stage == JobStage.done:
        fraction = 1.0
    else:
        fraction = job.stage_progress
    fraction = min(max(fraction, 0.0), 1.0)
    eta = None
    if job.status == JobStatus.running and job.stage_started_at and 0 < fraction < 1:
        elapsed = (utcnow() - job.stage_started_at).total_seconds()
        eta = round(elapsed * (1 - fraction) / fraction, 1)
    url = _job_url(request, job.id)
    links = {"self": url, "cancel": url + "/cancel"}
    if job.status == JobStatus.succeeded:
        links["result"] = url + "/result"
    if job.status in UNFINISHED:
        links["retry"] = url + "/retry"
    return JobOut(
        id=job.id,
        status=job.status,
        stage=job.stage,
        method=job.method,
        dataset_id=job.dataset_id,
        teacher_id=job.teacher_id,
        progress=JobProgress(
            instances_done=done,
            instances_total=job.instances_total,
            fraction=round(fraction, 4),
            shards_done=job.shards_done,
            shards_total=job.shards_total,
        ),
        eta_seconds=eta,
        error=job.error,
        cancel_requested=job.cancel_requested,
        created_at=job.created_at,
        started_at=job.started_at,
        finished_at=job.finished_at,
        timings=job.timings or {},
        params=job.params,
        spec=job.spec,
        links=links,
    )


def _job_spec(body: CondenseRequest, settings: Settings) -> JobSpec:
    """The request, validated and resolved into what the workers run; 422 naming what is wrong."""
    try:
        return body.job_spec(settings.shard_size)
    except ValidationError as error:
        errors = error.errors(include_url=False)
        raise RequestValidationError(
            [{**e, "loc": ("body", *e["loc"])} for e in errors], body=body.model_dump()
        ) from error
    except ValueError as error:  # a rule checked outside a model, e.g. an unknown recipe name
        raise HTTPException(422, str(error)) from error


def _request_digest(body: CondenseRequest) -> str:
    return hashlib.sha256(body.model_dump_json().encode()).hexdigest()


def _replay(request: Request, response: Response, job: Job, digest: str) -> JobAccepted:
    if job.request_digest != digest:
        raise HTTPException(
            422, "this Idempotency-Key was used with a different request body; use a new key"
        )
    response.headers["Idempotent-Replayed"] = "true"
    response.headers["Location"] = _job_url(request, job.id)
    return JobAccepted(id=job.id, status=job.status, url=_job_url(request, job.id))


def _enqueue(session: Session, queue: Celery, job: Job) -> None:
    """Queue the job's prepare task; when the broker is down, fail the job visibly, answer 503."""
    try:
        queue.send_task(TASK_PREPARE, args=[job.id])
    except Exception as error:
        log.exception("cannot queue job %s", job.id)
        job.status, job.error, job.finished_at = JobStatus.failed, "could not be queued", utcnow()
        session.commit()
        raise HTTPException(503, f"the job queue is unreachable: {error}") from error


@router.post(
    "/condense",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=JobAccepted,
    responses={
        404: {"description": "dataset or teacher not found"},
        422: {"description": "invalid settings, or Idempotency-Key reused with another body"},
        **TOO_MANY_JOBS,
        503: {"description": "the queue is unreachable"},
    },
)
def condense(
    body: CondenseRequest,
    request: Request,
    response: Response,
    owner: CurrentOwner,
    session: SessionDep,
    settings: SettingsDep,
    queue: QueueDep,
    idempotency_key: Annotated[
        str | None,
        Header(max_length=200, description="repeat a request safely: same key, same job"),
    ] = None,
) -> JobAccepted:
    """Queue the condensation of a dataset; poll the returned URL for progress. The same
    Idempotency-Key always answers the same job, whatever became of it: resume a failed or
    cancelled job with `POST /jobs/{id}/retry`."""
    spec = _job_spec(body, settings)
    digest = _request_digest(body)
    if idempotency_key:
        earlier = session.scalar(
            select(Job).where(Job.owner == owner, Job.idempotency_key == idempotency_key)
        )
        if earlier is not None:
            return _replay(request, response, earlier, digest)
    dataset = get_owned(session, Dataset, owner, spec.dataset_id)
    patch = spec.job.patch
    teacher_id = None
    if isinstance(spec.teacher, CheckpointTeacher):
        teacher = get_owned(session, Teacher, owner, spec.teacher.teacher_id)
        if teacher.scale is not None and teacher.scale != patch.scale:
            raise HTTPException(
                422,
                f"teacher {teacher.id} is a x{teacher.scale} model; the job asks for x{patch.scale}",
            )
        teacher_id = teacher.id
    usable = dataset.images_holding(patch.patch_size, patch.scale)
    if not usable:
        raise HTTPException(
            422, f"no image of dataset {dataset.id} holds a {patch.patch_size}px HR patch"
        )
    quotas.check_active_jobs(session, settings, owner)
    job = Job(
        owner=owner,
        dataset_id=dataset.id,
        teacher_id=teacher_id,
        method=spec.job.method,
        params=body.model_dump(mode="json"),
        spec=spec.model_dump(mode="json"),
        idempotency_key=idempotency_key,
        request_digest=digest,
        status=JobStatus.queued,
        stage=JobStage.queued,
        instances_total=len(usable),
        timings={},
    )
    session.add(job)
    try:
        session.commit()
    except IntegrityError:
        # A concurrent request with the same Idempotency-Key won the race.
        session.rollback()
        earlier = session.scalar(
            select(Job).where(Job.owner == owner, Job.idempotency_key == idempotency_key)
        )
        if earlier is None:
            raise
        return _replay(request, response, earlier, digest)
    _enqueue(session, queue, job)
    JOBS_SUBMITTED.labels(method=spec.job.method).inc()
    response.headers["Location"] = _job_url(request, job.id)
    return JobAccepted(id=job.id, status=job.status, url=_job_url(request, job.id))


@router.get("/jobs", response_model=Page[JobOut])
def list_jobs(
    request: Request,
    owner: CurrentOwner,
    session: SessionDep,
    status_filter: Annotated[JobStatus | None, Query(alias="status")] = None,
    method: Annotated[str | None, Query(max_length=20)] = None,
    dataset_id: Annotated[str | None, Query(max_length=36)] = None,
    created_after: Annotated[
        IsoDatetime | None, Query(description="ISO 8601; without a zone, UTC")
    ] = None,
    limit: Limit = 20,
    offset: Offset = 0,
) -> Page[JobOut]:
    """The owner's jobs, newest first, filtered and paginated (`total` counts all matches)."""
    query = select(Job).where(Job.owner == owner)
    if status_filter is not None:
        query = query.where(Job.status == status_filter.value)
    if method is not None:
        query = query.where(Job.method == method)
    if dataset_id is not None:
        query = query.where(Job.dataset_id == dataset_id)
    if created_after is not None:
        query = query.where(Job.created_at > created_after)
    return paginate(session, query, Job, lambda job: job_view(request, job), limit, offset)


@router.get("/jobs/{job_id}", response_model=JobOut)
async def get_job(request: Request, key: BearerKey, job_id: str) -> JobOut:
    """What every poller of a job calls, so it costs one thread hop and one query outside a
    transaction (key, job and shard sums together) instead of SessionDep's three of each."""
    state = request.app.state
    wanted = job_id if valid_row_id(job_id) else ""  # no job has the id ""
    owner, job, sums = await state.session_gate.run(
        state.read_sessionmaker, lambda session: _read_polled_job(session, key or "", wanted)
    )
    if owner is None:
        raise unauthorized()
    if job is None:
        raise not_found("job", job_id[:36])
    return job_view(request, job, sums)


@router.post(
    "/jobs/{job_id}/cancel",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=JobOut,
    responses={409: {"description": "the job has already finished"}},
)
def cancel_job(request: Request, owner: CurrentOwner, session: SessionDep, job_id: str) -> JobOut:
    """Ask the job to stop. A queued job is cancelled at once; running shards see the flag
    between iterations and stop within seconds (poll until status is `cancelled`)."""
    job = get_owned(session, Job, owner, job_id)
    if job.status in FINISHED:
        raise HTTPException(409, f"job {job_id} has already {job.status}")
    # Two conditional updates, so that a worker starting the job at this moment is not undone.
    session.execute(update(Job).where(Job.id == job_id).values(cancel_requested=True))
    session.execute(
        update(Job)
        .where(Job.id == job_id, Job.status == JobStatus.queued)
        .values(status=JobStatus.cancelled, finished_at=utcnow())
    )
    session.commit()
    session.refresh(job)
    return job_view(request, job)


@router.post(
    "/jobs/{job_id}/retry",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=JobOut,
    responses={
        409: {"description": "the job is not failed or cancelled, or its dataset is gone"},
        **TOO_MANY_JOBS,
        503: {"description": "the queue is unreachable"},
    },
)
def retry_job(
    request: Request,
    owner: CurrentOwner,
    session: SessionDep,
    storage: StorageDep,
    settings: SettingsDep,
    queue: QueueDep,
    job_id: str,
) -> JobOut:
    """Resume a failed or cancelled job: it is queued again and reuses every instance it had
    stored (those of a job that ended more than `IDC_UNFINISHED_RETENTION_S` ago were deleted,
    and are computed again). Poll the job as after `POST /condense`."""
    job = get_owned(session, Job, owner, job_id)
    if job.status not in UNFINISHED:
        raise HTTPException(
            409, f"job {job_id} is {job.status}; only a failed or cancelled job can be retried"
        )
    if job.dataset_id is None:
        raise HTTPException(409, f"the dataset of job {job_id} was deleted; it cannot be retried")
    spec = JobSpec.model_validate(job.spec)
    if isinstance(spec.teacher, CheckpointTeacher) and job.teacher_id is None:
        raise HTTPException(409, f"the teacher of job {job_id} was deleted; it cannot be retried")
    quotas.check_active_jobs(session, settings, owner)
    if not reset_for_retry(session, storage, job_id):
        session.refresh(job)
        raise HTTPException(409, f"job {job_id} is {job.status} now; it cannot be retried")
    session.refresh(job)
    _enqueue(session, queue, job)
    log.info("job %s retried", job_id)
    return job_view(request, job)


@router.delete(
    "/jobs/{job_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={409: {"description": "the job is queued or running: cancel it first"}},
)
def delete_job(
    owner: CurrentOwner, session: SessionDep, storage: StorageDep, job_id: str
) -> Response:
    """Delete a finished job: its result, its intermediate files and its record. Signed result
    URLs stop working. A teacher the job trained is listed under `/teachers` and stays until it
    is deleted there."""
    job = get_owned(session, Job, owner, job_id)
    session.refresh(job, with_for_update=True)  # a retry at this moment waits, then finds none
    if job.status not in FINISHED:
        raise HTTPException(
            409,
            f"job {job_id} is {job.status}; cancel it first (POST /jobs/{job_id}/cancel), "
            "then delete it once it is cancelled",
        )
    delete_jobs(session, storage, [job])
    session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/jobs/{job_id}/result",
    response_model=JobResult,
    responses={409: {"description": "the job has not succeeded"}},
)
def get_result(
    owner: CurrentOwner,
    session: SessionDep,
    storage: StorageDep,
    settings: SettingsDep,
    job_id: str,
) -> JobResult:
    """A signed, expiring download URL of the condensed dataset (zip), and its manifest."""
    job = get_owned(session, Job, owner, job_id)
    if job.status != JobStatus.succeeded or not job.result_key:
        raise HTTPException(409, f"job {job_id} is {job.status}; the result exists once succeeded")
    filename = f"idc-{job.id}.zip"
    signed = storage.signed_url(job.result_key, settings.download_url_ttl_s, filename)
    preview = (
        storage.signed_url(job.preview_key, settings.download_url_ttl_s).url
        if job.preview_key
        else None
    )
    return JobResult(
        job_id=job.id,
        url=signed.url,
        expires_at=signed.expires_at,
        filename=filename,
        preview_url=preview,
        manifest=job.manifest or {},
    )
