"""The few lines `idc condense` prints about a finished IDC set: what its diagnostics say."""

from __future__ import annotations

from typing import Any

from idc_core.cli.common import console
from idc_core.method.diagnostics import NEAR_COPY_DB


def diagnostics_lines(manifest: dict[str, Any]) -> list[str]:
    """Human-readable lines from a manifest's dataset-level diagnostics; none when it has none."""
    summary = manifest.get("diagnostics")
    if not summary:
        return []
    mean = summary["mean"]
    losses = [i["final_losses"]["total"] for i in manifest["instances"] if i.get("final_losses")]
    lines = [f"diagnostics over {summary['instances']} images (means):"]
    if losses:
        lines.append(f"  final loss {sum(losses) / len(losses):.3f}")
    if mean["texture_ratio"] is not None:
        lines.append(
            f"  texture (mean |Sobel|) synthetic / real {mean['texture_ratio']:.2f}; pixel sd "
            f"{mean['pixel_sd_synthetic']:.3f} synthetic, {mean['pixel_sd_real']:.3f} real"
        )
    lines.append(
        f"  local NCFD at fresh frequencies {mean['local_ncfd_synthetic']:.2f} synthetic, "
        f"{mean['local_ncfd_random_real']:.2f} random real patches "
        f"(beats {mean['share_of_random_sets_beaten']:.0%} of random sets)"
    )
    lines.append(
        f"  nearest real LR patch: median PSNR {mean['nearest_real_psnr_median']:.1f} dB, "
        f"highest {summary['worst_nearest_real_psnr']:.1f} dB "
        f"({summary['worst_nearest_real_psnr_instance']}); "
        f"{summary['near_copies']} patches at {NEAR_COPY_DB:.0f} dB or more (near copies)"
    )
    return lines


def print_diagnostics(manifest: dict[str, Any]) -> None:
    """Print `diagnostics_lines(manifest)` to the console."""
    for line in diagnostics_lines(manifest):
        console.print(line, highlight=False)
