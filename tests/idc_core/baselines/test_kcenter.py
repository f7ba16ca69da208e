import numpy as np
from scipy.spatial.distance import cdist

from idc_core.baselines.kcenter import select_kcenter


def _brute_force_kcenter(features: np.ndarray, n: int, first: int) -> list[int]:
    """Reference: the full pairwise distance matrix, then farthest-point picks."""
    distances = cdist(features, features)
    picks = [first]
    while len(picks) < n:
        min_to_picks = distances[:, picks].min(axis=1)
        picks.append(int(np.argmax(min_to_picks)))
    return picks


def test_kcenter_matches_brute_force_farthest_point(pixel_features):
    picks = select_kcenter(pixel_features, 25, seed=7, chunk_size=10)
    assert picks.tolist() == _brute_force_kcenter(pixel_features, 25, int(picks[0]))
    assert len(set(picks.tolist())) == 25


def test_kcenter_is_seeded_and_chunking_does_not_change_it(pixel_features):
    whole = select_kcenter(pixel_features, 15, seed=1)
    assert np.array_equal(whole, select_kcenter(pixel_features, 15, seed=1, chunk_size=7))
    assert select_kcenter(pixel_features, 15, seed=2)[0] != whole[0]


def test_kcenter_covers_better_than_its_first_picks_suggest(pixel_features):
    """The covering radius (largest distance to the nearest pick) shrinks as picks are added."""
    picks = select_kcenter(pixel_features, 30, seed=0)
    radii = [cdist(pixel_features, pixel_features[picks[:k]]).min(1).max() for k in (1, 10, 30)]
    assert radii[0] > radii[1] > radii[2]


def test_kcenter_never_repeats_exact_duplicates():
    features = np.zeros((6, 3))
    assert sorted(select_kcenter(features, 6, seed=0).tolist()) == list(range(6))
