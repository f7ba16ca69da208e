"""Upload, list, read and delete datasets of HR images."""

from __future__ import annotations

from typing import Annotated

from fastapi import (
    APIRouter,
    File,
    Form,
    HTTPException,
    Query,
    Request,
    Response,
    UploadFile,
    status,
)
from sqlalchemy import select

from app import keys, quotas
from app.api.deps import CurrentOwner, SessionDep, SettingsDep, StorageDep, get_owned
from app.api.pagination import Limit, Offset, paginate
from app.cleanup import delete_jobs
from app.metrics import DATASET_UPLOADS
from app.models import FINISHED, Dataset, Job, new_id
from app.schemas import DatasetDetail, DatasetOut, ImageInfo, Page
from app.uploads import ArchiveError, UploadLimits, store_archive

router = APIRouter(prefix="/datasets", tags=["datasets"])


def _detail(dataset: Dataset) -> DatasetDetail:
    return DatasetDetail(
        **DatasetOut.model_validate(dataset).model_dump(),
        images=[ImageInfo.model_validate(image) for image in dataset.images],
    )


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=DatasetDetail,
    responses={
        413: {"description": "too large"},
        422: {"description": "bad archive"},
        429: {"description": "the owner's storage quota would be exceeded (Retry-After)"},
    },
)
def upload_dataset(
    request: Request,
    owner: CurrentOwner,
    session: SessionDep,
    storage: StorageDep,
    settings: SettingsDep,
    archive: Annotated[UploadFile, File(description="zip, tar or tar.gz of HR images")],
    name: Annotated[str | None, Form(max_length=200)] = None,
) -> DatasetDetail:
    """Store an archive of HR images; each member is checked before the dataset exists.
    (A plain `def`: FastAPI runs it in a worker thread, so decoding images never blocks others.)

    Example: `curl -H "Authorization: Bearer $KEY" -F archive=@DIV2K_train_HR.zip .../datasets`
    """
    size = archive.size or 0
    if size > settings.upload_max_bytes:
        raise HTTPException(413, f"the archive is larger than {settings.upload_max_bytes} bytes")
    quotas.check_stored_bytes(session, settings, owner, size)
    limits = UploadLimits(
        max_images=settings.upload_max_images,
        max_pixels=settings.image_max_pixels,
        max_image_bytes=settings.image_max_bytes,
        max_ratio=settings.archive_max_ratio,
        decode_budget=request.app.state.decode_budget,
        buffer_budget=request.app.state.buffer_budget,
        threads=settings.upload_threads,
    )
    dataset_id = new_id()
    prefix = keys.dataset_prefix(dataset_id)
    try:
        stored = store_archive(archive.file, size, storage, prefix, limits)
    except ArchiveError as error:
        DATASET_UPLOADS.labels(outcome="refused").inc()
        raise HTTPException(error.status_code, str(error)) from error
    try:  # the images may take more room than the archive did (a compressed tar)
        quotas.check_stored_bytes(session, settings, owner, stored.total_bytes)
    except HTTPException:
        storage.delete_prefix(prefix)
        raise
    dataset = Dataset(
        id=dataset_id,
        owner=owner,
        name=name or archive.filename or dataset_id,
        image_count=len(stored.images),
        total_pixels=stored.total_pixels,
        total_bytes=stored.total_bytes,
        archive_bytes=size,
        digest=stored.digest,
        images=[vars(image) for image in stored.images],
    )
    session.add(dataset)
    try:
        session.commit()
    except Exception:
        storage.delete_prefix(prefix)
        raise
    DATASET_UPLOADS.labels(outcome="stored").inc()
    return _detail(dataset)


@router.get("", response_model=Page[DatasetOut])
def list_datasets(
    owner: CurrentOwner,
    session: SessionDep,
    limit: Limit = 20,
    offset: Offset = 0,
) -> Page[DatasetOut]:
    query = select(Dataset).where(Dataset.owner == owner)
    return paginate(session, query, Dataset, DatasetOut.model_validate, limit, offset)


@router.get("/{dataset_id}", response_model=DatasetDetail)
def get_dataset(owner: CurrentOwner, session: SessionDep, dataset_id: str) -> DatasetDetail:
    return _detail(get_owned(session, Dataset, owner, dataset_id))


@router.delete(
    "/{dataset_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={409: {"description": "jobs made from it exist (or, with cascade, still run)"}},
)
def delete_dataset(
    owner: CurrentOwner,
    session: SessionDep,
    storage: StorageDep,
    dataset_id: str,
    cascade: Annotated[
        bool, Query(description="also delete the finished jobs made from it, and their results")
    ] = False,
) -> Response:
    """Delete the dataset and its images. Refused (409) while jobs made from it exist, so that
    no result outlives its dataset unasked: delete those jobs first, or pass `?cascade=true` to
    delete them (results and files) with it. Jobs still queued or running must be cancelled
    first either way. Teachers trained by those jobs stay (see `/teachers`)."""
    dataset = get_owned(session, Dataset, owner, dataset_id)
    jobs = session.scalars(select(Job).where(Job.dataset_id == dataset_id).with_for_update()).all()
    active = [job for job in jobs if job.status not in FINISHED]
    if active:
        raise HTTPException(
            409, f"{len(active)} unfinished job(s) use this dataset; cancel them first"
        )
    if jobs and not cascade:
        raise HTTPException(
            409,
            f"{len(jobs)} job(s) were made from this dataset; delete them (DELETE /jobs/{{id}}) "
            "or pass ?cascade=true to delete them and their results with the dataset",
        )
    delete_jobs(session, storage, jobs)
    storage.delete_prefix(keys.dataset_prefix(dataset_id))
    session.delete(dataset)
    session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)
