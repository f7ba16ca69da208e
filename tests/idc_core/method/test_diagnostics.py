"""The diagnostics of a condensed instance, on real photo patches, in cases with known answers."""

import math

import numpy as np
import pytest
import torch

from idc_core.baselines.dcsr import texture_complexity
from idc_core.method.condense import condense_instance
from idc_core.method.diagnostics import (
    NEAR_COPY_DB,
    PSNR_CAP_DB,
    local_ncfd,
    nearest_real_psnr,
    summarize,
    texture_stats,
)
from idc_core.method.instance_state import patches_to_tensor
from idc_core.method.ncfd import ncfd
from idc_core.method.settings import build_settings

TINY = build_settings("tiny", {"c_out": 16})


@pytest.fixture()
def real_lr(small_instance) -> torch.Tensor:
    """The 25 real 8x8 LR patches of the butterfly corner, float N x 3 x 8 x 8 in [0, 1]."""
    return patches_to_tensor(small_instance.lr, torch.device("cpu"))


def test_exact_copies_get_the_cap_and_a_known_offset_its_psnr(real_lr):
    copies = real_lr[[3, 7, 20]]
    assert nearest_real_psnr(copies, real_lr).tolist() == [PSNR_CAP_DB] * 3
    # Interior values (away from 0 and 1) moved by exactly 0.01: MSE 1e-4, 40 dB, as long as the
    # nearest real patch is still the source (neighbouring photo patches differ far more).
    source = real_lr[5].clamp(0.1, 0.9)
    moved = (source + 0.01)[None]
    psnr = nearest_real_psnr(moved, torch.cat([source[None], real_lr]))
    assert psnr.item() == pytest.approx(40.0, abs=1e-3)


def test_psnr_is_to_the_nearest_of_the_real_patches(real_lr):
    syn = real_lr[:4] * 0.5 + 0.25
    psnr = nearest_real_psnr(syn, real_lr)
    mse = ((syn[:, None].double() - real_lr[None].double()) ** 2).flatten(2).mean(2).min(1).values
    assert np.allclose(psnr.numpy(), (-10 * torch.log10(mse)).numpy(), atol=1e-4)
    assert (psnr < NEAR_COPY_DB).all()


def test_texture_of_a_set_against_itself_a_half_contrast_copy_and_a_flat_one(real_lr):
    real = real_lr.permute(0, 2, 3, 1).numpy()
    same = texture_stats(real, real)
    assert same["texture_ratio"] == pytest.approx(1.0)
    assert same["texture_real"] == pytest.approx(float(texture_complexity(real).mean()))
    assert same["texture_real"] > 0.05  # a real photo has texture
    # Sobel and grey conversion are linear: halving the contrast halves texture and pixel sd.
    half = texture_stats(real * 0.5 + 0.25, real)
    assert half["texture_ratio"] == pytest.approx(0.5, rel=1e-6)
    assert half["pixel_sd_synthetic"] == pytest.approx(0.5 * half["pixel_sd_real"], rel=1e-5)
    flat = texture_stats(np.full_like(real, 0.4), real)
    assert (
        flat["texture_ratio"] == pytest.approx(0.0, abs=1e-12) and flat["pixel_sd_synthetic"] < 1e-6
    )
    assert texture_stats(real, np.full_like(real, 0.4))["texture_ratio"] is None


def _samples(n_patches: int, per_patch: int, dim: int, seed: int) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(n_patches * per_patch, dim, generator=generator)


def test_local_ncfd_of_the_synthetic_set_is_the_loss_ncfd_at_the_same_frequencies():
    real, syn = _samples(30, 4, 8, 0), _samples(5, 4, 8, 1) + 0.3
    got = local_ncfd(real, 4, syn, 5, torch.Generator().manual_seed(11), 96, 0.5, 300.0, 40)
    expected = ncfd(real, syn, torch.Generator().manual_seed(11), 96, 0.5, 300.0, 40)
    assert got["local_ncfd_synthetic"] == pytest.approx(float(expected), rel=1e-5)


def test_random_real_reference_is_zero_when_it_takes_every_patch_and_matches_its_draws():
    real = _samples(12, 3, 6, 2)
    whole = local_ncfd(real, 3, real, 12, torch.Generator().manual_seed(0), 64, 0.5, 300.0, 64)
    assert whole["local_ncfd_synthetic"] < 1e-2 and whole["local_ncfd_random_real"] < 1e-2
    # A synthetic set that IS the whole real set beats every random half of it.
    some = local_ncfd(real, 3, real, 6, torch.Generator().manual_seed(0), 64, 0.5, 300.0, 64)
    assert some["local_ncfd_random_real"] > 1.0 and some["share_of_random_sets_beaten"] == 1.0
    # A synthetic set far from the real features loses to every random real subset.
    far = local_ncfd(
        real, 3, real[:18] + 5.0, 6, torch.Generator().manual_seed(0), 64, 0.5, 300.0, 64
    )
    assert far["local_ncfd_synthetic"] > far["local_ncfd_random_real"]
    assert far["share_of_random_sets_beaten"] == 0.0


def test_synthetic_patches_that_are_real_patches_are_reported_as_copies(small_instance, teacher):
    """Real start, no start noise, one step of 1e-7: the synthetic LR patches are real ones."""
    settings = TINY.model_copy(update=dict(init_noise=0.0, iterations=1, lr=1e-7))
    result = condense_instance(small_instance, teacher, 0.2, settings, seed=0)
    diag = result.stats["diagnostics"]
    n = len(result.lr)
    assert diag["nearest_real_psnr_min"] >= 99.0 and diag["near_copies"] == n
    real = small_instance.lr.astype(np.float32) / 255
    expected = texture_stats(result.lr.transpose(0, 2, 3, 1), real)
    for key, value in expected.items():
        assert diag[key] == pytest.approx(value, rel=1e-5)
    # The synthetic set is a random real subset: its own score lies among the random draws'.
    spread = diag["local_ncfd_random_real_sd"]
    assert abs(diag["local_ncfd_synthetic"] - diag["local_ncfd_random_real"]) < 4 * spread
    assert 0 < diag["diagnostics_s"] < 60


def test_noise_start_is_far_from_every_real_patch(small_instance, teacher):
    settings = TINY.model_copy(update=dict(init="noise"))
    diag = condense_instance(small_instance, teacher, 0.2, settings, seed=0).stats["diagnostics"]
    assert diag["nearest_real_psnr_max"] < 20.0 and diag["near_copies"] == 0
    # Six steps of 0.01 barely move uniform noise, whose sd is 1 / sqrt(12).
    assert diag["pixel_sd_synthetic"] == pytest.approx(12**-0.5, abs=0.02)
    assert all(math.isfinite(v) for v in diag.values() if isinstance(v, float))


def test_diagnostics_switch_off_and_never_change_the_pairs(small_instance, teacher):
    on = condense_instance(small_instance, teacher, 0.2, TINY, seed=5)
    off = condense_instance(
        small_instance, teacher, 0.2, TINY.model_copy(update=dict(diagnostics=False)), seed=5
    )
    assert "diagnostics" in on.stats and "diagnostics" not in off.stats
    assert np.array_equal(on.lr, off.lr) and np.array_equal(on.hr, off.hr)


def test_summary_means_and_worst_copy():
    base = dict(
        texture_ratio=0.8,
        pixel_sd_synthetic=0.2,
        pixel_sd_real=0.25,
        local_ncfd_synthetic=1.0,
        local_ncfd_random_real=2.0,
        share_of_random_sets_beaten=1.0,
        nearest_real_psnr_median=20.0,
        nearest_real_psnr_max=25.0,
        near_copies=0,
    )
    copied = base | dict(texture_ratio=1.0, nearest_real_psnr_max=45.0, near_copies=2)
    summary = summarize({"a": base, "b": copied})
    assert summary["mean"]["texture_ratio"] == pytest.approx(0.9)
    assert summary["worst_nearest_real_psnr"] == 45.0
    assert summary["worst_nearest_real_psnr_instance"] == "b"
    assert summary["near_copies"] == 2 and summary["instances"] == 2
    assert summarize({}) is None
