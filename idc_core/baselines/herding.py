"""Herding (Welling, 2009) on teacher features: a greedy mean-matching coreset."""

import numpy as np

from idc_core import progress


def select_herding(features: np.ndarray, n: int) -> np.ndarray:
    """Pick `n` rows of `features` (N x D) greedily so that the running mean of the picks stays
    as close as possible to the mean of all rows.

    At step t the next pick x minimises ||mu - (s + x) / (t + 1)||, i.e. ||(t + 1) mu - s - x||,
    where s is the sum of the picks so far. Herding is deterministic: no seed is needed.
    Returns the indices in the order they were picked.
    """
    if features.ndim != 2:
        raise ValueError(f"features must be N x D, got shape {features.shape}")
    n_total = len(features)
    if not 0 <= n <= n_total:
        raise ValueError(f"cannot select {n} of {n_total} patches")
    x = features.astype(np.float64, copy=False)
    mean = x.mean(axis=0)
    squared_norms = np.einsum("nd,nd->n", x, x)
    available = np.ones(n_total, dtype=bool)
    picked_sum = np.zeros_like(mean)
    picks = np.empty(n, dtype=np.int64)
    with progress.task("herding", n, "picks") as task:
        for t in range(n):
            target = (t + 1) * mean - picked_sum
            # ||target - x||^2 without the constant ||target||^2.
            cost = squared_norms - 2.0 * (x @ target)
            cost[~available] = np.inf
            best = int(np.argmin(cost))
            picks[t] = best
            available[best] = False
            picked_sum += x[best]
            task.advance()
    return picks
