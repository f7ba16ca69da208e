"""Algorithm 1 for one instance: optimise n = ceil(r N) synthetic LR patches, then up-sample them.

Stage 1 matches the synthetic patches' Random Local Fourier Features to the real ones with the
multi-level loss: the instance-level NCFD alone during warm-up, then the group-level NCFD and the
pair loss as the synthetic feature patches are assigned to groups in growing steps, then all
three. The real features are computed once per instance and cached; each step draws fresh
frequencies and a (group-stratified) subsample of at most `real_subsample` real samples.
Stage 2 up-samples the synthetic LR patches with the teacher (or a separate up-sampler).

On CUDA the teacher runs under bf16 autocast; the characteristic functions are always computed in
float32 (cos and sin of large phases are meaningless in bf16).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor, nn

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

StepCallback = Callable[[int, int, dict[str, float]], None]


class CondenseCancelled(RuntimeError):
    """`should_stop()` returned True; nothing of the current instance was written."""


@dataclass
class CondensedInstance:
    """Synthetic pairs of one instance: float32 arrays in [0, 1], n x 3 x h x w and n x 3 x H x W."""

    lr: np.ndarray
    hr: np.ndarray
    stats: dict = field(default_factory=dict)


def synthetic_count(n_real: int, ratio: float) -> int:
    """n = ceil(r N), at least 1 (rounded first so that 0.1 * 130 gives 13, not 14)."""
    if not 0 < ratio <= 1:
        raise ValueError(f"ratio must be in (0, 1], got {ratio}")
    return max(1, math.ceil(round(ratio * n_real, 9)))


@contextmanager
def frozen(model: nn.Module) -> Iterator[nn.Module]:
    """Eval mode and no parameter gradients inside the block; the model's state restored after."""
    was_training = model.training
    flags = [p.requires_grad for p in model.parameters()]
    model.eval().requires_grad_(False)
    try:
        yield model
    finally:
        for param, flag in zip(model.parameters(), flags, strict=True):
            param.requires_grad_(flag)
        model.train(was_training)


def _autocast(device: torch.device, bf16: bool) -> AbstractContextManager:
    if device.type == "cuda" and bf16:
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return nullcontext()


def patches_to_tensor(patches: np.ndarray, device: torch.device) -> Tensor:
    """uint8 N x h x w x 3 -> float32 N x 3 x h x w in [0, 1]."""
    tensor = torch.from_numpy(np.ascontiguousarray(patches)).to(device)
    return tensor.permute(0, 3, 1, 2).float().div_(255.0)


def _teacher_features(
    teacher: nn.Module, lr: Tensor, settings: IDCSettings, device: torch.device
) -> Tensor:
    with torch.no_grad(), _autocast(device, settings.bf16):
        maps = [
            teacher.extract_features(lr[i : i + settings.feature_batch]).float()
            for i in range(0, len(lr), settings.feature_batch)
        ]
    return torch.cat(maps)


def _init_synthetic(
    instance: Instance, n: int, settings: IDCSettings, generator: torch.Generator
) -> Tensor:
    """Random distinct real LR patches plus a little noise, or uniform noise (on the CPU)."""
    shape = (n, 3, *instance.lr.shape[1:3])
    if settings.init == "noise":
        return torch.rand(shape, generator=generator)
    picks = torch.randperm(len(instance.lr), generator=generator)[:n].numpy()
    start = patches_to_tensor(instance.lr[np.sort(picks)], torch.device("cpu"))
    noise = torch.randn(shape, generator=generator) * settings.init_noise
    return (start + noise).clamp_(0, 1)


def _make_optimiser(params: list[Tensor], settings: IDCSettings) -> torch.optim.Optimizer:
    if settings.optimiser == "adam":
        return torch.optim.Adam(params, lr=settings.lr)
    return torch.optim.AdamW(params, lr=settings.lr, weight_decay=settings.weight_decay)


def _step_losses(
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
            settings.scale,
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
        losses["group"] = discrepancy(
            target.cos_sums[live],
            target.sin_sums[live],
            real_counts[live],
            syn_cos[:n_groups][live],
            syn_sin[:n_groups][live],
            syn_counts[live],
        ).sum()
    if grouped and settings.use_pair:
        losses["pair"] = pair_loss(
            syn_patches.flatten(1), syn_labels, real.patches.flatten(1), nearest, n_groups
        )
    return losses


def _upscale(model: nn.Module, lr: Tensor, batch: int) -> Tensor:
    with torch.no_grad():
        return torch.cat(
            [model(lr[i : i + batch]).float() for i in range(0, len(lr), batch)]
        ).clamp_(0, 1)


def condense_instance(
    instance: Instance,
    teacher: nn.Module,
    ratio: float,
    settings: IDCSettings,
    seed: int,
    device: str | torch.device = "cpu",
    on_step: StepCallback | None = None,
    should_stop: Callable[[], bool] | None = None,
    upsampler: nn.Module | None = None,
) -> CondensedInstance:
    """Condense one image's N patch pairs into n = ceil(r N) synthetic pairs (Algorithm 1).

    `teacher` provides `extract_features` (stage 1) and, unless `upsampler` is given, the LR->HR
    mapping of stage 2. Its parameters are frozen while this runs and restored afterwards.
    `on_step(step, iterations, losses)` is called after every step; `should_stop()` is polled
    before every step and raises CondenseCancelled when true.
    """
    device = torch.device(device)
    n_real = len(instance.lr)
    n = synthetic_count(n_real, ratio)
    sample_generator = torch.Generator().manual_seed(seed)
    freq_generator = torch.Generator(device=device).manual_seed(seed + 1)
    timings: dict[str, float] = {}
    stage2 = upsampler if upsampler is not None else teacher

    with frozen(teacher.to(device)), frozen(stage2.to(device)):
        started = time.perf_counter()
        real_maps = _teacher_features(
            teacher, patches_to_tensor(instance.lr, device), settings, device
        )
        feature_map: LocalFeatureMap = build_local_feature_map(
            real_maps,
            settings.k,
            settings.p,
            settings.c_out,
            settings.use_local_features,
            sample_generator,
            settings.bn_eps,
        )
        with torch.no_grad():
            real_patches = torch.cat(
                [
                    feature_map.feature_patches(real_maps[i : i + settings.feature_batch])
                    for i in range(0, n_real, settings.feature_batch)
                ]
            )
        del real_maps
        timings["real_features_s"] = time.perf_counter() - started

        started = time.perf_counter()
        real = RealSide(real_patches, settings, seed, freq_generator)
        timings["groups_and_bank_s"] = time.perf_counter() - started

        syn = _init_synthetic(instance, n, settings, sample_generator).to(device).requires_grad_()
        optimiser = _make_optimiser([syn], settings)
        iterations = settings.iterations
        warmup_end = round(settings.warmup_frac * iterations) if settings.use_instance else 0
        assign_end = warmup_end + round(settings.assign_frac * iterations)
        schedule = (
            assignment_schedule(warmup_end, assign_end, settings.assign_steps)
            if settings.use_group
            else {}
        )
        weights = {"instance": settings.w_ins, "group": settings.w_group, "pair": settings.w_pair}
        syn_labels: Tensor | None = None
        nearest: Tensor | None = None
        paired_at = -settings.pair_refresh_every
        first_losses: dict[str, float] = {}
        losses_now: dict[str, float] = {}

        started = time.perf_counter()
        for step in range(iterations):
            if should_stop is not None and should_stop():
                raise CondenseCancelled(f"{instance.name}: cancelled at step {step}/{iterations}")
            with _autocast(device, settings.bf16):
                syn_maps = teacher.extract_features(syn)
            syn_patches = feature_map.feature_patches(syn_maps.float())
            if step in schedule:
                syn_flat = syn_patches.detach().flatten(1)
                quotas = proportional_quotas(
                    real.group_sizes, round(schedule[step] * len(syn_flat))
                )
                syn_labels = assign_with_quotas(syn_flat, real.centroids, quotas)
                paired_at = -settings.pair_refresh_every
            if (
                settings.use_pair
                and syn_labels is not None
                and (step - paired_at >= settings.pair_refresh_every)
            ):
                nearest = nearest_real(syn_patches.flatten(1), syn_labels, real.groups)
                paired_at = step
            losses = _step_losses(
                syn_patches, syn_labels, nearest, real, settings, freq_generator, sample_generator
            )
            total = sum(weights[name] * value for name, value in losses.items())
            optimiser.zero_grad(set_to_none=True)
            total.backward()
            optimiser.step()
            with torch.no_grad():
                syn.clamp_(0, 1)
            losses_now = {name: value.item() for name, value in losses.items()}
            losses_now["total"] = total.item()
            if not first_losses:
                first_losses = losses_now
            if on_step is not None:
                on_step(step + 1, iterations, losses_now)
        timings["optimise_s"] = time.perf_counter() - started

        started = time.perf_counter()
        lr = syn.detach()
        hr = _upscale(stage2, lr, settings.feature_batch)
        timings["upsample_s"] = time.perf_counter() - started

    stats = {
        "n_real": n_real,
        "n_synthetic": n,
        "n_real_feature_patches": len(real_patches),
        "feature_patch_shape": list(real_patches.shape[1:]),
        "n_groups": real.n_groups,
        "group_sizes": [] if real.group_sizes is None else real.group_sizes.tolist(),
        "warmup_end": warmup_end,
        "assign_end": assign_end,
        "first_losses": first_losses,
        "final_losses": losses_now,
        "timings": timings,
    }
    return CondensedInstance(lr=lr.cpu().numpy(), hr=hr.cpu().numpy(), stats=stats)
