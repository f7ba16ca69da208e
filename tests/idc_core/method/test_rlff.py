import pytest
import torch
import torch.nn.functional as F

from idc_core.method.rlff import (
    build_local_feature_map,
    fourier_filters,
    sample_fourier_channels,
)


def _maps(n=3, c=4, h=8, w=8, seed=0):
    return torch.randn(n, c, h, w, generator=torch.Generator().manual_seed(seed)) * 2 + 1


def test_fourier_filters_are_the_dft_of_the_identity_filter():
    filters = fourier_filters(channels=2, k=3)
    assert filters.shape == (36, 2, 3, 3)
    c_prime = 18
    o = torch.arange(c_prime, dtype=torch.float64)
    angle = 2 * torch.pi * o[:, None] * o[None, :] / c_prime
    expected = torch.cat([torch.cos(angle), torch.sin(angle)])  # Re = cos, -Im = +sin
    assert torch.allclose(filters.reshape(36, c_prime).double(), expected, atol=1e-6)


@pytest.mark.parametrize(("k", "c_out"), [(1, 5), (3, 10)])
def test_rlff_equals_explicit_fft_of_unfolded_neighbourhoods(k, c_out):
    maps = _maps()
    generator = torch.Generator().manual_seed(5)
    fmap = build_local_feature_map(
        maps, k=k, p=4, c_out=c_out, use_local_features=True, generator=generator
    )
    chosen = sample_fourier_channels(4, k, c_out, torch.Generator().manual_seed(5))

    # Reference: BN with the real statistics, k x k neighbourhoods via F.unfold, FFT, [Re, -Im].
    mean = maps.mean(dim=(0, 2, 3), keepdim=True)
    std = (maps.var(dim=(0, 2, 3), unbiased=False, keepdim=True) + 1e-5).sqrt()
    columns = F.unfold((maps - mean) / std, k, padding=k // 2)  # N x (c k^2) x (h w)
    spectrum = torch.fft.fft(columns.double(), dim=1)
    reference = torch.cat([spectrum.real, -spectrum.imag], dim=1)[:, chosen]
    reference = reference.reshape(3, c_out, 8, 8).float()

    assert torch.allclose(fmap.local_features(maps), reference, atol=1e-4)


def test_sampling_skips_zero_filters_and_rejects_too_many_channels():
    chosen = sample_fourier_channels(1, 1, 1, torch.Generator().manual_seed(0))
    assert chosen.tolist() == [0]  # the only non-zero filter of a 1-channel 1x1 map (Re of DC)
    with pytest.raises(ValueError, match="c_out"):
        sample_fourier_channels(1, 1, 2, torch.Generator().manual_seed(0))


def test_feature_patches_partition_pad_and_unfold():
    maps = _maps(n=2, c=3, h=6, w=5)
    fmap = build_local_feature_map(
        maps, k=3, p=4, c_out=7, use_local_features=True, generator=torch.Generator().manual_seed(0)
    )
    patches = fmap.feature_patches(maps)
    # N' = N * ceil(6/4) * ceil(5/4) = 2 * 2 * 2, each 4 x 4 pixels of C_out = 7 channels.
    assert patches.shape == (8, 16, 7)
    local = fmap.local_features(maps)
    # Patch 0 is image 0's top-left 4x4 block, pixels in raster order, channels last.
    assert torch.allclose(patches[0], local[0, :, :4, :4].permute(1, 2, 0).reshape(16, 7))
    # The bottom-right patch of image 1 repeats the last row/column (replicate padding).
    last = patches[7].reshape(4, 4, 7)
    assert torch.allclose(last[0, 0], local[1, :, 4, 4])
    assert torch.allclose(last[3, 3], local[1, :, 5, 4])
    # Unfolding keeps each patch's pixels together: rows 16*j .. 16*j+15 belong to patch j.
    assert torch.equal(patches.reshape(-1, 7)[16:32], patches[1])


def test_without_local_features_the_maps_pass_unchanged_and_p_none_is_the_whole_map():
    maps = _maps()
    fmap = build_local_feature_map(
        maps,
        k=3,
        p=None,
        c_out=7,
        use_local_features=False,
        generator=torch.Generator().manual_seed(0),
    )
    patches = fmap.feature_patches(maps)
    assert patches.shape == (3, 64, 4)
    assert torch.equal(patches[1], maps[1].permute(1, 2, 0).reshape(64, 4))
