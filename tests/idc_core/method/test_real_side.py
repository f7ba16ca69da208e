import torch

from idc_core.method.ncfd import segment_characteristic_sums
from idc_core.method.real_side import RealSide
from idc_core.method.settings import build_settings


def _patches():
    return torch.randn(40, 16, 6, generator=torch.Generator().manual_seed(0))


def test_bank_mode_gives_the_exact_sums_over_all_real_samples_per_group():
    settings = build_settings("tiny", {"freq_bank": 128, "num_freqs": 32, "n_groups": 3})
    patches = _patches()
    real = RealSide(patches, settings, seed=0, freq_generator=torch.Generator().manual_seed(1))
    step = real.characteristic(torch.Generator().manual_seed(2), torch.Generator().manual_seed(3))
    assert step.freqs.shape == (6, 32) and step.cos_sums.shape == (3, 32)
    segments = real.labels.repeat_interleave(16)
    cos, sin = segment_characteristic_sums(patches.reshape(-1, 6), step.freqs, segments, 3)
    assert torch.allclose(step.cos_sums, cos, atol=1e-3)
    assert torch.allclose(step.sin_sums, sin, atol=1e-3)
    assert step.counts.tolist() == (torch.bincount(real.labels, minlength=3) * 16).tolist()
    other = real.characteristic(torch.Generator().manual_seed(2), torch.Generator().manual_seed(4))
    assert not torch.equal(other.freqs, step.freqs)  # a fresh choice from the bank each step


def test_fresh_mode_subsamples_the_real_side_by_group():
    settings = build_settings("tiny", {"freq_bank": 0, "real_subsample": 160, "n_groups": 3})
    real = RealSide(_patches(), settings, seed=0, freq_generator=torch.Generator().manual_seed(1))
    step = real.characteristic(torch.Generator().manual_seed(2), torch.Generator().manual_seed(3))
    # 160 samples = 10 feature patches of 16 samples, shared among the groups by size.
    assert step.counts.sum() >= 160 and (step.counts > 0).all()
    assert step.freqs.shape == (6, settings.num_freqs)


def test_without_unfolding_a_feature_patch_is_one_sample():
    settings = build_settings("v6", {"freq_bank": 64, "num_freqs": 16})
    real = RealSide(_patches(), settings, seed=0, freq_generator=torch.Generator().manual_seed(1))
    assert real.dim == 96 and real.per_patch == 1
    step = real.characteristic(torch.Generator().manual_seed(2), torch.Generator().manual_seed(3))
    assert step.counts.sum() == 40
