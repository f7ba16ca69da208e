"""Algorithm 1: optimise n = ceil(r N) synthetic LR patches per instance, then up-sample them.

Stage 1 matches the synthetic patches' Random Local Fourier Features to the real ones with the
multi-level loss: the instance-level NCFD alone during warm-up, then the group-level NCFD and the
pair loss as the synthetic feature patches are assigned to groups in growing steps, then all
three. The real features are computed once per instance and cached; each step draws fresh
frequencies and a (group-stratified) subsample of at most `real_subsample` real samples.
Stage 2 up-samples the synthetic LR patches with the teacher (or a separate up-sampler), in
float32.

`condense_group` is the one optimisation loop. It condenses several instances together: one
teacher forward and backward over the concatenated synthetic patches of all of them per step
(where a GPU wins), while every loss, real-feature cache, K-means grouping, assignment schedule,
random generator and optimiser state stays per instance (`instance_state.InstanceState`; one
AdamW over the list of per-instance tensors, whose state is per tensor and elementwise).
`condense_instance` is that loop with a group of one. Results of an instance condensed in a group
equal its results alone up to the rounding of the teacher's kernels at another batch size.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor, nn

from idc_core.cancellation import Cancelled
from idc_core.data.patches import Instance
from idc_core.data.resize import bicubic_downsample
from idc_core.method.diagnostics import instance_diagnostics
from idc_core.method.instance_state import (
    InstanceState,
    patches_to_tensor,
    patches_to_uint8,
    teacher_autocast,
)
from idc_core.method.settings import IDCSettings

StepCallback = Callable[[int, int, dict[str, float]], None]
GroupStepCallback = Callable[[int, int, int, dict[str, float]], None]


class CondenseCancelled(Cancelled):
    """`should_stop()` returned True; nothing of the current instance (or group) was written."""


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


def _make_optimiser(params: list[Tensor], settings: IDCSettings) -> torch.optim.Optimizer:
    if settings.optimiser == "adam":
        return torch.optim.Adam(params, lr=settings.lr)
    return torch.optim.AdamW(params, lr=settings.lr, weight_decay=settings.weight_decay)


def upscale(model: nn.Module, lr: Tensor, batch: int) -> Tensor:
    """Stage 2: the model's HR images of LR patches in [0, 1], in float32, `batch` at a time."""
    with torch.no_grad():
        return torch.cat(
            [model(lr[i : i + batch]).float() for i in range(0, len(lr), batch)]
        ).clamp_(0, 1)


def instance_scale(instance: Instance) -> int:
    return instance.hr.shape[1] // instance.lr.shape[1]


def bicubic_of(hr: Tensor, scale: int) -> Tensor:
    """The LR patches of `lr_from_hr`: MATLAB-bicubic down-sampling of the 8-bit HR patches, as
    the real LR patches were made, so that (LR, HR) is an exact pair of the test degradation."""
    lr = np.stack(
        [bicubic_downsample(image, scale) for image in patches_to_uint8(hr.cpu().numpy())]
    )
    return patches_to_tensor(lr, hr.device)


def condense_group(
    instances: Sequence[Instance],
    teacher: nn.Module,
    ratio: float,
    settings: IDCSettings,
    seeds: Sequence[int],
    device: str | torch.device = "cpu",
    on_step: GroupStepCallback | None = None,
    should_stop: Callable[[], bool] | None = None,
    upsampler: nn.Module | None = None,
) -> list[CondensedInstance]:
    """Condense several instances together (Algorithm 1 for each), in the order given.

    Instance i uses `seeds[i]` and is condensed exactly as it would be alone, except that the
    teacher sees all instances' synthetic patches in one batch. All instances must have the same
    LR patch size (one job's patch settings). `on_step(position, step, iterations, losses)` is
    called for every instance after every step; `should_stop()` is polled before every step and
    raises CondenseCancelled when true. The teacher (and `upsampler`) are frozen while this runs
    and restored afterwards.
    """
    if not instances or len(seeds) != len(instances):
        raise ValueError(f"need one seed per instance, got {len(seeds)} for {len(instances)}")
    if len({instance.lr.shape[1:] for instance in instances}) > 1:
        raise ValueError("instances condensed together must share one LR patch size")
    device = torch.device(device)
    stage2 = upsampler if upsampler is not None else teacher
    iterations = settings.iterations

    with frozen(teacher.to(device)), frozen(stage2.to(device)):
        states = [
            InstanceState(
                instance, synthetic_count(len(instance), ratio), teacher, settings, seed, device
            )
            for instance, seed in zip(instances, seeds, strict=True)
        ]
        optimiser = _make_optimiser([state.params for state in states], settings)
        sizes = [state.n for state in states]

        started = time.perf_counter()
        for step in range(iterations):
            if should_stop is not None and should_stop():
                names = ", ".join(instance.name for instance in instances)
                raise CondenseCancelled(f"{names}: cancelled at step {step}/{iterations}")
            with teacher_autocast(device, settings.bf16):
                syn_maps = teacher.extract_features(torch.cat([state.syn for state in states]))
            totals = [
                state.step_loss(maps, step)
                for state, maps in zip(states, syn_maps.split(sizes), strict=True)
            ]
            optimiser.zero_grad(set_to_none=True)
            sum(totals).backward()
            optimiser.step()
            for position, state in enumerate(states):
                losses = state.after_update()
                if on_step is not None:
                    on_step(position, step + 1, iterations, losses)
        optimise_share = (time.perf_counter() - started) / len(states)

        results = []
        for state, seed in zip(states, seeds, strict=True):
            started = time.perf_counter()
            lr = state.syn.detach()
            hr = upscale(stage2, lr, settings.feature_batch)
            if settings.lr_from_hr:
                lr = bicubic_of(hr, instance_scale(state.instance))
            state.timings["optimise_s"] = optimise_share
            state.timings["upsample_s"] = time.perf_counter() - started
            stats = state.stats() | {"batch_size": len(states)}
            if settings.diagnostics:
                stats["diagnostics"] = instance_diagnostics(state, teacher, seed)
            results.append(CondensedInstance(lr=lr.cpu().numpy(), hr=hr.cpu().numpy(), stats=stats))
    return results


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
    group_on_step = None if on_step is None else lambda _, *progress: on_step(*progress)
    (result,) = condense_group(
        [instance], teacher, ratio, settings, [seed], device, group_on_step, should_stop, upsampler
    )
    return result
