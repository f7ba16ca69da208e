"""Random Local Fourier Features (section 3.3) and the partition into local feature patches.

The identity filter E (C' x c x k x k, C' = c k^2) copies each k x k neighbourhood of the c-channel
feature map into C' output channels; a DFT of E along its output-channel axis then gives, per pixel,
the DFT of that neighbourhood vector, and F = [Re(DFT(E)), -Im(DFT(E))] (2C' filters) is one real
convolution. C_out of the 2C' filters are kept by seeded random sampling.

Choices the paper leaves open (documented in the manifest through IDCSettings):
- "batch normalisation before the convolution" normalises every channel with the mean and variance
  of the REAL instance's feature maps, computed once and applied unchanged to real and synthetic
  maps, so that the synthetic patches are measured in the real data's coordinates (statistics of
  the synthetic batch would move with the optimisation and hide shifts of the mean);
- the convolution uses zero padding k // 2, so f' keeps the h x w size of f (k must be odd);
- filters that are identically zero (the imaginary part of the DC term, and of the Nyquist term
  when C' is even) are never sampled: they would give constant, uninformative channels;
- when p does not divide h or w, f' is padded by replicating its border up to the next multiple,
  which gives the paper's N' = N ceil(h/p) ceil(w/p) feature patches.

With `use_local_features` off (ablations v1, v5) the feature maps are used as the teacher gives
them, with no normalisation and no convolution, as NCFD does.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor


def fourier_filters(channels: int, k: int) -> Tensor:
    """F = [Re(DFT(E)), -Im(DFT(E))]: 2C' x c x k x k with E the identity reshaped to C' x c x k x k."""
    c_prime = channels * k * k
    identity = torch.eye(c_prime, dtype=torch.float64).reshape(c_prime, channels, k, k)
    spectrum = torch.fft.fft(identity, dim=0)
    return torch.cat([spectrum.real, -spectrum.imag]).to(torch.float32)


def sample_fourier_channels(
    channels: int, k: int, c_out: int, generator: torch.Generator
) -> Tensor:
    """Sorted indices of `c_out` filters of F, drawn without replacement among the non-zero ones."""
    filters = fourier_filters(channels, k)
    usable = torch.nonzero(filters.flatten(1).abs().amax(dim=1) > 1e-9).flatten()
    if c_out > len(usable):
        raise ValueError(
            f"c_out={c_out} exceeds the {len(usable)} non-zero Fourier filters of a "
            f"{channels}-channel feature map with k={k}; lower c_out or raise k"
        )
    chosen = usable[torch.randperm(len(usable), generator=generator)[:c_out]]
    return torch.sort(chosen).values


@dataclass
class LocalFeatureMap:
    """The fixed map from teacher feature maps to local feature patches for one instance.

    `mean`/`std` (c,) and `filters` (C_out x c x k x k) are None when local features are off.
    `patch` is the (height, width) of a feature patch; the whole map when the setting p is None.
    """

    mean: Tensor | None
    std: Tensor | None
    filters: Tensor | None
    patch: tuple[int, int]

    def local_features(self, maps: Tensor) -> Tensor:
        """f' = BN(f) (x) F, N x C_out x h x w; the maps unchanged when local features are off."""
        if self.filters is None:
            return maps
        normalised = (maps - self.mean[None, :, None, None]) / self.std[None, :, None, None]
        return F.conv2d(normalised, self.filters, padding=self.filters.shape[-1] // 2)

    def feature_patches(self, maps: Tensor) -> Tensor:
        """f'' as N' x (ph*pw) x C: one row per local feature patch, pixels in raster order.

        `.reshape(N' * ph * pw, C)` gives the unfolded samples (rows of one patch contiguous) and
        `.reshape(N', ph * pw * C)` the flattened feature patch, both without copying.
        """
        features = self.local_features(maps)
        n, c, h, w = features.shape
        ph, pw = self.patch
        pad_h, pad_w = -h % ph, -w % pw
        if pad_h or pad_w:
            features = F.pad(features, (0, pad_w, 0, pad_h), mode="replicate")
        gh, gw = (h + pad_h) // ph, (w + pad_w) // pw
        blocks = features.reshape(n, c, gh, ph, gw, pw).permute(0, 2, 4, 3, 5, 1)
        return blocks.reshape(n * gh * gw, ph * pw, c)


def build_local_feature_map(
    real_maps: Tensor,
    k: int,
    p: int | None,
    c_out: int,
    use_local_features: bool,
    generator: torch.Generator,
    eps: float = 1e-5,
) -> LocalFeatureMap:
    """Fix the normalisation (from the real maps, N x c x h x w) and the sampled Fourier filters."""
    _, channels, h, w = real_maps.shape
    patch = (h, w) if p is None else (p, p)
    if not use_local_features:
        return LocalFeatureMap(mean=None, std=None, filters=None, patch=patch)
    if k % 2 == 0:
        raise ValueError(f"k must be odd so that f' keeps the feature map's size, got {k}")
    mean = real_maps.mean(dim=(0, 2, 3))
    std = (real_maps.var(dim=(0, 2, 3), unbiased=False) + eps).sqrt()
    chosen = sample_fourier_channels(channels, k, c_out, generator)
    filters = fourier_filters(channels, k)[chosen].to(real_maps.device)
    return LocalFeatureMap(mean=mean, std=std, filters=filters, patch=patch)
