"""One instance's side of Algorithm 1: everything it owns while it is being condensed.

An `InstanceState` holds the instance's cached real features (`RealSide`: K-means groups and the
frequency bank), its local-feature map (normalisation and sampled Fourier filters), its synthetic
LR pixels (`syn`: the optimised leaf `params` itself, or the start plus `params` as a coarse
residual when `residual_grid` > 1), its two random generators, its assignment schedule and its
current group labels and pairs. Given the teacher's feature maps of its own synthetic patches,
it returns its weighted loss for the step. The optimisation loop (`condense.condense_group`) only
runs the teacher once over the synthetic patches of all instances of a group and sums their
losses for one backward pass: since each loss depends only on its own instance's pixels, every
instance gets the gradient it would get alone.

On CUDA the teacher runs under bf16 autocast; the local features and the characteristic functions
are always computed in float32 (cos and sin of large phases are meaningless in bf16).
"""

from __future__ import annotations

import math
import time
from contextlib import AbstractContextManager, nullcontext

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from idc_core.baselines.dcsr import texture_complexity
from idc_core.baselines.kcenter import select_kcenter
from idc_core.data.patches import Instance
from idc_core.method.grouping import (
    UNASSIGNED,
    assign_with_quotas,
    assignment_schedule,
    nearest_real,
    pair_loss,
    proportional_quotas,
)
from idc_core.method.ncfd import characteristic_discrepancy, segment_characteristic_sums
from idc_core.method.real_side import RealSide
from idc_core.method.rlff import LocalFeatureMap, build_local_feature_map
from idc_core.method.settings import IDCSettings


def teacher_autocast(device: torch.device, bf16: bool) -> AbstractContextManager:
    """bf16 autocast on CUDA when asked; nothing on the CPU. Wrap teacher calls only."""
    if device.type == "cuda" and bf16:
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return nullcontext()


def patches_to_tensor(patches: np.ndarray, device: torch.device) -> Tensor:
    """uint8 N x h x w x 3 -> float32 N x 3 x h x w in [0, 1]."""
    tensor = torch.from_numpy(np.ascontiguousarray(patches)).to(device)
    return tensor.permute(0, 3, 1, 2).float().div_(255.0)


def patches_to_uint8(batch: np.ndarray) -> np.ndarray:
    """float N x 3 x H x W in [0, 1] -> uint8 N x H x W x 3 (rounded): the inverse of the above."""
    return np.clip(np.rint(batch * 255.0), 0, 255).astype(np.uint8).transpose(0, 2, 3, 1)


def _teacher_features(
    teacher: nn.Module, lr: Tensor, settings: IDCSettings, device: torch.device
) -> Tensor:
    with torch.no_grad(), teacher_autocast(device, settings.bf16):
        maps = [
            teacher.extract_features(lr[i : i + settings.feature_batch]).float()
            for i in range(0, len(lr), settings.feature_batch)
        ]
    return torch.cat(maps)


def _patch_weights(instance: Instance, device: torch.device) -> Tensor:
    """`real_weighting=texture`: each real LR patch's HR texture complexity, mean 1 (a flat patch
    weighs little, an edge or texture much); a floor keeps every patch in the distribution."""
    complexity = texture_complexity(instance.hr)
    weights = np.maximum(complexity, 1e-3 * max(complexity.mean(), 1e-12))
    return torch.from_numpy(weights / weights.mean()).float().to(device)


def _init_synthetic(
    instance: Instance,
    n: int,
    settings: IDCSettings,
    generator: torch.Generator,
    pooled_features: np.ndarray | None = None,
) -> tuple[Tensor, np.ndarray | None]:
    """Random distinct real LR patches plus a little noise, or uniform noise (on the CPU); with the
    index of each synthetic patch's source real patch (None from noise).

    With init 'textured' the patches are drawn among those whose HR texture complexity is above
    the median (all of them when fewer than n are), so that flat patches do not take the budget.
    """
    shape = (n, 3, *instance.lr.shape[1:3])
    if settings.init == "noise":
        return torch.rand(shape, generator=generator), None
    candidates = np.arange(len(instance.lr))
    if settings.init == "textured":
        complexity = texture_complexity(instance.hr)
        textured = np.flatnonzero(complexity > np.median(complexity))
        if len(textured) >= n:
            candidates = textured
    if settings.init == "kcenter":
        if pooled_features is None:
            raise ValueError("init 'kcenter' needs the teacher's pooled features of the instance")
        seed = int(torch.randint(2**31 - 1, (1,), generator=generator))
        picks = select_kcenter(pooled_features, n, seed)
    else:
        order = torch.randperm(len(candidates), generator=generator)[:n].numpy()
        picks = candidates[order]
    sources = np.sort(picks)
    start = patches_to_tensor(instance.lr[sources], torch.device("cpu"))
    noise = torch.randn(shape, generator=generator) * settings.init_noise
    return (start + noise).clamp_(0, 1), sources


def _step_losses(
    syn_pixels: Tensor,
    syn_patches: Tensor,
    syn_labels: Tensor | None,
    nearest: Tensor | None,
    real: RealSide,
    settings: IDCSettings,
    freq_generator: torch.Generator,
    sample_generator: torch.Generator,
) -> dict[str, Tensor]:
    """The losses of one step. Instance and group NCFDs share one draw of frequencies."""
    n_groups = real.n_groups
    grouped = syn_labels is not None
    target = real.characteristic(freq_generator, sample_generator)
    if grouped:
        # Unassigned synthetic patches form segment M: they count for the instance loss only.
        syn_segments = torch.where(syn_labels == UNASSIGNED, n_groups, syn_labels)
    else:
        syn_segments = torch.zeros(len(syn_patches), dtype=torch.long, device=syn_patches.device)
    syn_segments = syn_segments.repeat_interleave(real.per_patch)
    n_syn_segments = n_groups + 1 if grouped else 1
    syn_cos, syn_sin = segment_characteristic_sums(
        syn_patches.reshape(-1, real.dim),
        target.freqs,
        syn_segments,
        n_syn_segments,
        settings.freq_chunk,
        features_mode=settings.ncfd_features,
    )

    def discrepancy(
        r_cos: Tensor,
        r_sin: Tensor,
        r_count: Tensor,
        s_cos: Tensor,
        s_sin: Tensor,
        s_count: Tensor | int,
    ) -> Tensor:
        return characteristic_discrepancy(
            r_cos / r_count,
            r_sin / r_count,
            s_cos / s_count,
            s_sin / s_count,
            settings.alpha,
            settings.ncfd_scale,
        )

    losses: dict[str, Tensor] = {}
    if settings.use_instance:
        losses["instance"] = discrepancy(
            target.cos_sums.sum(0),
            target.sin_sums.sum(0),
            target.counts.sum(),
            syn_cos.sum(0),
            syn_sin.sum(0),
            len(syn_segments),
        )
    if grouped and settings.use_group:
        real_counts = target.counts[:, None]
        syn_counts = torch.bincount(syn_segments, minlength=n_groups + 1)[:n_groups, None].float()
        live = ((real_counts > 0) & (syn_counts > 0)).flatten()
        per_group = discrepancy(
            target.cos_sums[live],
            target.sin_sums[live],
            real_counts[live],
            syn_cos[:n_groups][live],
            syn_sin[:n_groups][live],
            syn_counts[live],
        )
        losses["group"] = per_group.sum() if settings.group_reduction == "sum" else per_group.mean()
    if grouped and settings.use_pair:
        losses["pair"] = (
            pair_loss(
                syn_patches.flatten(1), syn_labels, real.patches.flatten(1), nearest, n_groups
            )
            / real.pair_unit
        )
    if settings.tv_weight > 0:
        losses["tv"] = total_variation(syn_pixels)
    return losses


def total_variation(images: Tensor) -> Tensor:
    """Mean absolute difference of neighbouring pixels (anisotropic TV), per pixel."""
    return (images[..., 1:, :] - images[..., :-1, :]).abs().mean() + (
        images[..., :, 1:] - images[..., :, :-1]
    ).abs().mean()


class InstanceState:
    """The real side, synthetic pixels, generators and schedule of one instance (see module doc).

    Built inside the caller's `frozen(teacher)` block: the real features come from the teacher.
    The generators are seeded from `seed` alone, so an instance's start, frequency draws and
    subsamples do not depend on which instances it is condensed with.
    """

    def __init__(
        self,
        instance: Instance,
        n: int,
        teacher: nn.Module,
        settings: IDCSettings,
        seed: int,
        device: torch.device,
    ) -> None:
        self.instance = instance
        self.settings = settings
        self.n_real = len(instance.lr)
        self.n = n
        self.sample_generator = torch.Generator().manual_seed(seed)
        self.freq_generator = torch.Generator(device=device).manual_seed(seed + 1)
        self.timings: dict[str, float] = {}

        started = time.perf_counter()
        real_maps = _teacher_features(
            teacher, patches_to_tensor(instance.lr, device), settings, device
        )
        self.feature_map: LocalFeatureMap = build_local_feature_map(
            real_maps,
            settings.k,
            settings.p,
            settings.c_out,
            settings.use_local_features,
            self.sample_generator,
            settings.bn_eps,
        )
        with torch.no_grad():
            real_patches = torch.cat(
                [
                    self.feature_map.feature_patches(real_maps[i : i + settings.feature_batch])
                    for i in range(0, self.n_real, settings.feature_batch)
                ]
            )
        pooled = real_maps.mean(dim=(2, 3)).cpu().numpy() if settings.init == "kcenter" else None
        del real_maps
        self.timings["real_features_s"] = time.perf_counter() - started

        # Feature patches per LR patch; each synthetic and real feature patch's LR patch.
        per_lr = len(real_patches) // self.n_real
        started = time.perf_counter()
        self.real = RealSide(
            real_patches,
            settings,
            seed,
            self.freq_generator,
            _patch_weights(instance, device).repeat_interleave(per_lr)
            if settings.real_weighting == "texture"
            else None,
        )
        self.timings["groups_and_bank_s"] = time.perf_counter() - started

        start, sources = _init_synthetic(instance, n, settings, self.sample_generator, pooled)
        self.start = start.to(device)
        # The optimised tensor: the pixels themselves, or a coarse residual over the start.
        if settings.residual_grid == 1:
            self.params = self.start.clone().requires_grad_()
        else:
            coarse = [math.ceil(side / settings.residual_grid) for side in start.shape[2:]]
            self.params = torch.zeros(
                (*start.shape[:2], *coarse), device=device, requires_grad=True
            )
        self.real_owner = torch.arange(self.n_real, device=device).repeat_interleave(per_lr)
        self.excluded_owner = (
            torch.from_numpy(sources).to(device).repeat_interleave(per_lr)
            if sources is not None and settings.pair_exclude_source
            else None
        )
        iterations = settings.iterations
        self.warmup_end = round(settings.warmup_frac * iterations) if settings.use_instance else 0
        self.assign_end = self.warmup_end + round(settings.assign_frac * iterations)
        self.schedule = (
            assignment_schedule(self.warmup_end, self.assign_end, settings.assign_steps)
            if settings.use_group
            else {}
        )
        self.weights = {
            "instance": settings.w_ins,
            "group": settings.w_group,
            "pair": settings.w_pair,
            "tv": settings.tv_weight,
        }
        self.syn_labels: Tensor | None = None
        self.nearest: Tensor | None = None
        self.paired_at = -settings.pair_refresh_every
        self.losses: dict[str, Tensor] = {}
        self.total: Tensor | None = None
        self.first_losses: dict[str, float] = {}
        self.last_losses: dict[str, float] = {}

    @property
    def syn(self) -> Tensor:
        """The synthetic LR pixels in [0, 1] (differentiable in `params`)."""
        if self.settings.residual_grid == 1:
            return self.params
        residual = F.interpolate(
            self.params, size=self.start.shape[2:], mode="bilinear", align_corners=False
        )
        return (self.start + residual).clamp(0, 1)

    def step_loss(self, syn_maps: Tensor, step: int) -> Tensor:
        """This step's weighted loss, from the teacher's feature maps of `self.syn`.

        Updates the group assignment (on the schedule) and the pairs (every
        `pair_refresh_every` steps) first, as Algorithm 1 does.
        """
        settings = self.settings
        syn_patches = self.feature_map.feature_patches(syn_maps.float())
        if step in self.schedule:
            syn_flat = syn_patches.detach().flatten(1)
            quotas = proportional_quotas(
                self.real.group_mass, round(self.schedule[step] * len(syn_flat))
            )
            self.syn_labels = assign_with_quotas(syn_flat, self.real.centroids, quotas)
            self.paired_at = -settings.pair_refresh_every
        if (
            settings.use_pair
            and self.syn_labels is not None
            and (step - self.paired_at >= settings.pair_refresh_every)
        ):
            self.nearest = nearest_real(
                syn_patches.flatten(1),
                self.syn_labels,
                self.real.groups,
                excluded_owner=self.excluded_owner,
                real_owner=self.real_owner,
            )
            self.paired_at = step
        self.losses = _step_losses(
            self.syn,
            syn_patches,
            self.syn_labels,
            self.nearest,
            self.real,
            settings,
            self.freq_generator,
            self.sample_generator,
        )
        self.total = sum(self.weights[name] * value for name, value in self.losses.items())
        return self.total

    def after_update(self) -> dict[str, float]:
        """Keep free pixels in [0, 1] after the optimiser step (a residual's sum is clamped in
        `syn`); the step's losses as floats."""
        names = [*self.losses, "total"]
        with torch.no_grad():
            if self.settings.residual_grid == 1:
                self.params.clamp_(0, 1)
            values = torch.stack([*self.losses.values(), self.total]).tolist()  # one sync
        self.last_losses = dict(zip(names, values, strict=True))
        if not self.first_losses:
            self.first_losses = self.last_losses
        return self.last_losses

    def stats(self) -> dict:
        """What the instance's marker and the manifest record about the run."""
        real = self.real
        return {
            "n_real": self.n_real,
            "n_synthetic": self.n,
            "n_real_feature_patches": len(real.patches),
            "feature_patch_shape": list(real.patches.shape[1:]),
            "n_groups": real.n_groups,
            "group_sizes": [] if real.group_sizes is None else real.group_sizes.tolist(),
            "warmup_end": self.warmup_end,
            "assign_end": self.assign_end,
            "first_losses": self.first_losses,
            "final_losses": self.last_losses,
            "timings": self.timings,
        }
