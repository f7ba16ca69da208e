import numpy as np

from idc_core.baselines.herding import select_herding
from idc_core.baselines.random_selection import select_random


def test_first_pick_is_the_patch_nearest_the_mean(pixel_features):
    picks = select_herding(pixel_features, 5)
    distances = np.linalg.norm(pixel_features - pixel_features.mean(axis=0), axis=1)
    assert picks[0] == np.argmin(distances)


def test_each_pick_keeps_the_running_mean_closest_to_the_full_mean(pixel_features):
    picks = select_herding(pixel_features, 8)
    mean = pixel_features.mean(axis=0)
    for t in range(1, len(picks)):
        chosen = pixel_features[picks[:t]]
        candidates = [i for i in range(len(pixel_features)) if i not in set(picks[:t])]
        gaps = [
            np.linalg.norm(np.vstack([chosen, pixel_features[i]]).mean(axis=0) - mean)
            for i in candidates
        ]
        assert picks[t] == candidates[int(np.argmin(gaps))]
    assert len(set(picks.tolist())) == len(picks)


def test_herding_matches_the_mean_better_than_random_picks(pixel_features):
    mean = pixel_features.mean(axis=0)
    herded = np.linalg.norm(pixel_features[select_herding(pixel_features, 20)].mean(0) - mean)
    random_gaps = [
        np.linalg.norm(pixel_features[select_random(len(pixel_features), 20, s)].mean(0) - mean)
        for s in range(10)
    ]
    assert herded < min(random_gaps)
