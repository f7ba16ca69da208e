"""The training loop shared by teachers and students: L1 loss, Adam, cosine or step schedule."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from idc_core import progress
from idc_core.cancellation import Cancelled
from idc_core.data.paired import PairedArrays
from idc_core.models.base import SRModel
from idc_core.spec.training import TrainRecipe


class TrainingCancelled(Cancelled):
    """`should_stop()` returned true; the model holds the weights of the last finished step."""


@dataclass
class TrainProgress:
    """What `on_progress` sees after every step."""

    iteration: int
    iterations: int
    loss: float
    lr: float


@dataclass
class TrainHistory:
    """Per-step loss and learning rate, and the validation results with their step."""

    losses: list[float] = field(default_factory=list)
    learning_rates: list[float] = field(default_factory=list)
    validations: list[dict[str, float]] = field(default_factory=list)
    seconds: float = 0.0

    def to_dict(self) -> dict:
        return asdict(self)


def lr_factor(recipe: TrainRecipe, step: int) -> float:
    """Multiplier of the initial learning rate for the step that follows `step` finished ones."""
    if recipe.schedule == "cosine":
        floor = recipe.lr_min / recipe.lr
        return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * step / recipe.iterations))
    passed = sum(step >= round(m * recipe.iterations) for m in recipe.step_milestones)
    return recipe.step_gamma**passed


class EpochSampler:
    """Batches of indices that go through a fresh random permutation of all pairs, epoch by epoch."""

    def __init__(self, count: int, batch_size: int, generator: torch.Generator) -> None:
        self.count, self.batch_size, self.generator = count, batch_size, generator
        self.queue = torch.empty(0, dtype=torch.long)

    def next_batch(self) -> Tensor:
        while len(self.queue) < self.batch_size:
            self.queue = torch.cat(
                [self.queue, torch.randperm(self.count, generator=self.generator)]
            )
        batch, self.queue = self.queue[: self.batch_size], self.queue[self.batch_size :]
        return batch


def to_tensor(images: np.ndarray | Tensor, device: torch.device) -> Tensor:
    """N x H x W x 3 uint8 (or float in [0, 1]) -> float32 N x 3 x H x W in [0, 1] on `device`."""
    # contiguous: the NHWC -> NCHW view would otherwise send convolutions down a slow path.
    tensor = torch.as_tensor(images).to(device).permute(0, 3, 1, 2).contiguous()
    return tensor.float() / 255.0 if tensor.dtype == torch.uint8 else tensor.float()


def augment_pair(lr: Tensor, hr: Tensor, generator: torch.Generator) -> tuple[Tensor, Tensor]:
    """The same random h-flip, v-flip and transpose (the 8 dihedral views) on LR and HR."""
    flags = (torch.rand(len(lr), 3, generator=generator) < 0.5).to(lr.device)[
        :, :, None, None, None
    ]
    square = lr.shape[-1] == lr.shape[-2] and hr.shape[-1] == hr.shape[-2]
    out = []
    for x in (lr, hr):
        x = torch.where(flags[:, 0], x.flip(-1), x)
        x = torch.where(flags[:, 1], x.flip(-2), x)
        if square:
            x = torch.where(flags[:, 2], x.transpose(-1, -2), x)
        out.append(x.contiguous())
    return out[0], out[1]


def check_pairs(model: SRModel, pairs: PairedArrays) -> None:
    if len(pairs) == 0:
        raise ValueError("no training pairs")
    (n_hr, hr_h, hr_w, _), (n_lr, lr_h, lr_w, _) = pairs.hr.shape, pairs.lr.shape
    if n_hr != n_lr or (hr_h, hr_w) != (lr_h * model.scale, lr_w * model.scale):
        raise ValueError(
            f"pairs do not fit a x{model.scale} model: HR {pairs.hr.shape}, LR {pairs.lr.shape}"
        )


# Memory layout of the model and batches while training on the CPU: convolutions in channels-last
# (oneDNN's own layout) trained edsr-tiny 1.04-1.38x as fast in the runs of
# benchmarks/speed_training.py (the gain varies with the machine's day).
CPU_LAYOUT = torch.channels_last


def train_sr_model(
    model: SRModel,
    pairs: PairedArrays,
    recipe: TrainRecipe,
    device: str | torch.device = "cpu",
    on_progress: Callable[[TrainProgress], None] | None = None,
    validate: Callable[[SRModel], dict[str, float]] | None = None,
    should_stop: Callable[[], bool] | None = None,
    description: str = "training",
) -> TrainHistory:
    """Train `model` in place on `pairs`; returns the history and leaves the model in eval mode.

    Batch order and augmentation come from a generator seeded with `recipe.seed`, so two runs
    from the same initial weights give the same weights on CPU (GPU kernels may differ slightly).
    `validate(model)` runs every `recipe.val_every` steps and after the last one.
    `should_stop()` is polled before every step; when true, TrainingCancelled is raised.
    The steps are a progress task named `description`.
    """
    check_pairs(model, pairs)
    device = torch.device(device)
    generator = torch.Generator().manual_seed(recipe.seed)
    sampler = EpochSampler(len(pairs), recipe.batch_size, generator)
    hr_all, lr_all = torch.from_numpy(pairs.hr), torch.from_numpy(pairs.lr)
    model.to(device).train()
    # The weights are back in the standard layout when this returns.
    layout = CPU_LAYOUT if device.type == "cpu" else torch.contiguous_format
    model.to(memory_format=layout)  # type: ignore[call-overload]  # torch accepts it; its stubs do not
    optimizer = torch.optim.Adam(model.parameters(), lr=recipe.lr, betas=recipe.betas)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: lr_factor(recipe, s))
    history = TrainHistory()
    start = time.perf_counter()
    try:
        with progress.task(description, recipe.iterations, "steps") as task:
            for iteration in range(1, recipe.iterations + 1):
                if should_stop is not None and should_stop():
                    raise TrainingCancelled(f"training stopped before step {iteration}")
                index = sampler.next_batch()
                lr_batch = to_tensor(lr_all[index], device)
                hr_batch = to_tensor(hr_all[index], device)
                if recipe.augment:
                    lr_batch, hr_batch = augment_pair(lr_batch, hr_batch, generator)
                loss = F.l1_loss(model(lr_batch.contiguous(memory_format=layout)), hr_batch)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                step_lr = optimizer.param_groups[0]["lr"]
                optimizer.step()
                scheduler.step()
                history.losses.append(float(loss.detach()))
                history.learning_rates.append(step_lr)
                if on_progress is not None:
                    on_progress(
                        TrainProgress(iteration, recipe.iterations, history.losses[-1], step_lr)
                    )
                task.advance(info=f"loss {history.losses[-1]:.4f}")
                due = recipe.val_every and iteration % recipe.val_every == 0
                if validate is not None and (due or iteration == recipe.iterations):
                    model.eval()
                    history.validations.append({"iteration": iteration, **validate(model)})
                    model.train()
    finally:
        model.to(memory_format=torch.contiguous_format)  # type: ignore[call-overload]
        model.eval()
    history.seconds = time.perf_counter() - start
    return history
