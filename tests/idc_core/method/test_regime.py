"""The settings of the synthesising regime: each does what its description says."""

import numpy as np
import pytest
import torch
from torch import Tensor

from idc_core.baselines.dcsr import texture_complexity
from idc_core.data.resize import bicubic_downsample
from idc_core.method.condense import condense_instance
from idc_core.method.grouping import UNASSIGNED
from idc_core.method.instance_state import InstanceState, total_variation
from idc_core.method.ncfd import segment_characteristic_sums
from idc_core.method.settings import build_settings

TINY = build_settings("tiny", {"c_out": 16})


def _state(instance, teacher, **changes) -> InstanceState:
    settings = TINY.model_copy(update=changes)
    teacher.eval().requires_grad_(False)
    return InstanceState(instance, 5, teacher, settings, seed=3, device=torch.device("cpu"))


def _run_to_pairing(state: InstanceState, teacher) -> None:
    """Every step of the (short) schedule, after which each synthetic patch is paired."""
    for step in range(state.settings.iterations):
        state.step_loss(teacher.extract_features(state.syn), step)
    assert state.syn_labels is not None and bool((state.syn_labels != UNASSIGNED).all())
    if state.settings.use_pair:
        assert state.nearest is not None and bool((state.nearest != UNASSIGNED).all())


def test_pair_exclude_source_never_pairs_a_patch_with_its_start(small_instance, teacher):
    changes = dict(init_noise=0.0, iterations=4, warmup_frac=0.0, assign_frac=0.25)
    anchored = _state(small_instance, teacher, **changes)
    free = _state(small_instance, teacher, pair_exclude_source=True, **changes)
    for state in (anchored, free):
        _run_to_pairing(state, teacher)
    own = anchored.real_owner[anchored.nearest]
    sources = free.excluded_owner
    # From an exact real start, the nearest real feature patch is mostly the patch's own source.
    assert (own == sources).float().mean() > 0.5
    assert not bool((free.real_owner[free.nearest] == sources).any())


def test_lr_from_hr_makes_every_lr_the_bicubic_image_of_its_hr(small_instance, teacher):
    settings = TINY.model_copy(update={"lr_from_hr": True})
    result = condense_instance(small_instance, teacher, 0.2, settings, seed=1)
    hr = np.clip(np.rint(result.hr * 255), 0, 255).astype(np.uint8).transpose(0, 2, 3, 1)
    expected = np.stack([bicubic_downsample(image, 4) for image in hr])
    lr = np.rint(result.lr * 255).astype(np.uint8).transpose(0, 2, 3, 1)
    assert np.array_equal(lr, expected)
    plain = condense_instance(small_instance, teacher, 0.2, TINY, seed=1)
    assert np.array_equal(plain.hr, result.hr) and not np.array_equal(plain.lr, result.lr)


def test_group_mean_is_the_group_sum_over_the_live_groups(small_instance, teacher):
    changes = dict(iterations=4, warmup_frac=0.0, assign_frac=0.25, use_pair=False)
    summed = _state(small_instance, teacher, **changes)
    averaged = _state(small_instance, teacher, group_reduction="mean", **changes)
    for state in (summed, averaged):
        _run_to_pairing(state, teacher)
    live = int((summed.real.group_sizes > 0).sum())
    assert live > 1
    torch.testing.assert_close(summed.losses["group"] / live, averaged.losses["group"])


def test_relative_pair_scale_divides_by_the_mean_real_feature(small_instance, teacher):
    raw = _state(small_instance, teacher)
    relative = _state(small_instance, teacher, pair_scale="relative")
    assert raw.real.pair_unit == 1.0
    assert np.isclose(relative.real.pair_unit, float(relative.real.patches.abs().mean()))


def test_scaled_ncfd_features_keep_magnitude_and_unit_features_do_not():
    generator = torch.Generator().manual_seed(0)
    features = torch.randn(50, 8, generator=generator)
    freqs = torch.randn(8, 16, generator=generator)
    segments = torch.zeros(50, dtype=torch.long)
    for mode, same in (("unit", True), ("scaled", False)):
        once = segment_characteristic_sums(features, freqs, segments, 1, features_mode=mode)
        twice = segment_characteristic_sums(2 * features, freqs, segments, 1, features_mode=mode)
        assert torch.allclose(once[0], twice[0], atol=1e-5) is same


def test_tv_prior_smooths_the_synthetic_patches(small_instance, teacher):
    noisy = TINY.model_copy(update=dict(init="noise", iterations=30, lr=0.05))
    smooth = noisy.model_copy(update=dict(tv_weight=500.0))
    rough = condense_instance(small_instance, teacher, 0.2, noisy, seed=2)
    calm = condense_instance(small_instance, teacher, 0.2, smooth, seed=2)
    assert "tv" in calm.stats["final_losses"]
    assert total_variation(torch.from_numpy(calm.lr)) < 0.5 * total_variation(
        torch.from_numpy(rough.lr)
    )


def test_kcenter_init_starts_from_the_patches_k_center_picks(small_instance, teacher):
    from idc_core.baselines.features import pooled_features
    from idc_core.baselines.kcenter import select_kcenter
    from idc_core.method.instance_state import _init_synthetic

    settings = TINY.model_copy(update={"init": "kcenter", "init_noise": 0.0})
    features = pooled_features(teacher, small_instance.lr)
    start, sources = _init_synthetic(
        small_instance, 6, settings, torch.Generator().manual_seed(5), features
    )
    seed = int(torch.randint(2**31 - 1, (1,), generator=torch.Generator().manual_seed(5)))
    expected = np.sort(select_kcenter(features, 6, seed))
    assert sources.tolist() == expected.tolist() and len(set(expected.tolist())) == 6
    real = torch.from_numpy(small_instance.lr[expected]).permute(0, 3, 1, 2).float() / 255
    assert torch.equal(start, real)
    # Inside IDC the features are the teacher's own pooled maps.
    state = _state(small_instance, teacher, init="kcenter", init_noise=0.0)
    assert state.syn.shape[0] == 5


def test_weighted_characteristic_sums_count_a_row_by_its_weight():
    generator = torch.Generator().manual_seed(1)
    features = torch.randn(6, 4, generator=generator)
    freqs = torch.randn(4, 8, generator=generator)
    segments = torch.tensor([1, 0, 1, 0, 1, 1])
    weights = torch.tensor([2.0, 1.0, 0.5, 1.0, 1.0, 0.0])
    weighted = segment_characteristic_sums(features, freqs, segments, 2, weights=weights)
    # A weight of 2 is the row twice, 0 leaves it out; 0.5 is half its terms.
    rows = torch.cat([features[[0, 0, 1, 3, 4]], features[[2]]])
    rows_segments = torch.tensor([1, 1, 0, 0, 1, 1])
    full = segment_characteristic_sums(rows[:5], freqs, rows_segments[:5], 2)
    half = segment_characteristic_sums(rows[5:], freqs, rows_segments[5:], 2)
    for got, whole_rows, half_row in zip(weighted, full, half, strict=True):
        torch.testing.assert_close(got, whole_rows + 0.5 * half_row)


def test_weighted_sums_refuse_features_that_need_a_gradient():
    features = torch.randn(3, 4, requires_grad=True)
    with pytest.raises(ValueError, match="real side"):
        segment_characteristic_sums(
            features, torch.randn(4, 8), torch.zeros(3, dtype=torch.long), 1, weights=torch.ones(3)
        )


def test_texture_weighting_moves_target_and_quotas_towards_textured_patches(
    small_instance, teacher
):
    uniform = _state(small_instance, teacher)
    textured = _state(small_instance, teacher, real_weighting="texture")
    weights = textured.real.patch_weights
    complexity = texture_complexity(small_instance.hr)
    per_lr = len(weights) // len(complexity)
    # Mean 1 and in the order of the patches' HR texture.
    assert np.isclose(float(weights.mean()), 1.0)
    assert np.corrcoef(weights[::per_lr].numpy(), complexity)[0, 1] > 0.99
    # The groups' masses (synthetic quotas) are the weighted sizes, so they differ from the
    # counts, and the bank's counts are the same masses.
    assert np.isclose(textured.real.group_mass.sum(), textured.real.group_sizes.sum(), rtol=1e-4)
    assert not np.allclose(textured.real.group_mass, textured.real.group_sizes)
    assert uniform.real.patch_weights is None
    np.testing.assert_array_equal(uniform.real.group_mass, uniform.real.group_sizes)


def _optimised_change(state: InstanceState, teacher) -> Tensor:
    """Run the state's schedule with Adam; how far the pixels moved from the start."""
    optimiser = torch.optim.Adam([state.params], lr=0.05)
    for step in range(state.settings.iterations):
        optimiser.zero_grad()
        state.step_loss(teacher.extract_features(state.syn), step).backward()
        optimiser.step()
        state.after_update()
    return (state.syn - state.start).detach()


def test_residual_grid_changes_the_pixels_only_by_a_coarse_smooth_residual(small_instance, teacher):
    start = dict(init="real", init_noise=0.0)
    coarse = _state(small_instance, teacher, residual_grid=4, **start)
    side = small_instance.lr.shape[1]
    assert coarse.params.shape == (5, 3, -(-side // 4), -(-side // 4))
    change = _optimised_change(coarse, teacher)
    assert float(change.abs().max()) > 1e-3  # it did move
    inside = (coarse.syn > 0) & (coarse.syn < 1)
    residual = torch.nn.functional.interpolate(
        coarse.params.detach(), size=(side, side), mode="bilinear", align_corners=False
    )
    torch.testing.assert_close(change[inside], residual[inside])
    # Smooth: relative to its size, the change varies between neighbours far less than the
    # free pixels' change does.
    free_change = _optimised_change(_state(small_instance, teacher, **start), teacher)

    def roughness(values: Tensor) -> float:
        return float(total_variation(values) / values.abs().mean())

    assert roughness(change) < 0.5 * roughness(free_change)
