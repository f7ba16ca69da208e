"""K-Center greedy (Sener and Savarese, 2018) on teacher features: a farthest-point coreset."""

import numpy as np

from idc_core import progress


def _squared_distances(x: np.ndarray, center: np.ndarray, chunk_size: int) -> np.ndarray:
    """Squared Euclidean distance of every row of `x` to `center`, `chunk_size` rows at a time so
    that the temporary difference array stays small whatever N is."""
    out = np.empty(len(x), dtype=np.float64)
    for start in range(0, len(x), chunk_size):
        diff = x[start : start + chunk_size] - center
        out[start : start + chunk_size] = np.einsum("nd,nd->n", diff, diff)
    return out


def select_kcenter(features: np.ndarray, n: int, seed: int, chunk_size: int = 16384) -> np.ndarray:
    """Pick `n` rows of `features` (N x D): the first at random (seeded), then repeatedly the row
    farthest from its nearest pick, which greedily maximises the minimum distance to the picks.

    Memory is O(N) beyond the features themselves. Returns the indices in the order picked.
    """
    if features.ndim != 2:
        raise ValueError(f"features must be N x D, got shape {features.shape}")
    n_total = len(features)
    if not 0 <= n <= n_total:
        raise ValueError(f"cannot select {n} of {n_total} patches")
    picks = np.empty(n, dtype=np.int64)
    if n == 0:
        return picks
    x = features.astype(np.float64, copy=False)
    picks[0] = np.random.default_rng(seed).integers(n_total)
    nearest = _squared_distances(x, x[picks[0]], chunk_size)
    nearest[picks[0]] = -1.0  # never pick a row twice, even among exact duplicates
    with progress.task("k-center", n, "picks") as task:
        task.advance()
        for t in range(1, n):
            picks[t] = int(np.argmax(nearest))
            np.minimum(nearest, _squared_distances(x, x[picks[t]], chunk_size), out=nearest)
            nearest[picks[t]] = -1.0
            task.advance()
    return picks
