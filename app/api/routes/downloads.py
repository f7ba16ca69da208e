"""Downloads of the local storage backend, authorised by the link's HMAC signature alone.

With the S3 backend this route answers 404: S3 serves its own presigned URLs.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import FileResponse

from app.api.deps import StorageDep
from app.storage.local import DOWNLOAD_ROUTE, LocalStorage, SignatureError, verify

router = APIRouter(tags=["downloads"])


@router.get(
    DOWNLOAD_ROUTE + "/{key:path}",
    response_class=FileResponse,
    responses={
        403: {"description": "signature invalid or expired"},
        404: {"description": "the file is gone, or the S3 backend serves downloads"},
    },
)
def download(
    storage: StorageDep,
    key: str,
    expires: Annotated[int, Query()],
    filename: Annotated[str, Query(max_length=300)],
    signature: Annotated[str, Query(max_length=128)],
) -> FileResponse:
    if not isinstance(storage, LocalStorage):
        raise HTTPException(404, "downloads are served by the object store")
    try:
        verify(storage.secret, key, expires, filename, signature)
        path = storage.path_of(key)
    except (SignatureError, ValueError) as error:
        raise HTTPException(403, str(error)) from error
    if not path.is_file():
        raise HTTPException(404, "the file no longer exists")
    return FileResponse(path, filename=filename)
