"""DCSR ("Not all patches are equal", IEEE SPL 2023): texture complexity, then texture diversity.

1. Texture complexity of each HR patch: the mean of 0.5|Sobel_x| + 0.5|Sobel_y| on its grey
   image; patches at or below the median are dropped (about half survive).
2. Texture diversity: the survivors are clustered with K-means (k-means++, 15 clusters) on texture
   features and the same number of patches is drawn at random from every cluster to meet the
   budget; when a cluster runs short, its unused share goes to the others.

DCSR's texture features come from a pretrained texture network that is not available here. The
substitute (see `idc_core.baselines.features.gram_features`) is the Gram matrix of the teacher's
feature maps, the classic texture statistic of Gatys et al., standardised per dimension.
"""

from collections.abc import Callable

import numpy as np
from scipy.ndimage import correlate1d
from skimage.color import rgb2gray
from sklearn.cluster import KMeans
from sklearn.preprocessing import StandardScaler

DCSR_CLUSTERS = 15


def texture_complexity(hr: np.ndarray, chunk_size: int = 1024) -> np.ndarray:
    """Mean of 0.5|Sobel_x| + 0.5|Sobel_y| over each grey HR patch (`hr`: uint8 N x P x P x 3).

    The 3x3 Sobel filters act within each patch only (never across the batch axis), on grey
    values in [0, 1].
    """
    out = np.empty(len(hr), dtype=np.float64)
    for start in range(0, len(hr), chunk_size):
        grey = rgb2gray(hr[start : start + chunk_size])  # N x P x P, float64 in [0, 1]
        grad_x = correlate1d(correlate1d(grey, [-1, 0, 1], axis=2), [1, 2, 1], axis=1)
        grad_y = correlate1d(correlate1d(grey, [-1, 0, 1], axis=1), [1, 2, 1], axis=2)
        out[start : start + chunk_size] = (0.5 * np.abs(grad_x) + 0.5 * np.abs(grad_y)).mean(
            axis=(1, 2)
        )
    return out


def equal_quotas(cluster_sizes: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """Split a budget of `n` into per-cluster counts as equal as the cluster sizes allow.

    Each round shares what is left equally among the clusters that still have patches (the
    remainder going to randomly chosen ones); a cluster that runs short gives its unused share
    to the others in the next round.
    """
    if n > cluster_sizes.sum():
        raise ValueError(f"cannot draw {n} patches from {cluster_sizes.sum()}")
    quotas = np.zeros_like(cluster_sizes)
    remaining = n
    open_clusters = np.flatnonzero(cluster_sizes > 0)
    while remaining > 0:
        share, extra = divmod(remaining, len(open_clusters))
        for rank, k in enumerate(rng.permutation(open_clusters)):
            take = min(share + (rank < extra), cluster_sizes[k] - quotas[k])
            quotas[k] += take
            remaining -= take
        open_clusters = open_clusters[quotas[open_clusters] < cluster_sizes[open_clusters]]
    return quotas


def select_dcsr(
    complexity: np.ndarray,
    texture_features_of: Callable[[np.ndarray], np.ndarray],
    n: int,
    seed: int,
    n_clusters: int = DCSR_CLUSTERS,
) -> np.ndarray:
    """Select `n` patch indices the DCSR way.

    `complexity` is `texture_complexity` of all N patches; `texture_features_of(indices)` returns
    the texture features (len(indices) x D) of the given patches: it is called for the survivors
    only, which saves computing features for the half that is dropped.
    If the budget exceeds the survivors (ratios above about 50%), all survivors are kept and the
    most complex dropped patches fill the rest. Returns sorted indices.
    """
    n_total = len(complexity)
    if not 0 <= n <= n_total:
        raise ValueError(f"cannot select {n} of {n_total} patches")
    if n == 0:
        return np.empty(0, dtype=np.int64)
    survivors = np.flatnonzero(complexity > np.median(complexity))
    if n >= len(survivors):
        dropped = np.setdiff1d(np.arange(n_total), survivors)
        fill = dropped[np.argsort(-complexity[dropped], kind="stable")[: n - len(survivors)]]
        return np.sort(np.concatenate([survivors, fill]))
    features = StandardScaler().fit_transform(texture_features_of(survivors))
    k = min(n_clusters, len(survivors))
    labels = KMeans(n_clusters=k, init="k-means++", n_init=1, random_state=seed).fit_predict(
        features
    )
    rng = np.random.default_rng(seed)
    quotas = equal_quotas(np.bincount(labels, minlength=k), n, rng)
    picks = [
        rng.choice(survivors[labels == cluster], size=quota, replace=False)
        for cluster, quota in enumerate(quotas)
        if quota > 0
    ]
    return np.sort(np.concatenate(picks))
