"""Dataset archives (zip, tar, tar.gz/bz2/xz) checked member by member and stored image by image.

The archive arrives as a file on disk (the upload is spooled there in chunks); members are read
one at a time, in order, and checked and stored on a few threads while the next are read, so a
multi-GB archive never sits in memory: at most the images that fit the process's buffer budget
(IDC_UPLOAD_BUFFER_BYTES) do. Every member must be a regular file with a safe relative path and a
decodable image within the size limits; the first bad member rejects the whole archive and
removes what was already stored.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import lzma
import math
import re
import stat
import tarfile
import threading
import unicodedata
import warnings
import zipfile
import zlib
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import BinaryIO

from PIL import Image, UnidentifiedImageError

from app.png_check import PngDamaged, check_png
from app.storage import Storage
from idc_core.data.images import IMAGE_EXTENSIONS

# Below these sizes the ratio of a member or archive is not checked: tiny files and tar headers
# compress well without being a threat.
_RATIO_FLOOR_MEMBER = 1024 * 1024
_RATIO_FLOOR_ARCHIVE = 16 * 1024 * 1024
_IGNORED_PARTS = {"__MACOSX"}
# A member read holds at least this much of the buffer budget, so that the number of tiny images
# waiting to be stored is bounded too.
_LEAST_BUFFER = 64 * 1024
_DAMAGED = (
    tarfile.TarError,
    zipfile.BadZipFile,
    gzip.BadGzipFile,
    lzma.LZMAError,
    zlib.error,
    EOFError,
    NotImplementedError,
)


class ArchiveError(ValueError):
    """The archive is refused; `status_code` is the HTTP status to answer with."""

    def __init__(self, message: str, status_code: int = 422) -> None:
        super().__init__(message)
        self.status_code = status_code


class Budget:
    """An amount (pixels, bytes) that may be in use at once in this process, shared by every
    upload, so that concurrent uploads take turns instead of adding up. A decoded RGB image costs
    3 bytes a pixel (an 8000 x 8000 PNG of 186 KB takes 192 MB): `decode_budget` counts pixels;
    images read from an archive but not yet stored count in `buffer_budget`, in bytes."""

    def __init__(self, amount: int) -> None:
        self.amount = amount
        self._used = 0
        self._changed = threading.Condition()

    def acquire(self, amount: int) -> int:
        """Wait until `amount` (at most the whole budget) fits; returns what was taken."""
        amount = min(amount, self.amount)
        with self._changed:
            self._changed.wait_for(lambda: self._used + amount <= self.amount)
            self._used += amount
        return amount

    def release(self, amount: int) -> None:
        with self._changed:
            self._used -= amount
            self._changed.notify_all()


@dataclass(frozen=True)
class UploadLimits:
    max_images: int
    max_pixels: int
    max_image_bytes: int
    max_ratio: float
    decode_budget: Budget
    buffer_budget: Budget
    threads: int


@dataclass(frozen=True)
class StoredImage:
    name: str
    key: str
    member: str
    width: int
    height: int
    bytes: int
    sha256: str


@dataclass
class StoredDataset:
    images: list[StoredImage] = field(default_factory=list)

    @property
    def total_pixels(self) -> int:
        return sum(image.width * image.height for image in self.images)

    @property
    def total_bytes(self) -> int:
        return sum(image.bytes for image in self.images)

    @property
    def digest(self) -> str:
        """SHA-256 over the sorted (name, image digest) pairs: the same images packed in
        another archive format or order give the same digest."""
        lines = sorted(f"{image.name}:{image.sha256}\n" for image in self.images)
        return "sha256:" + hashlib.sha256("".join(lines).encode()).hexdigest()


@dataclass(frozen=True)
class _Member:
    name: str
    size: int
    open: Callable[[], BinaryIO]


def _member_path(raw: str) -> PurePosixPath | None:
    """The member's safe relative path, None for entries to skip; raises for unsafe paths."""
    if raw.startswith("/") or "\\" in raw or re.match(r"^[A-Za-z]:", raw):
        raise ArchiveError(f"member {raw!r} has an absolute path")
    parts = [part for part in raw.split("/") if part not in ("", ".")]
    if ".." in parts:
        raise ArchiveError(f"member {raw!r} climbs out of the archive with '..'")
    if not parts or any(part.startswith(".") or part in _IGNORED_PARTS for part in parts):
        return None
    return PurePosixPath(*parts)


def _zip_members(zf: zipfile.ZipFile, limits: UploadLimits) -> Iterator[_Member]:
    for info in zf.infolist():
        mode = info.external_attr >> 16
        if stat.S_ISLNK(mode):
            raise ArchiveError(f"member {info.filename!r} is a symbolic link")
        if info.is_dir():
            continue
        if info.flag_bits & 0x1:
            raise ArchiveError(f"member {info.filename!r} is encrypted")
        if info.file_size > _RATIO_FLOOR_MEMBER and info.file_size > limits.max_ratio * max(
            info.compress_size, 1
        ):
            raise ArchiveError(
                f"member {info.filename!r} expands {info.file_size / max(info.compress_size, 1):.0f}"
                f" times (limit {limits.max_ratio:.0f}): refused as a decompression bomb"
            )
        yield _Member(info.filename, info.file_size, lambda info=info: zf.open(info))


def _tar_members(tf: tarfile.TarFile, limits: UploadLimits) -> Iterator[_Member]:
    for info in tf:
        if info.issym() or info.islnk():
            raise ArchiveError(f"member {info.name!r} is a link")
        if info.isdir():
            continue
        if not info.isreg():
            raise ArchiveError(f"member {info.name!r} is not a regular file")
        yield _Member(info.name, info.size, lambda info=info: tf.extractfile(info))


def _read_limited(stream: BinaryIO, limit: int, name: str) -> bytes:
    data = stream.read(limit + 1)
    if len(data) > limit:
        raise ArchiveError(f"member {name!r} is larger than the {limit}-byte limit", 413)
    return data


def _too_many_pixels(name: str, limits: UploadLimits, size: str = "") -> ArchiveError:
    return ArchiveError(
        f"member {name!r} has {size or 'more'} pixels, more than the limit of "
        f"{limits.max_pixels} (IDC_IMAGE_MAX_PIXELS)",
        413,
    )


def _check_image(data: bytes, name: str, limits: UploadLimits) -> tuple[int, int]:
    """Check that the image is whole; returns (width, height). The size comes from the header,
    before anything is decoded; a PNG is then checked without decoding its pixels (app.png_check),
    other formats are decoded whole within the process's pixel budget."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                width, height = image.size
                if width * height > limits.max_pixels:
                    raise _too_many_pixels(name, limits, f"{width}x{height}")
                if image.format == "PNG":
                    check_png(data)
                else:
                    taken = limits.decode_budget.acquire(width * height)
                    try:
                        image.load()
                    finally:
                        limits.decode_budget.release(taken)
    except ArchiveError:
        raise
    except PngDamaged as error:
        raise ArchiveError(f"member {name!r} is not a decodable image ({error})") from error
    except UnidentifiedImageError as error:
        raise ArchiveError(
            f"member {name!r} is not a decodable image (not a format Pillow reads)"
        ) from error
    except (OSError, ValueError, SyntaxError) as error:
        raise ArchiveError(f"member {name!r} is not a decodable image ({error})") from error
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        # Pillow's own guard (89.5 Mpx) met before ours could read the size.
        raise _too_many_pixels(name, limits) from error
    return width, height


def _safe_name(stem: str) -> str:
    """The stem with only [A-Za-z0-9._-]. A non-ASCII stem is transliterated where it can be
    (`café` -> `cafe`) and gets a digest of the original, so `фото` and `кадр` stay apart."""
    if stem.isascii():
        return re.sub(r"[^A-Za-z0-9._-]", "_", stem)
    ascii_stem = unicodedata.normalize("NFKD", stem).encode("ascii", "ignore").decode()
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", ascii_stem).strip("_") or "image"
    return f"{safe}-{hashlib.sha256(stem.encode()).hexdigest()[:8]}"


def store_archive(
    archive: BinaryIO, archive_size: int, storage: Storage, prefix: str, limits: UploadLimits
) -> StoredDataset:
    """Validate every member of `archive` and store each image under `prefix`images/.

    Raises ArchiveError (and deletes everything stored under `prefix`) on the first bad member.
    """
    try:
        return _store_members(archive, archive_size, storage, prefix, limits)
    except BaseException:
        storage.delete_prefix(prefix)
        raise


def _open_tar(archive: BinaryIO) -> tarfile.TarFile:
    """Open a tar stream, compressed or not, read front to back only."""
    try:
        return tarfile.open(fileobj=archive, mode="r|*")
    except tarfile.ReadError as error:
        raise ArchiveError("the upload is not a zip or tar (.tar, .tar.gz) archive") from error


def _store_members(
    archive: BinaryIO, archive_size: int, storage: Storage, prefix: str, limits: UploadLimits
) -> StoredDataset:
    archive.seek(0)
    is_zip = archive.read(2) == b"PK"
    archive.seek(0)
    try:
        if is_zip:
            with zipfile.ZipFile(archive) as zf:
                return _store(_zip_members(zf, limits), archive_size, storage, prefix, limits)
        with _open_tar(archive) as tf:
            return _store(_tar_members(tf, limits), archive_size, storage, prefix, limits)
    except _DAMAGED as error:
        raise ArchiveError(f"the archive is damaged: {error}") from error


def _store(
    members: Iterator[_Member],
    archive_size: int,
    storage: Storage,
    prefix: str,
    limits: UploadLimits,
) -> StoredDataset:
    """Read the members in order here, check and store them on the pipeline's threads."""
    seen: dict[str, str] = {}
    expanded = 0
    pipeline = _Pipeline(storage, limits)
    try:
        for index, member in enumerate(members):
            if pipeline.stopped:
                break
            # Counted before anything is skipped: a skipped member is still decompressed to pass it.
            expanded += member.size
            if expanded > _RATIO_FLOOR_ARCHIVE and expanded > limits.max_ratio * archive_size:
                raise ArchiveError(
                    f"the archive expands more than {limits.max_ratio:.0f} times its size: "
                    "refused as a decompression bomb"
                )
            path = _member_path(member.name)
            if path is None:
                continue
            suffix = path.suffix.lower()
            if suffix not in IMAGE_EXTENSIONS:
                raise ArchiveError(
                    f"member {member.name!r} is not an image file "
                    f"(expected one of {', '.join(IMAGE_EXTENSIONS)})"
                )
            if len(seen) >= limits.max_images:
                raise ArchiveError(f"the archive holds more than {limits.max_images} images", 413)
            if member.size > limits.max_image_bytes:
                raise ArchiveError(
                    f"member {member.name!r} is larger than the {limits.max_image_bytes}-byte "
                    "limit",
                    413,
                )
            name = _safe_name(path.stem)
            if name in seen:
                raise ArchiveError(
                    f"members {seen[name]!r} and {member.name!r} would both be named {name!r}; "
                    "image names must be unique"
                )
            seen[name] = member.name
            taken = limits.buffer_budget.acquire(max(member.size, _LEAST_BUFFER))
            try:
                with member.open() as stream:
                    data = _read_limited(stream, limits.max_image_bytes, member.name)
            except BaseException:
                limits.buffer_budget.release(taken)
                raise
            pipeline.submit(
                _Read(index, member.name, name, f"{prefix}images/{name}{suffix}", data), taken
            )
    except BaseException as error:
        pipeline.finish(error)
        raise
    dataset = StoredDataset(pipeline.finish())
    if not dataset.images:
        raise ArchiveError("the archive holds no images")
    return dataset


@dataclass(frozen=True)
class _Read:
    """A member read whole and named, waiting to be checked and stored."""

    index: int
    member: str
    name: str
    key: str
    data: bytes


def _check_and_store(read: _Read, storage: Storage, limits: UploadLimits) -> StoredImage:
    width, height = _check_image(read.data, read.member, limits)
    storage.put_bytes(read.key, read.data)
    return StoredImage(
        name=read.name,
        key=read.key,
        member=read.member,
        width=width,
        height=height,
        bytes=len(read.data),
        sha256=hashlib.sha256(read.data).hexdigest(),
    )


class _Pipeline:
    """Checks and stores the members read on `limits.threads` threads while the reader goes on
    (the PNG check's inflating, the digest and the storage's writes run outside the GIL). What
    waits is bounded by `limits.buffer_budget`, which each member's bytes hold until stored.

    `finish` waits for everything submitted, then returns the images in archive order or raises
    the error of the first bad member in archive order, as a one-by-one pass would. Once a member
    fails, the members after it that have not started are skipped."""

    def __init__(self, storage: Storage, limits: UploadLimits) -> None:
        self._storage = storage
        self._limits = limits
        self._pool = ThreadPoolExecutor(limits.threads, thread_name_prefix="upload")
        self._futures: list[Future[StoredImage | None]] = []
        self._lock = threading.Lock()
        self._stop_after: float = math.inf  # index of the first member known to be bad

    @property
    def stopped(self) -> bool:
        return self._stop_after != math.inf

    def _stop_at(self, index: float) -> None:
        with self._lock:
            self._stop_after = min(self._stop_after, index)

    def submit(self, read: _Read, taken: int) -> None:
        self._futures.append(self._pool.submit(self._run, read, taken))

    def _run(self, read: _Read, taken: int) -> StoredImage | None:
        try:
            if read.index > self._stop_after:
                return None
            return _check_and_store(read, self._storage, self._limits)
        except BaseException:
            self._stop_at(read.index)
            raise
        finally:
            self._limits.buffer_budget.release(taken)

    def finish(self, error: BaseException | None = None) -> list[StoredImage]:
        """`error`, the reader's own, comes after every member submitted."""
        self._pool.shutdown(wait=True)
        for future in self._futures:
            failure = future.exception()
            if failure is not None:
                raise failure
        if error is not None:
            raise error
        return [image for future in self._futures if (image := future.result()) is not None]
