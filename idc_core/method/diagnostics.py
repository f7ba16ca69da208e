"""What a reader of a condensed set needs to judge it: measured on each instance after IDC.

Per instance, at the end of `condense.condense_group` (switch: `IDCSettings.diagnostics`):
- texture: the mean |Sobel| of the synthetic LR patches against the instance's real LR patches
  (DCSR's texture complexity, `baselines.dcsr.texture_complexity`), their ratio, and the pixel
  standard deviation of each set: whether synthesis smoothed or noised the patches;
- local NCFD on fresh frequencies: the instance-level NCFD between the real local features and
  those of the synthetic patches (the loss's own feature map, samples and NCFD formula) at
  frequencies drawn by a generator that the optimisation never saw, next to the same quantity
  for random subsets of n real patches: whether synthesis beat a random selection on its own
  objective, measured where it was not fitted;
- nearest-real PSNR: each synthetic LR patch's PSNR to its nearest real LR patch of the instance
  (min / median / max over patches); 40 dB or more is a near copy of a real patch (what a
  privacy review asks first). Capped at `PSNR_CAP_DB` (an exact copy), so that JSON stays finite.

`summarize` reduces the per-instance dictionaries to the dataset-level figures of the manifest.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from idc_core.baselines.dcsr import texture_complexity
from idc_core.method.instance_state import InstanceState, patches_to_tensor, teacher_autocast
from idc_core.method.ncfd import (
    characteristic_discrepancy,
    draw_frequencies,
    segment_characteristic_sums,
)

PSNR_CAP_DB = 100.0
NEAR_COPY_DB = 40.0
# Added to the instance seed for the diagnostic generator; the optimisation uses seed and seed + 1.
FRESH_SEED_OFFSET = 1_000_003
DIAGNOSTIC_FREQS = 256
RANDOM_DRAWS = 32


def nearest_real_psnr(syn: Tensor, real: Tensor) -> Tensor:
    """PSNR (dB, peak 1) of each synthetic patch to its nearest real patch, both N x ... in [0, 1].

    Differences are taken directly (no |a|^2 + |b|^2 - 2ab), so an exact copy has an MSE of 0
    and gets `PSNR_CAP_DB`.
    """
    real_flat = real.flatten(1).double()
    mse = torch.stack(
        [(row.double() - real_flat).square().mean(dim=1).min() for row in syn.flatten(1)]
    )
    return (-10 * torch.log10(mse.clamp_min(10 ** (-PSNR_CAP_DB / 10)))).float()


def texture_stats(syn: np.ndarray, real: np.ndarray) -> dict[str, float | None]:
    """Mean |Sobel| and pixel sd of synthetic vs real LR patches (float N x h x w x 3 in [0, 1])."""
    syn_texture = float(texture_complexity(syn).mean())
    real_texture = float(texture_complexity(real).mean())
    return {
        "texture_synthetic": syn_texture,
        "texture_real": real_texture,
        "texture_ratio": syn_texture / real_texture if real_texture > 0 else None,
        "pixel_sd_synthetic": float(syn.std()),
        "pixel_sd_real": float(real.std()),
    }


def _per_patch_sums(
    samples: Tensor, samples_per_patch: int, freqs: Tensor, chunk: int
) -> tuple[Tensor, Tensor]:
    """Sums of cos and sin of <t, f/|f|> over each patch's rows: two n_patches x F tensors.

    The same quantity as `ncfd.segment_characteristic_sums` with one segment per patch, by a
    reshape instead of its one-hot product (which costs n_patches times more here).
    """
    unit = F.normalize(samples.float(), dim=1)
    cos_sums, sin_sums = [], []
    for start in range(0, freqs.shape[1], chunk):
        phase = unit @ freqs[:, start : start + chunk]
        phase = phase.reshape(-1, samples_per_patch, phase.shape[1])
        cos_sums.append(torch.cos(phase).sum(1))
        sin_sums.append(torch.sin(phase).sum(1))
    return torch.cat(cos_sums, dim=1), torch.cat(sin_sums, dim=1)


def local_ncfd(
    real_samples: Tensor,
    samples_per_patch: int,
    syn_samples: Tensor,
    n_syn_patches: int,
    generator: torch.Generator,
    num_freqs: int,
    alpha: float,
    scale: float,
    chunk: int,
    draws: int = RANDOM_DRAWS,
) -> dict[str, float]:
    """Instance NCFD of the synthetic samples and of `draws` random sets of real patches.

    `real_samples` holds the real LR patches' samples in patch order, `samples_per_patch` rows
    each; a random reference set is `n_syn_patches` distinct real patches. All sets are measured
    at the same fresh frequencies (the first draw of `generator`), so the comparison is paired;
    the synthetic value is `ncfd.ncfd(real_samples, syn_samples, ...)` at those frequencies.
    """
    n_real = len(real_samples) // samples_per_patch
    freqs = draw_frequencies(real_samples.shape[1], num_freqs, generator).to(real_samples.device)
    with torch.no_grad():
        # Sums per real LR patch: the whole set and every random subset are sums of these rows.
        per_patch = _per_patch_sums(real_samples, samples_per_patch, freqs, min(chunk, num_freqs))
        zero = torch.zeros(len(syn_samples), dtype=torch.long, device=syn_samples.device)
        syn_cos, syn_sin = segment_characteristic_sums(syn_samples, freqs, zero, 1, chunk)
    real_cos, real_sin = (sums.sum(0) / len(real_samples) for sums in per_patch)
    n_pick = min(n_syn_patches, n_real)
    picks = torch.stack(
        [torch.randperm(n_real, generator=generator, device=generator.device)[:n_pick]
         for _ in range(draws)]
    ).to(real_samples.device)  # fmt: skip
    count = n_pick * samples_per_patch
    ref_cos, ref_sin = (sums[picks].sum(1) / count for sums in per_patch)
    synthetic = characteristic_discrepancy(
        real_cos, real_sin, syn_cos[0] / len(syn_samples), syn_sin[0] / len(syn_samples),
        alpha, scale,
    )  # fmt: skip
    reference = characteristic_discrepancy(real_cos, real_sin, ref_cos, ref_sin, alpha, scale)
    return {
        "local_ncfd_synthetic": float(synthetic),
        "local_ncfd_random_real": float(reference.mean()),
        "local_ncfd_random_real_sd": float(reference.std()),
        "share_of_random_sets_beaten": float((reference > synthetic).float().mean()),
    }


def instance_diagnostics(state: InstanceState, teacher: nn.Module, seed: int) -> dict:
    """The diagnostics of one condensed instance (see the module docstring); teacher frozen."""
    started = time.perf_counter()
    settings, real = state.settings, state.real
    syn = state.syn.detach()
    device = syn.device
    real_lr = patches_to_tensor(state.instance.lr, device)
    psnr = nearest_real_psnr(syn, real_lr).cpu().numpy()
    texture = texture_stats(
        syn.permute(0, 2, 3, 1).cpu().numpy(), real_lr.permute(0, 2, 3, 1).cpu().numpy()
    )
    with torch.no_grad(), teacher_autocast(device, settings.bf16):
        syn_maps = teacher.extract_features(syn)
    syn_patches = state.feature_map.feature_patches(syn_maps.float())
    generator = torch.Generator(device=device).manual_seed(seed + FRESH_SEED_OFFSET)
    feature_patches_per_lr = len(real.patches) // state.n_real
    ncfd = local_ncfd(
        real.patches.reshape(-1, real.dim),
        feature_patches_per_lr * real.per_patch,
        syn_patches.reshape(-1, real.dim),
        state.n,
        generator,
        DIAGNOSTIC_FREQS,
        settings.alpha,
        settings.ncfd_scale,
        settings.freq_chunk,
    )
    return {
        **texture,
        **ncfd,
        "nearest_real_psnr_min": float(psnr.min()),
        "nearest_real_psnr_median": float(np.median(psnr)),
        "nearest_real_psnr_max": float(psnr.max()),
        "near_copies": int((psnr >= NEAR_COPY_DB).sum()),
        "diagnostics_s": time.perf_counter() - started,
    }


def _mean(values: Sequence[float | None]) -> float | None:
    present = [v for v in values if v is not None and math.isfinite(v)]
    return sum(present) / len(present) if present else None


def summarize(named: dict[str, dict]) -> dict | None:
    """Dataset-level figures from instance name -> diagnostics: means, and the worst copy."""
    if not named:
        return None
    rows = list(named.values())
    means = {
        key: _mean([row[key] for row in rows])
        for key in (
            "texture_ratio",
            "pixel_sd_synthetic",
            "pixel_sd_real",
            "local_ncfd_synthetic",
            "local_ncfd_random_real",
            "share_of_random_sets_beaten",
            "nearest_real_psnr_median",
        )
    }
    worst = max(named, key=lambda name: named[name]["nearest_real_psnr_max"])
    return {
        "instances": len(rows),
        "mean": means,
        "worst_nearest_real_psnr": named[worst]["nearest_real_psnr_max"],
        "worst_nearest_real_psnr_instance": worst,
        "near_copies": sum(row["near_copies"] for row in rows),
    }
