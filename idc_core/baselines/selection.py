"""Entry points for the selection baselines: which real patches of the whole set to keep."""

from collections.abc import Callable

import numpy as np

from idc_core.baselines.dcsr import select_dcsr, texture_complexity
from idc_core.baselines.features import gram_features, pooled_features
from idc_core.baselines.herding import select_herding
from idc_core.baselines.kcenter import select_kcenter
from idc_core.baselines.random_selection import select_random
from idc_core.data.patches import Instance
from idc_core.models.base import SRModel
from idc_core.spec import SELECTION_METHODS

METHODS = SELECTION_METHODS  # stated once, in idc_core.spec


def selection_budget(n_total: int, ratio: float) -> int:
    """Number of patches a selection keeps out of the whole set: round(ratio * n_total), >= 1.

    The budget is global, as in the paper (12,076 of 120,765 pairs at 10%), not per instance.
    """
    if not 0.0 < ratio <= 1.0:
        raise ValueError(f"ratio must be in (0, 1], got {ratio}")
    if n_total < 1:
        raise ValueError("there are no patches to select from")
    return min(n_total, max(1, round(ratio * n_total)))


def select(
    method: str,
    lr: np.ndarray,
    n: int,
    seed: int,
    teacher: SRModel | None = None,
    device: str = "cpu",
    complexity: np.ndarray | None = None,
    features: np.ndarray | None = None,
    batch_size: int = 256,
) -> np.ndarray:
    """Sorted indices of the `n` patches that `method` keeps out of the whole set.

    `lr` holds the LR patches of ALL instances (uint8 N x p x p x 3). Herding and K-Center embed
    them with the teacher's pooled features (or `features`, if already computed); DCSR needs
    `complexity` (`texture_complexity` of the matching HR patches) and the teacher for its
    texture features. Random needs neither.
    """
    if method not in METHODS:
        raise ValueError(f"unknown selection method {method!r}; choose from {', '.join(METHODS)}")
    if method == "random":
        return select_random(len(lr), n, seed)
    if teacher is None and (method == "dcsr" or features is None):
        raise ValueError(f"selection method {method!r} needs a teacher model")
    if method == "dcsr":
        if complexity is None or len(complexity) != len(lr):
            raise ValueError("dcsr needs the texture complexity of every HR patch")
        return select_dcsr(
            complexity, lambda idx: gram_features(teacher, lr[idx], device, batch_size), n, seed
        )
    if features is None:
        features = pooled_features(teacher, lr, device, batch_size)
    if len(features) != len(lr):
        raise ValueError(f"{len(features)} feature rows for {len(lr)} patches")
    if method == "herding":
        return np.sort(select_herding(features, n))
    return np.sort(select_kcenter(features, n, seed))


def select_indices(
    method: str,
    instances: list[Instance],
    ratio: float,
    teacher: SRModel | None,
    seed: int,
    device: str = "cpu",
    on_progress: Callable[[str], None] | None = None,
) -> dict[str, np.ndarray]:
    """Select over the whole patch set of `instances`; returns each instance's kept indices.

    The result maps every instance name (including those that keep nothing) to the sorted
    indices of its kept patches. The same inputs give the same result, so a caller may resume
    by writing only the instances it has not finished.
    """
    if not instances:
        raise ValueError("no instances to select from")
    if len({instance.name for instance in instances}) != len(instances):
        raise ValueError("instance names must be unique")
    sizes = np.array([len(instance) for instance in instances])
    n = selection_budget(int(sizes.sum()), ratio)
    report = on_progress or (lambda message: None)
    report(f"{method}: selecting {n} of {sizes.sum()} patches from {len(instances)} images")
    lr = np.concatenate([instance.lr for instance in instances])
    complexity = None
    if method == "dcsr":
        complexity = np.concatenate([texture_complexity(instance.hr) for instance in instances])
    picks = select(method, lr, n, seed, teacher, device, complexity=complexity)
    bounds = np.concatenate([[0], np.cumsum(sizes)])
    result = {
        instance.name: picks[(picks >= start) & (picks < stop)] - start
        for instance, start, stop in zip(instances, bounds[:-1], bounds[1:], strict=True)
    }
    report(f"{method}: selected {len(picks)} patches")
    return result
