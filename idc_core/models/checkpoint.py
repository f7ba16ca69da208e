"""Saving and loading `SRModel`s: our safetensors + JSON pair, or any spandrel-readable file.

`save_model(model, "teacher.safetensors")` writes the weights and, beside them, `teacher.json`
with what rebuilds the network (arch, scale, config) and the idc version. `load_model` reads that
pair when the JSON is there; any other file (.pth, .pt, .ckpt, .safetensors without our JSON) goes
to spandrel (`spandrel_adapter.py`).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from idc_core import __version__
from idc_core.models.base import SRModel
from idc_core.models.registry import build_model
from idc_core.models.spandrel_adapter import SpandrelSRModel, load_spandrel_model

CHECKPOINT_FORMAT = "idc-sr-model"
CHECKPOINT_FORMAT_VERSION = 1


class ModelLoadError(ValueError):
    """A checkpoint is missing, unreadable, corrupt, or of an unsupported kind."""


def metadata_path(path: str | Path) -> Path:
    """Where the JSON that describes the weights file `path` lives."""
    return Path(path).with_suffix(".json")


def _replace_atomically(path: Path, write) -> None:
    """Write through a temporary name and rename, so a crash never leaves half a checkpoint."""
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def save_model(model: SRModel, path: str | Path) -> Path:
    """Write `path` (.safetensors weights) and `path.with_suffix('.json')`; returns `path`."""
    path = Path(path)
    if path.suffix != ".safetensors":
        raise ValueError(f"{path}: model files are saved as .safetensors")
    path.parent.mkdir(parents=True, exist_ok=True)
    # Spandrel networks are saved with their own key names, so that spandrel can read them back.
    module = model.net if isinstance(model, SpandrelSRModel) else model
    tensors = {k: v.detach().cpu().contiguous().clone() for k, v in module.state_dict().items()}
    meta: dict[str, Any] = {
        "format": CHECKPOINT_FORMAT,
        "format_version": CHECKPOINT_FORMAT_VERSION,
        "arch": model.arch,
        "scale": model.scale,
        "config": model.config,
        "feature_channels": model.feature_channels,
        "idc_version": __version__,
    }
    _replace_atomically(path, lambda tmp: save_file(tensors, str(tmp)))
    _replace_atomically(
        metadata_path(path), lambda tmp: tmp.write_text(json.dumps(meta, indent=2) + "\n")
    )
    return path


def _read_metadata(path: Path) -> dict[str, Any] | None:
    """Our JSON beside `path`, or None when there is none (or it is some other JSON)."""
    meta_file = metadata_path(path)
    if meta_file == path or not meta_file.is_file():
        return None
    try:
        meta = json.loads(meta_file.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ModelLoadError(f"{meta_file}: unreadable model description ({error})") from error
    return meta if isinstance(meta, dict) and meta.get("format") == CHECKPOINT_FORMAT else None


def _load_ours(path: Path, meta: dict[str, Any], device: str | torch.device) -> SRModel:
    arch, scale, config = meta.get("arch"), meta.get("scale"), meta.get("config")
    if not isinstance(arch, str) or not isinstance(scale, int) or not isinstance(config, dict):
        raise ModelLoadError(f"{metadata_path(path)}: needs 'arch', 'scale' and 'config'")
    if arch.startswith("spandrel:"):
        return load_spandrel_model(path, device)
    model = build_model(arch, scale, **config)
    try:
        model.load_state_dict(load_file(str(path), device="cpu"))
    except RuntimeError as error:
        raise ModelLoadError(f"{path}: weights do not fit {arch} x{scale}: {error}") from error
    return model.to(device).eval()


def load_model(path: str | Path, device: str | torch.device = "cpu") -> SRModel:
    """Load a model for inference (eval mode) on `device`; raises ModelLoadError with the reason."""
    path = Path(path)
    if not path.is_file():
        raise ModelLoadError(f"{path}: no such model file")
    meta = _read_metadata(path)
    try:
        if meta is not None:
            return _load_ours(path, meta, device)
        return load_spandrel_model(path, device)
    except ModelLoadError:
        raise
    except Exception as error:
        # spandrel raises ValueError (extension) and UnsupportedModelError; torch.load and
        # safetensors raise many error types for damaged files. All mean "cannot load this".
        raise ModelLoadError(
            f"{path}: cannot load model ({type(error).__name__}: {error})"
        ) from error
