"""Teacher checkpoints: upload one to condense with it, list, read and delete them."""

from __future__ import annotations

import hashlib
from pathlib import PurePosixPath
from typing import Annotated

from fastapi import APIRouter, File, Form, HTTPException, Response, UploadFile, status
from sqlalchemy import select

from app import keys, quotas
from app.api.deps import (
    CurrentOwner,
    SessionDep,
    SettingsDep,
    StorageDep,
    delete_unless_in_use,
    get_owned,
)
from app.api.pagination import Limit, Offset, paginate
from app.checkpoints import CheckpointError, check_checkpoint, read_sidecar
from app.models import Job, Teacher, new_id
from app.schemas import Page, TeacherOut

router = APIRouter(prefix="/teachers", tags=["teachers"])


def _sha256(stream) -> str:
    stream.seek(0)
    digest = hashlib.file_digest(stream, "sha256").hexdigest()
    stream.seek(0)
    return "sha256:" + digest


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=TeacherOut,
    responses={
        413: {"description": "too large"},
        422: {"description": "not a checkpoint"},
        429: {"description": "the owner's storage quota would be exceeded (Retry-After)"},
    },
)
def upload_teacher(
    owner: CurrentOwner,
    session: SessionDep,
    storage: StorageDep,
    settings: SettingsDep,
    checkpoint: Annotated[UploadFile, File(description=".safetensors, .pth, .pt or .ckpt")],
    config: Annotated[
        UploadFile | None, File(description="JSON sidecar (arch, scale, config) of save_model")
    ] = None,
    name: Annotated[str | None, Form(max_length=200)] = None,
) -> Teacher:
    """Store a teacher checkpoint. `idc_core.api.save_model` writes `model.safetensors` and
    `model.json`: upload both (`-F checkpoint=@model.safetensors -F config=@model.json`)."""
    size = checkpoint.size or 0
    if size > settings.teacher_max_bytes:
        raise HTTPException(
            413, f"the checkpoint is larger than {settings.teacher_max_bytes} bytes"
        )
    filename = PurePosixPath(checkpoint.filename or "model.safetensors").name
    suffix = PurePosixPath(filename).suffix.lower()
    try:
        check_checkpoint(checkpoint.file, size, suffix)
        config_bytes = config.file.read() if config is not None else None
        sidecar = read_sidecar(config_bytes) if config_bytes is not None else None
    except CheckpointError as error:
        raise HTTPException(422, str(error)) from error
    quotas.check_stored_bytes(session, settings, owner, size + len(config_bytes or b""))
    teacher_id = new_id()
    key = keys.teacher_model_key(teacher_id, suffix)
    config_key = keys.teacher_config_key(teacher_id) if sidecar else None
    digest = _sha256(checkpoint.file)
    try:
        storage.put_stream(key, checkpoint.file)
        if config_bytes is not None and config_key:
            storage.put_bytes(config_key, config_bytes)
        teacher = Teacher(
            id=teacher_id,
            owner=owner,
            name=name or filename,
            source="uploaded",
            filename=filename,
            arch=sidecar.arch if sidecar else None,
            scale=sidecar.scale if sidecar else None,
            size_bytes=size,
            digest=digest,
            storage_key=key,
            config_key=config_key,
        )
        session.add(teacher)
        session.commit()
    except BaseException:
        storage.delete_prefix(keys.teacher_prefix(teacher_id))
        raise
    return teacher


@router.get("", response_model=Page[TeacherOut])
def list_teachers(
    owner: CurrentOwner,
    session: SessionDep,
    limit: Limit = 20,
    offset: Offset = 0,
) -> Page[TeacherOut]:
    query = select(Teacher).where(Teacher.owner == owner)
    return paginate(session, query, Teacher, TeacherOut.model_validate, limit, offset)


@router.get("/{teacher_id}", response_model=TeacherOut)
def get_teacher(owner: CurrentOwner, session: SessionDep, teacher_id: str) -> Teacher:
    return get_owned(session, Teacher, owner, teacher_id)


@router.delete("/{teacher_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_teacher(
    owner: CurrentOwner, session: SessionDep, storage: StorageDep, teacher_id: str
) -> Response:
    """Delete the checkpoint; refused while an unfinished job uses it."""
    teacher = get_owned(session, Teacher, owner, teacher_id)
    delete_unless_in_use(session, storage, teacher, Job.teacher_id, keys.teacher_prefix(teacher_id))
    return Response(status_code=status.HTTP_204_NO_CONTENT)
