"""Digests and descriptions that make a dataset traceable to its inputs and repeatable: source
and output digests, the teacher, the versions, commit and device that made it."""

from __future__ import annotations

import hashlib
import json
import os
import platform
import subprocess
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
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


CHECKSUMS = "SHA256SUMS"
OUTPUT_DIRS = ("HR", "LR", "LR_float")


def write_checksums(folder: str | Path) -> dict[str, Any]:
    """Write `SHA256SUMS` (the `sha256sum -c` format) over every file of HR/, LR/, LR_float/ and
    meta_info.txt; returns what the manifest records: the file count per folder and the SHA-256
    of `SHA256SUMS` itself, one digest that pins every output byte."""
    folder = Path(folder)
    lines, counts = [], {}
    for sub in OUTPUT_DIRS:
        present = (folder / sub).iterdir() if (folder / sub).is_dir() else []
        files = sorted(p for p in present if p.is_file() and not p.name.startswith("."))
        counts[sub] = len(files)
        lines += [f"{file_sha256(p)}  {sub}/{p.name}\n" for p in files]
    meta = folder / "meta_info.txt"
    if meta.is_file():
        lines.append(f"{file_sha256(meta)}  {meta.name}\n")
    text = "".join(lines)
    tmp = folder / f".{CHECKSUMS}.tmp"
    tmp.write_text(text)
    os.replace(tmp, folder / CHECKSUMS)
    return {
        "checksums_file": CHECKSUMS,
        "sha256": hashlib.sha256(text.encode()).hexdigest(),
        "files": counts,
    }


def _version(distribution: str) -> str | None:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def _git_commit() -> dict[str, Any] | None:
    """The commit of the code that runs (and whether it has local changes); None outside git."""
    source = Path(__file__).resolve().parent
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=source, capture_output=True, text=True, timeout=10
        )
        if commit.returncode != 0:
            return None
        status = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=source,
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return {"commit": commit.stdout.strip(), "dirty": bool(status.stdout.strip())}


def describe_device(device: str | torch.device) -> dict[str, Any]:
    """The device actually used (never 'auto') and, for CUDA, which GPU."""
    device = torch.device(device)
    info: dict[str, Any] = {"device": str(device)}
    if device.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
        info["cuda"] = torch.version.cuda
    return info


def run_environment() -> dict[str, Any]:
    """Versions and code that made an output: enough to repeat it."""
    from idc_core import __version__

    return {
        "idc_version": __version__,
        "git": _git_commit(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "torch": torch.__version__,
        "numpy": np.__version__,
        "spandrel": _version("spandrel"),
    }


def write_manifest(folder: str | Path, manifest: dict[str, Any]) -> None:
    """Write `manifest.json` atomically (a crash leaves the old one or the new one)."""
    path = Path(folder) / "manifest.json"
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(manifest, indent=2) + "\n")
    os.replace(tmp, path)
