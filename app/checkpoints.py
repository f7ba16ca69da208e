"""Torch-free checks of an uploaded teacher checkpoint, before it is stored.

The API cannot load a model (no torch in this process); it checks that the file is what its
name says (a safetensors header that parses, or a torch zip/pickle file) and reads the optional
JSON sidecar that `idc_core.api.save_model` writes beside a `.safetensors` file. The worker
loads the model and fails the job with the loader's message if it cannot.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass
from typing import Any, BinaryIO

from idc_core.spec import SUPPORTED_SCALES

CHECKPOINT_SUFFIXES = (".safetensors", ".pth", ".pt", ".ckpt")
_MAX_HEADER = 100 * 1024 * 1024


class CheckpointError(ValueError):
    """The checkpoint or its sidecar is refused (answered with 422)."""


@dataclass(frozen=True)
class SidecarInfo:
    arch: str | None
    scale: int | None
    raw: dict[str, Any]


def check_checkpoint(stream: BinaryIO, size: int, suffix: str) -> None:
    """Raise CheckpointError unless the file looks like a checkpoint of its kind."""
    if suffix not in CHECKPOINT_SUFFIXES:
        raise CheckpointError(
            f"unsupported checkpoint type {suffix!r}; use one of {', '.join(CHECKPOINT_SUFFIXES)}"
        )
    stream.seek(0)
    if suffix == ".safetensors":
        _check_safetensors(stream, size)
    else:
        magic = stream.read(2)
        if magic != b"PK" and not magic.startswith(b"\x80"):
            raise CheckpointError("the file is neither a torch zip checkpoint nor a pickle")
    stream.seek(0)


def _check_safetensors(stream: BinaryIO, size: int) -> None:
    prefix = stream.read(8)
    if len(prefix) != 8:
        raise CheckpointError("the .safetensors file is too short")
    (header_size,) = struct.unpack("<Q", prefix)
    if header_size > min(_MAX_HEADER, size - 8):
        raise CheckpointError("the .safetensors header size is out of range")
    try:
        header = json.loads(stream.read(header_size))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise CheckpointError(f"the .safetensors header is not JSON ({error})") from error
    tensors = (
        {k: v for k, v in header.items() if k != "__metadata__"} if isinstance(header, dict) else {}
    )
    if not tensors:
        raise CheckpointError("the .safetensors file holds no tensors")
    data_size = size - 8 - header_size
    for name, info in tensors.items():
        offsets = info.get("data_offsets") if isinstance(info, dict) else None
        if not (isinstance(offsets, list) and len(offsets) == 2 and 0 <= offsets[0] <= offsets[1]):
            raise CheckpointError(f"tensor {name!r} has no valid data_offsets")
        if offsets[1] > data_size:
            raise CheckpointError(f"tensor {name!r} lies beyond the end of the file")


def read_sidecar(data: bytes) -> SidecarInfo:
    """Parse the JSON sidecar (arch, scale, config) of a checkpoint."""
    try:
        raw = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise CheckpointError(f"the config file is not JSON ({error})") from error
    if not isinstance(raw, dict):
        raise CheckpointError("the config file must hold a JSON object")
    scale = raw.get("scale")
    if scale is not None and scale not in SUPPORTED_SCALES:
        raise CheckpointError(
            f"the config's scale must be one of {SUPPORTED_SCALES}, not {scale!r}"
        )
    arch = raw.get("arch")
    if arch is not None and not isinstance(arch, str):
        raise CheckpointError("the config's arch must be a string")
    return SidecarInfo(arch=arch, scale=scale, raw=raw)
