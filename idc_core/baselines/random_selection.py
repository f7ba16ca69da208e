"""Random selection: the plain baseline every other method must beat."""

import numpy as np


def select_random(n_total: int, n: int, seed: int) -> np.ndarray:
    """Return `n` distinct indices out of `range(n_total)`, sorted, drawn with `seed`."""
    if not 0 <= n <= n_total:
        raise ValueError(f"cannot select {n} of {n_total} patches")
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(n_total, size=n, replace=False))
