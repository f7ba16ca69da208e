"""BasicSR's EDSR checkpoints (`net_g_*.pth` with `params`/`params_ema`) read as `edsr-baseline`.

The state dict gives the channels, the number of blocks and the scale. Two settings are not in
it: `res_scale`, taken from BasicSR's option files (EDSR_Mx*: 64 channels, 1.0; EDSR_Lx*: 256
channels, 0.1), and `img_range` / `rgb_mean`, left at BasicSR's defaults (255, DIV2K's mean),
which all of its EDSR options use. Weights of our `edsr-tiny` have the same keys plus a marker
(`edsr.BICUBIC_RESIDUAL_MARKER`) and are refused here: they compute something else.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from idc_core.models.base import ModelLoadError
from idc_core.models.edsr import BICUBIC_RESIDUAL_MARKER, EDSR

_EDSR_KEY = re.compile(
    r"(conv_first|body\.\d+\.conv[12]|conv_after_body|upsample\.\d+|conv_last)\.(weight|bias)"
)
_REQUIRED = ("conv_first.weight", "conv_after_body.weight", "upsample.0.weight", "conv_last.weight")
LARGE_EDSR_CHANNELS = 256  # EDSR-L (BasicSR's EDSR_Lx*), trained with res_scale 0.1


def has_edsr_layout(state_dict: Mapping[str, Any]) -> bool:
    """Every key is one of BasicSR's EDSR (ours, marker aside) and the main ones are there."""
    keys = set(state_dict) - {BICUBIC_RESIDUAL_MARKER}
    return all(k in keys for k in _REQUIRED) and all(_EDSR_KEY.fullmatch(k) for k in keys)


def _scale(state_dict: Mapping[str, Any], num_feat: int) -> int:
    convs = sorted(
        int(k.split(".")[1]) for k in state_dict if re.fullmatch(r"upsample\.\d+\.weight", k)
    )
    ratios = {int(state_dict[f"upsample.{i}.weight"].shape[0]) // num_feat for i in convs}
    if ratios == {9} and len(convs) == 1:
        return 3
    if ratios == {4}:
        return 2 ** len(convs)
    raise ModelLoadError(f"EDSR up-sampler with convolutions {convs} matches no scale of 2^n or 3")


def edsr_from_state_dict(state_dict: Mapping[str, Any], path: str | Path) -> EDSR:
    """BasicSR's EDSR with these weights (strict: every key used, every shape equal)."""
    if BICUBIC_RESIDUAL_MARKER in state_dict:
        raise ModelLoadError(
            f"{path}: these are idc edsr-tiny weights (they hold '{BICUBIC_RESIDUAL_MARKER}': the "
            "network adds a bicubic up-sampling and has no mean shift), not BasicSR's EDSR; load "
            "them with the .json that save_model wrote beside them"
        )
    num_feat = int(state_dict["conv_first.weight"].shape[0])
    num_block = len({k.split(".")[1] for k in state_dict if k.startswith("body.")})
    scale = _scale(state_dict, num_feat)
    res_scale = 0.1 if num_feat >= LARGE_EDSR_CHANNELS else 1.0
    model = EDSR(
        scale, "edsr-baseline", num_feat=num_feat, num_block=num_block, res_scale=res_scale
    )
    try:
        model.load_state_dict({k: torch.as_tensor(v) for k, v in state_dict.items()})
    except RuntimeError as error:
        raise ModelLoadError(f"{path}: BasicSR EDSR weights that do not fit: {error}") from error
    return model
