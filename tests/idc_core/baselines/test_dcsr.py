import numpy as np
import pytest
from scipy import ndimage
from skimage.color import rgb2gray

from idc_core.baselines.dcsr import equal_quotas, select_dcsr, texture_complexity


def test_texture_complexity_matches_scipy_sobel_per_patch(coffee):
    patches = coffee.hr[:12]
    expected = []
    for patch in patches:
        grey = rgb2gray(patch)
        gx, gy = ndimage.sobel(grey, axis=1), ndimage.sobel(grey, axis=0)
        expected.append(np.mean(0.5 * np.abs(gx) + 0.5 * np.abs(gy)))
    assert np.allclose(texture_complexity(patches, chunk_size=5), expected)


def test_flat_patch_has_no_texture():
    flat = np.full((2, 16, 16, 3), 120, dtype=np.uint8)
    assert np.allclose(texture_complexity(flat), 0.0)


def test_equal_quotas_redistribute_what_short_clusters_cannot_give():
    rng = np.random.default_rng(0)
    assert equal_quotas(np.array([1, 10, 10]), 9, rng).tolist() == [1, 4, 4]
    assert equal_quotas(np.array([3, 3, 3]), 9, rng).tolist() == [3, 3, 3]
    quotas = equal_quotas(np.array([5, 5, 5, 5]), 10, rng)
    assert quotas.sum() == 10 and quotas.max() - quotas.min() <= 1
    with pytest.raises(ValueError):
        equal_quotas(np.array([1, 1]), 3, rng)


def test_dcsr_keeps_only_above_median_texture_and_draws_per_cluster(coffee, pixel_features):
    complexity = texture_complexity(coffee.hr)
    asked = []

    def features_of(indices):
        asked.append(indices)
        return pixel_features[indices]

    picks = select_dcsr(complexity, features_of, n=45, seed=0)
    assert len(picks) == 45 and len(np.unique(picks)) == 45
    assert np.all(complexity[picks] > np.median(complexity))
    survivors = asked[0]
    assert np.array_equal(survivors, np.flatnonzero(complexity > np.median(complexity)))
    # 45 picks over 15 clusters: three from each cluster that holds three or more.
    from sklearn.cluster import KMeans
    from sklearn.preprocessing import StandardScaler

    labels = KMeans(15, init="k-means++", n_init=1, random_state=0).fit_predict(
        StandardScaler().fit_transform(pixel_features[survivors])
    )
    label_of = dict(zip(survivors.tolist(), labels.tolist(), strict=True))
    per_cluster = np.bincount([label_of[i] for i in picks.tolist()], minlength=15)
    sizes = np.bincount(labels, minlength=15)
    short = sizes < 3
    assert np.array_equal(per_cluster[short], sizes[short])
    assert per_cluster[~short].max() - per_cluster[~short].min() <= 1
    assert np.array_equal(picks, select_dcsr(complexity, features_of, n=45, seed=0))


def test_dcsr_fills_from_the_most_textured_dropped_patches_when_survivors_run_out(coffee):
    complexity = texture_complexity(coffee.hr)
    n_survivors = int(np.sum(complexity > np.median(complexity)))
    picks = select_dcsr(complexity, lambda idx: pytest.fail("no clustering needed"), 150, 0)
    assert len(picks) == 150 > n_survivors
    assert complexity[picks].min() >= np.sort(complexity)[::-1][149]
