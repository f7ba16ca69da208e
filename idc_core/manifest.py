"""Digests and descriptions that make a condensed dataset traceable to its inputs."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

_BLOCK = 1 << 20


def file_sha256(path: str | Path) -> str:
    """SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(_BLOCK):
            digest.update(block)
    return digest.hexdigest()


def sources_digest(paths: Sequence[str | Path]) -> dict[str, Any]:
    """Per-file SHA-256 of the source images and one digest of the whole set (name order)."""
    files = sorted(
        ({"name": Path(p).name, "sha256": file_sha256(p)} for p in paths), key=lambda f: f["name"]
    )
    combined = hashlib.sha256("".join(f"{f['name']} {f['sha256']}\n" for f in files).encode())
    return {"count": len(files), "sha256": combined.hexdigest(), "files": files}


def weights_sha256(model: nn.Module) -> str:
    """SHA-256 over the model's state dict (names, dtypes, shapes and bytes), on any device."""
    digest = hashlib.sha256()
    for name, tensor in model.state_dict().items():
        data = tensor.detach().cpu().contiguous()
        digest.update(f"{name}|{data.dtype}|{tuple(data.shape)}\n".encode())
        digest.update(data.view(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def describe_teacher(model: nn.Module, checkpoint: str | Path | None = None) -> dict[str, Any]:
    """What the manifest records about the teacher: its description, weights and file digests."""
    info: dict[str, Any] = dict(model.describe()) if hasattr(model, "describe") else {}
    info["weights_sha256"] = weights_sha256(model)
    if checkpoint is not None:
        info["checkpoint"] = str(checkpoint)
        info["checkpoint_sha256"] = file_sha256(checkpoint)
    return info
