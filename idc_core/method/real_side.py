"""The real instance's side of the matching: computed once, then read at every step.

`RealSide` holds the real local feature patches, their K-means groups, and supplies at each step
the frequencies and the real per-group characteristic sums that the synthetic side is matched to:
- `freq_bank == 0` (NCFD as published): fresh t ~ N(0, I) every step, and the real sums come from
  a group-stratified subsample of at most `real_subsample` real samples;
- `freq_bank > 0`: each step's frequencies are drawn from a fixed bank of `freq_bank`
  frequencies, whose real sums over ALL real samples were computed once. Per step this costs
  nothing on the real side and has no subsampling noise; the frequencies are still a fresh
  random choice at every step, but from a finite (large) set.

With `patch_weights` (`real_weighting=texture`), every real sample counts with its patch's
weight in the characteristic sums and counts, and `group_mass` (the weighted group sizes) sets
the synthetic group quotas; the subsampling and the reported `group_sizes` stay counts.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from idc_core.method.grouping import RealGroups, kmeans_groups, proportional_quotas
from idc_core.method.ncfd import draw_frequencies, segment_characteristic_sums
from idc_core.method.settings import IDCSettings


@dataclass
class RealCharacteristic:
    """One step's frequencies (D x F) and the real sums of cos / sin per group (G x F), with
    the number of real samples behind each group's sums (G). G = 1 without groups. The bank is
    one too, over all its `freq_bank` frequencies."""

    freqs: Tensor
    cos_sums: Tensor
    sin_sums: Tensor
    counts: Tensor


class RealSide:
    """Real feature patches (N' x P x C), their groups, and the per-step real characteristic."""

    def __init__(
        self,
        patches: Tensor,
        settings: IDCSettings,
        seed: int,
        freq_generator: torch.Generator,
        patch_weights: Tensor | None = None,
    ) -> None:
        self.patches = patches
        self.patch_weights = patch_weights
        self.settings = settings
        self.per_patch = patches.shape[1] if settings.use_unfolding else 1
        self.dim = (
            patches.shape[2] if settings.use_unfolding else patches.shape[1] * patches.shape[2]
        )
        # Unit of the pair L1: 1 (Eq. 8 on raw features) or the mean |real feature| of the instance.
        self.pair_unit = float(patches.abs().mean()) if settings.pair_scale == "relative" else 1.0
        self.labels: Tensor | None = None
        self.centroids: Tensor | None = None
        self.group_sizes: np.ndarray | None = None
        self.group_mass: np.ndarray | None = None
        self.groups: RealGroups | None = None
        if settings.use_group:
            self.labels, self.centroids = kmeans_groups(
                patches.flatten(1), settings.n_groups, seed, settings.kmeans_n_init
            )
            labels = self.labels.cpu().numpy()
            self.group_sizes = np.bincount(labels, minlength=self.n_groups)
            self.group_mass = (
                self.group_sizes
                if patch_weights is None
                else np.bincount(labels, patch_weights.cpu().numpy(), minlength=self.n_groups)
            )
            self.groups = RealGroups.build(patches.flatten(1), self.labels, self.n_groups)
            self._labels_cpu = self.labels.cpu()
        self._bank = self._build_bank(freq_generator) if settings.freq_bank else None

    @property
    def n_groups(self) -> int:
        return 0 if self.centroids is None else len(self.centroids)

    def _samples_and_segments(self, rows: Tensor) -> tuple[Tensor, Tensor, int, Tensor | None]:
        """Unfolded (or flattened) samples of the given feature patches, their group ids and
        their weights (None when uniform)."""
        samples = self.patches[rows].reshape(-1, self.dim)
        weights = (
            None
            if self.patch_weights is None
            else self.patch_weights[rows].repeat_interleave(self.per_patch)
        )
        if self.labels is None:
            segments = torch.zeros(len(samples), dtype=torch.long, device=samples.device)
            return samples, segments, 1, weights
        segments = self.labels[rows].repeat_interleave(self.per_patch)
        return samples, segments, self.n_groups, weights

    def _characteristic_of(self, rows: Tensor, freqs: Tensor) -> RealCharacteristic:
        """The real sums per group of the given feature patches' samples at `freqs`, and the
        (weighted) number of samples behind them."""
        samples, segments, n_segments, weights = self._samples_and_segments(rows)
        with torch.no_grad():
            cos_sums, sin_sums = segment_characteristic_sums(
                samples,
                freqs,
                segments,
                n_segments,
                self.settings.freq_chunk,
                features_mode=self.settings.ncfd_features,
                weights=weights,
            )
        counts = torch.bincount(segments, weights, minlength=n_segments).float()
        return RealCharacteristic(freqs, cos_sums, sin_sums, counts)

    def _build_bank(self, generator: torch.Generator) -> RealCharacteristic:
        freqs = draw_frequencies(self.dim, self.settings.freq_bank, generator)
        all_rows = torch.arange(len(self.patches), device=self.patches.device)
        return self._characteristic_of(all_rows, freqs.to(self.patches.device))

    def _subsample(self, budget: int, generator: torch.Generator) -> Tensor:
        """At most ~`budget` real feature patches, stratified by group when grouped."""
        n_patches = len(self.patches)
        if budget >= n_patches:
            return torch.arange(n_patches)
        order = torch.randperm(n_patches, generator=generator)
        if self.labels is None:
            return order[:budget]
        quotas = np.maximum(proportional_quotas(self.group_sizes, budget), self.group_sizes > 0)
        shuffled = self._labels_cpu[order]
        return torch.cat([order[shuffled == g][: int(q)] for g, q in enumerate(quotas)])

    def characteristic(
        self, freq_generator: torch.Generator, sample_generator: torch.Generator
    ) -> RealCharacteristic:
        """This step's frequencies and real sums (see the module docstring for the two modes)."""
        settings = self.settings
        if self._bank is not None:
            pick = torch.randperm(settings.freq_bank, generator=sample_generator)
            pick = pick[: settings.num_freqs].to(self.patches.device)
            bank = self._bank
            return RealCharacteristic(
                bank.freqs[:, pick], bank.cos_sums[:, pick], bank.sin_sums[:, pick], bank.counts
            )
        budget = max(1, settings.real_subsample // self.per_patch)
        rows = self._subsample(budget, sample_generator).to(self.patches.device)
        freqs = draw_frequencies(self.dim, settings.num_freqs, freq_generator)
        return self._characteristic_of(rows, freqs.to(self.patches.device))
