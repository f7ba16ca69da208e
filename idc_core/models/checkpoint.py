"""Saving and loading `SRModel`s: our safetensors + JSON pair, BasicSR's EDSR, or spandrel's.

`save_model(model, "teacher.safetensors")` writes the weights and, beside them, `teacher.json`
with what rebuilds the network (arch, scale, config) and the idc version. `load_model` reads that
pair when the JSON is there; any other file (.pth, .pt, .ckpt, .safetensors without our JSON) is
read as BasicSR's EDSR when its keys are EDSR's (`basicsr_edsr.py`), else goes to spandrel
(`spandrel_adapter.py`).

Format 2 (this version) changed the built-in EDSRs: `edsr-baseline` is BasicSR's EDSR exactly
(format 1 configs with `bicubic_skip: false` are the same network and still load; any other
format 1 `edsr-baseline` is refused), and `edsr-tiny` weights carry `residual_over_bicubic`
(format 1 `edsr-tiny` files, which lack it, load because their JSON says what they are).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from idc_core import __version__
from idc_core.models.base import ModelLoadError, SRModel
from idc_core.models.basicsr_edsr import edsr_from_state_dict, has_edsr_layout
from idc_core.models.edsr import BICUBIC_RESIDUAL_MARKER
from idc_core.models.registry import build_model
from idc_core.models.spandrel_adapter import (
    SpandrelSRModel,
    load_spandrel_model,
    read_state_dict,
    spandrel_model_from_state_dict,
)

CHECKPOINT_FORMAT = "idc-sr-model"
CHECKPOINT_FORMAT_VERSION = 2
FORMAT_1_EDSRS = ("edsr-baseline", "edsr-tiny")  # the built-ins whose config format 2 changed

__all__ = ["ModelLoadError", "load_model", "save_model"]


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


def _format_1_config(path: Path, arch: str, config: dict[str, Any]) -> dict[str, Any]:
    """A format 1 EDSR config as format 2 reads it; refuses what is no longer that network."""
    config = dict(config)
    bicubic_skip = config.pop("bicubic_skip", arch == "edsr-tiny")
    if arch == "edsr-tiny" and bicubic_skip and config.pop("rgb_mean", None) is None:
        return config
    if arch == "edsr-baseline" and not bicubic_skip and config.get("rgb_mean", ()) is not None:
        return config
    raise ModelLoadError(
        f"{metadata_path(path)}: a format 1 {arch} with bicubic_skip={bicubic_skip} and "
        f"rgb_mean={config.get('rgb_mean')} is neither BasicSR's EDSR (edsr-baseline: mean "
        "shift, no bicubic skip) nor edsr-tiny (bicubic skip, no mean shift); it cannot be loaded"
    )


def _check_marker(path: Path, arch: str, weights: dict[str, Any], expected: bool) -> None:
    """edsr-tiny weights hold the marker and nothing else does (edsr.py says why)."""
    if (BICUBIC_RESIDUAL_MARKER in weights) == expected:
        return
    if expected:
        raise ModelLoadError(
            f"{path}: the .json says {arch}, but the weights lack '{BICUBIC_RESIDUAL_MARKER}' "
            "that every edsr-tiny file holds: they are not edsr-tiny weights (BasicSR's EDSR?)"
        )
    raise ModelLoadError(
        f"{path}: the .json says {arch}, but the weights hold '{BICUBIC_RESIDUAL_MARKER}': "
        "they are edsr-tiny weights (bicubic skip), which BasicSR's EDSR cannot use"
    )


def _load_ours(path: Path, meta: dict[str, Any], device: str | torch.device) -> SRModel:
    arch, scale, config = meta.get("arch"), meta.get("scale"), meta.get("config")
    if not isinstance(arch, str) or not isinstance(scale, int) or not isinstance(config, dict):
        raise ModelLoadError(f"{metadata_path(path)}: needs 'arch', 'scale' and 'config'")
    if arch.startswith("spandrel:"):
        return load_spandrel_model(path, device)
    format_1 = meta.get("format_version", 1) == 1
    if format_1 and arch in FORMAT_1_EDSRS:
        config = _format_1_config(path, arch, config)
    model = build_model(arch, scale, **config)
    weights = load_file(str(path), device="cpu")
    has_marker = BICUBIC_RESIDUAL_MARKER in model.state_dict()
    if format_1 and has_marker:
        weights.setdefault(BICUBIC_RESIDUAL_MARKER, torch.ones(()))
    _check_marker(path, arch, weights, has_marker)
    try:
        model.load_state_dict(weights)
    except RuntimeError as error:
        raise ModelLoadError(f"{path}: weights do not fit {arch} x{scale}: {error}") from error
    return model.to(device).eval()


def _load_foreign(path: Path, device: str | torch.device) -> SRModel:
    """A checkpoint without our JSON: BasicSR's EDSR by its keys, else whatever spandrel reads."""
    state_dict = read_state_dict(path)
    if has_edsr_layout(state_dict):
        return edsr_from_state_dict(state_dict, path).to(device).eval()
    return spandrel_model_from_state_dict(state_dict, path, device)


def load_model(path: str | Path, device: str | torch.device = "cpu") -> SRModel:
    """Load a model for inference (eval mode) on `device`; raises ModelLoadError with the reason."""
    path = Path(path)
    if not path.is_file():
        raise ModelLoadError(f"{path}: no such model file")
    meta = _read_metadata(path)
    try:
        if meta is not None:
            return _load_ours(path, meta, device)
        return _load_foreign(path, device)
    except ModelLoadError:
        raise
    except Exception as error:
        # spandrel raises ValueError (extension) and UnsupportedModelError; torch.load and
        # safetensors raise many error types for damaged files. All mean "cannot load this".
        raise ModelLoadError(
            f"{path}: cannot load model ({type(error).__name__}: {error})"
        ) from error
