"""Upload, list, read and delete datasets of HR images."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, HTTPException, Request, Response, UploadFile, status
from sqlalchemy import select

from app import keys
from app.api.deps import (
    CurrentOwner,
    SessionDep,
    SettingsDep,
    StorageDep,
    delete_unless_in_use,
    get_owned,
)
from app.api.pagination import Limit, Offset, paginate
from app.metrics import DATASET_UPLOADS
from app.models import Dataset, Job, new_id
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
    responses={413: {"description": "too large"}, 422: {"description": "bad archive"}},
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


@router.delete("/{dataset_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_dataset(
    owner: CurrentOwner, session: SessionDep, storage: StorageDep, dataset_id: str
) -> Response:
    """Delete the dataset and its images; refused while a job still reads it."""
    dataset = get_owned(session, Dataset, owner, dataset_id)
    delete_unless_in_use(session, storage, dataset, Job.dataset_id, keys.dataset_prefix(dataset_id))
    return Response(status_code=status.HTTP_204_NO_CONTENT)
