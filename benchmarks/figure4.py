"""Figure 4 of the paper: what the synthetic LR patches of v1..v4 and full IDC look like.

For each of two images, one block of rows: real LR patches of the image, the starting point (the
synthetic patches at step 0), then the patches condensed by v1, v2, v3, v4 and full IDC (presets
of idc_core.method.settings; the same `overrides` for all). Every row shows the same synthetic
patch slots; the real row shows evenly spaced real patches of the image. Patches are enlarged
with nearest-neighbour so that single pixels stay visible. Each image uses the seed the pipeline
gives it (`instance_seed(seed, name)`), so the IDC row shows the patches of a condensed set made
with the same job seed and settings.

The starting point drawn is that of full IDC (and v2..v4, whose start is the same); v1 has no
local features, draws no Fourier channels, and so starts from other random draws.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont
from torch import nn

from idc_core.api import PatchSettings, build_settings, condense_instance, load_model
from idc_core.data.patches import Instance, load_instance
from idc_core.method.condense import frozen, synthetic_count
from idc_core.method.instance_state import InstanceState
from idc_core.method.settings import IDCSettings
from idc_core.seeding import instance_seed

VARIANT_ROWS = ("v1", "v2", "v3", "v4")
ROW_LABELS = ("real", "start (step 0)", *VARIANT_ROWS, "IDC")
SLOTS = 6
CELL = 96  # target side of one enlarged LR patch, in pixels
PAD = 2
GAP = 16
LABEL_WIDTH = 130
HEADER = 26


def zoom_for(lr_side: int) -> int:
    """Integer nearest-neighbour factor that makes an LR patch about CELL pixels wide."""
    return max(1, CELL // lr_side)


def figure_size(n_images: int, slots: int, rows: int, lr_side: int) -> tuple[int, int]:
    """(width, height) in pixels of a figure of n_images blocks of rows x slots patches."""
    cell = lr_side * zoom_for(lr_side)
    width = LABEL_WIDTH + n_images * slots * (cell + PAD) + (n_images - 1) * GAP
    return width, HEADER + rows * (cell + PAD)


def spread(count: int, total: int) -> np.ndarray:
    """`count` (or fewer, when total is smaller) distinct evenly spaced indices in [0, total)."""
    return np.unique(np.linspace(0, total - 1, min(count, total)).round().astype(int))


def _to_hwc(patches: torch.Tensor | np.ndarray) -> np.ndarray:
    """float N x 3 x h x w in [0, 1] -> float N x h x w x 3."""
    array = patches.detach().cpu().numpy() if isinstance(patches, torch.Tensor) else patches
    return array.transpose(0, 2, 3, 1)


def starting_point(
    instance: Instance,
    teacher: nn.Module,
    n: int,
    settings: IDCSettings,
    seed: int,
    device: str,
) -> np.ndarray:
    """The synthetic patches before step 1 (N x h x w x 3), as condense_instance would start."""
    with frozen(teacher.to(device)):
        state = InstanceState(instance, n, teacher, settings, seed, torch.device(device))
    return _to_hwc(state.syn)


def figure_rows(
    instance: Instance,
    teacher: nn.Module,
    ratio: float,
    overrides: dict,
    seed: int,
    device: str,
    idc_preset: str = "cpu",
    slots: int = SLOTS,
) -> tuple[list[np.ndarray], dict[str, dict]]:
    """The rows of one image (each slots x h x w x 3, in ROW_LABELS order) and each condensed
    row's diagnostics."""
    n = synthetic_count(len(instance), ratio)
    shown = spread(slots, n)
    real = instance.lr[spread(slots, len(instance))].astype(np.float32) / 255
    start = starting_point(
        instance, teacher, n, build_settings(idc_preset, overrides), seed, device
    )
    rows, diagnostics = [real, start[shown]], {}
    for label, preset in [*zip(VARIANT_ROWS, VARIANT_ROWS, strict=True), ("IDC", idc_preset)]:
        settings = build_settings(preset, overrides)
        result = condense_instance(instance, teacher, ratio, settings, seed, device)
        rows.append(_to_hwc(result.lr)[shown])
        diagnostics[label] = result.stats.get("diagnostics", {})
    return rows, diagnostics


def compose(blocks: Sequence[tuple[str, list[np.ndarray]]], slots: int) -> Image.Image:
    """One labelled picture of the blocks (image name, rows) side by side, on white."""
    lr_side = blocks[0][1][0].shape[1]
    zoom = zoom_for(lr_side)
    cell = lr_side * zoom
    canvas = Image.new("RGB", figure_size(len(blocks), slots, len(ROW_LABELS), lr_side), "white")
    draw = ImageDraw.Draw(canvas)
    font = ImageFont.load_default(size=15)
    for r, label in enumerate(ROW_LABELS):
        draw.text((6, HEADER + r * (cell + PAD) + cell // 2 - 8), label, fill="black", font=font)
    for b, (name, rows) in enumerate(blocks):
        left = LABEL_WIDTH + b * (slots * (cell + PAD) + GAP)
        draw.text((left, 4), name, fill="black", font=font)
        for r, patches in enumerate(rows):
            for s, patch in enumerate(patches):
                pixels = np.clip(np.rint(patch * 255), 0, 255).astype(np.uint8)
                enlarged = pixels.repeat(zoom, axis=0).repeat(zoom, axis=1)
                canvas.paste(
                    Image.fromarray(enlarged), (left + s * (cell + PAD), HEADER + r * (cell + PAD))
                )
    return canvas


def write_figure4(
    path: str | Path,
    image_paths: Sequence[str | Path],
    teacher: nn.Module | str | Path,
    patch: PatchSettings,
    ratio: float,
    overrides: dict,
    seed: int,
    device: str,
    idc_preset: str = "cpu",
    slots: int = SLOTS,
) -> dict[str, dict[str, dict]]:
    """Write Figure 4 for the first two images as a PNG at `path`; returns image name -> row ->
    that row's diagnostics (idc_core.method.diagnostics) for a caption or a log."""
    model = teacher if isinstance(teacher, nn.Module) else load_model(teacher, device=device)
    blocks, diagnostics = [], {}
    for image_path in list(image_paths)[:2]:
        instance = load_instance(image_path, patch)
        rows, diagnostics[instance.name] = figure_rows(
            instance,
            model,
            ratio,
            overrides,
            instance_seed(seed, instance.name),
            device,
            idc_preset,
            slots,
        )
        blocks.append((instance.name, rows))
    # Fewer real or synthetic patches than slots: every row is cut to the shortest.
    width = min(len(row) for _, block in blocks for row in block)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    compose([(name, [r[:width] for r in rows]) for name, rows in blocks], width).save(path)
    return diagnostics
