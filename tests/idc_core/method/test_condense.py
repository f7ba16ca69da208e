import math

import numpy as np
import pytest
import torch

from idc_core.method.condense import CondenseCancelled, condense_instance, synthetic_count
from idc_core.method.settings import IDCSettings, build_settings

TINY = build_settings("tiny", {"c_out": 16})


def test_synthetic_count_is_the_ceiling_of_r_n_and_at_least_one():
    assert synthetic_count(130, 0.1) == 13
    assert synthetic_count(126, 0.1) == 13
    assert synthetic_count(5, 0.01) == 1
    assert synthetic_count(7, 1.0) == 7
    with pytest.raises(ValueError):
        synthetic_count(10, 0.0)


def test_condense_instance_shapes_range_and_determinism(small_instance, teacher):
    steps = []
    result = condense_instance(
        small_instance,
        teacher,
        0.2,
        TINY,
        seed=3,
        on_step=lambda s, n, losses: steps.append((s, n, losses)),
    )
    n = math.ceil(0.2 * len(small_instance))
    assert result.lr.shape == (n, 3, 8, 8) and result.lr.dtype == np.float32
    assert result.hr.shape == (n, 3, 32, 32)
    assert result.lr.min() >= 0 and result.lr.max() <= 1
    assert result.hr.min() >= 0 and result.hr.max() <= 1
    assert [s for s, _, _ in steps] == list(range(1, TINY.iterations + 1))
    assert "instance" in steps[0][2] and {"group", "pair"} <= set(steps[-1][2])
    assert result.stats["n_real"] == 25 and result.stats["n_synthetic"] == n
    # HR is the teacher's output for the synthetic LR.
    with torch.no_grad():
        expected = teacher(torch.from_numpy(result.lr)).clamp(0, 1).numpy()
    assert np.allclose(result.hr, expected, atol=1e-5)
    # Teacher left as it was found.
    assert teacher.training and all(p.requires_grad for p in teacher.parameters())
    again = condense_instance(small_instance, teacher, 0.2, TINY, seed=3)
    assert np.array_equal(again.lr, result.lr)
    other = condense_instance(small_instance, teacher, 0.2, TINY, seed=4)
    assert not np.array_equal(other.lr, result.lr)


def test_optimisation_lowers_the_instance_discrepancy(small_instance, teacher):
    settings = TINY.model_copy(
        update=dict(
            init="noise",
            iterations=40,
            lr=0.05,
            use_group=False,
            use_pair=False,
            num_freqs=256,
            freq_bank=0,  # the published NCFD path: fresh frequencies, subsampled real side
        )
    )
    losses = []
    condense_instance(
        small_instance,
        teacher,
        0.2,
        settings,
        seed=0,
        on_step=lambda s, n, step_losses: losses.append(step_losses["instance"]),
    )
    assert np.mean(losses[-5:]) < 0.7 * np.mean(losses[:5])


def test_should_stop_cancels(small_instance, teacher):
    calls = []

    def stop_at_third_poll():
        calls.append(1)
        return len(calls) >= 3

    with pytest.raises(CondenseCancelled):
        condense_instance(
            small_instance, teacher, 0.2, TINY, seed=0, should_stop=stop_at_third_poll
        )
    assert len(calls) == 3
    assert all(p.requires_grad for p in teacher.parameters())


@pytest.mark.parametrize("name", [f"v{i}" for i in range(1, 8)])
def test_every_ablation_preset_runs(small_instance, teacher, name):
    settings = build_settings(name, dict(iterations=4, num_freqs=32, c_out=16, n_groups=3))
    seen = []
    result = condense_instance(
        small_instance,
        teacher,
        0.2,
        settings,
        seed=0,
        on_step=lambda s, n, losses: seen.append(set(losses)),
    )
    assert result.lr.shape == (5, 3, 8, 8)
    expected = {"instance"} if settings.use_instance else set()
    expected |= {"group"} if settings.use_group else set()
    expected |= {"pair"} if settings.use_pair else set()
    assert seen[-1] - {"total"} == expected


def test_settings_reject_inconsistent_switches():
    with pytest.raises(ValueError, match="use_pair"):
        IDCSettings(use_group=False, use_pair=True)
    with pytest.raises(ValueError, match="unknown preset"):
        build_settings("v9")
    with pytest.raises(ValueError):
        build_settings("cpu", {"no_such_field": 1})


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_textured_init_starts_from_real_patches_of_above_median_texture(small_instance, seed):
    from idc_core.baselines.dcsr import texture_complexity
    from idc_core.method.instance_state import _init_synthetic, patches_to_tensor

    settings = TINY.model_copy(update=dict(init="textured", init_noise=0.0))
    n = 6
    start, sources = _init_synthetic(
        small_instance, n, settings, torch.Generator().manual_seed(seed)
    )
    real = patches_to_tensor(small_instance.lr, torch.device("cpu"))
    complexity = texture_complexity(small_instance.hr)
    textured = set(np.flatnonzero(complexity > np.median(complexity)).tolist())
    matches = [
        int(torch.nonzero((real == patch).flatten(1).all(1)).flatten()[0]) for patch in start
    ]
    assert len(set(matches)) == n  # distinct real patches
    assert sorted(matches) == sources.tolist()  # the sources it reports
    assert set(matches) <= textured
    assert len(textured) < len(real)  # the rule excluded something
