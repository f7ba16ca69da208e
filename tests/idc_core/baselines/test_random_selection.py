import numpy as np
import pytest

from idc_core.baselines.random_selection import select_random


def test_random_is_seeded_unique_and_sorted():
    picks = select_random(225, 40, seed=3)
    assert len(picks) == 40
    assert len(np.unique(picks)) == 40
    assert np.all(np.diff(picks) > 0)
    assert picks.min() >= 0 and picks.max() < 225
    assert np.array_equal(picks, select_random(225, 40, seed=3))
    assert not np.array_equal(picks, select_random(225, 40, seed=4))


def test_random_rejects_a_budget_larger_than_the_set():
    with pytest.raises(ValueError, match="cannot select 10 of 5"):
        select_random(5, 10, seed=0)
