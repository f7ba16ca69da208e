"""Neural Characteristic Function Discrepancy (NCFD), as the NCFD authors' code computes it.

For real features R (B1 x D) and synthetic features S (B2 x D), every row L2-normalised:
Phi(t) = mean_n exp(i <t, f_n>) for frequencies t ~ N(0, I_D) drawn afresh at each call, and

    NCFD = scale * mean_t sqrt(alpha (|Phi_R| - |Phi_S|)^2
                               + (1 - alpha) max(2 (|Phi_R||Phi_S| - Re_R Re_S - Im_R Im_S), 1e-12))

(see docs/method-choices.md). The empirical characteristic functions are computed as sums
over *segments* of the rows, so that one pass over the features serves the instance loss (all
rows) and every group loss (the rows of one group) with the same frequencies. The sums run over
chunks of frequencies, and for large sets the backward pass recomputes cos and sin chunk by chunk,
so memory stays at B x freq_chunk whatever num_freqs is.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

PHASE_FLOOR = 1e-12


def draw_frequencies(dim: int, num_freqs: int, generator: torch.Generator) -> Tensor:
    """D x num_freqs frequencies t ~ N(0, I_D), no 1/sqrt(D) scaling (as in NCFD's code)."""
    return torch.randn(dim, num_freqs, generator=generator, device=generator.device)


class _SegmentCharacteristicSums(torch.autograd.Function):
    """Per-segment sums of cos(<t, x_n>) and sin(<t, x_n>) for rows sorted by segment.

    `bounds` lists each segment's (start, stop) rows. Working on contiguous row ranges lets the
    backward pass broadcast each segment's incoming gradient instead of materialising a
    B x F gradient per row. cos and sin are kept for the backward pass when `keep` (they fit
    in the caller's budget); otherwise they are recomputed chunk by chunk, so memory stays at
    B x chunk for any number of frequencies.
    """

    @staticmethod
    def forward(
        ctx, x: Tensor, freqs: Tensor, bounds: list, chunk: int, keep: bool, weights: Tensor | None
    ):
        # Segment sums as one small matrix product (faster than column sums of row slices).
        one_hot = x.new_zeros(len(bounds), x.shape[0])
        for segment, (first, last) in enumerate(bounds):
            one_hot[segment, first:last] = 1 if weights is None else weights[first:last]
        cos_sums, sin_sums, kept = [], [], []
        for start in range(0, freqs.shape[1], chunk):
            phase = x @ freqs[:, start : start + chunk]
            cos, sin = torch.cos(phase), torch.sin(phase)
            cos_sums.append(one_hot @ cos)
            sin_sums.append(one_hot @ sin)
            if keep:
                kept.append((cos, sin))
        ctx.save_for_backward(x, freqs)
        ctx.bounds, ctx.chunk, ctx.kept = bounds, chunk, kept
        return torch.cat(cos_sums, dim=1), torch.cat(sin_sums, dim=1)

    @staticmethod
    def backward(ctx, grad_cos: Tensor, grad_sin: Tensor):
        x, freqs = ctx.saved_tensors
        grad_x = torch.zeros_like(x)
        for index, start in enumerate(range(0, freqs.shape[1], ctx.chunk)):
            block = freqs[:, start : start + ctx.chunk]
            if ctx.kept:
                cos, sin = ctx.kept[index]
            else:
                phase = x @ block
                cos, sin = torch.cos(phase), torch.sin(phase)
            # d/dphase of sum cos = -sin, of sum sin = cos; one segment's gradient per row range.
            d_phase = torch.empty_like(cos)
            for segment, (first, last) in enumerate(ctx.bounds):
                if last > first:
                    rows = slice(first, last)
                    torch.mul(
                        cos[rows], grad_sin[segment, start : start + ctx.chunk], out=d_phase[rows]
                    )
                    d_phase[rows].addcmul_(
                        sin[rows], grad_cos[segment, start : start + ctx.chunk], value=-1
                    )
            grad_x.addmm_(d_phase, block.T)
        ctx.kept = []
        return grad_x, None, None, None, None, None


def segment_characteristic_sums(
    features: Tensor,
    freqs: Tensor,
    segments: Tensor,
    n_segments: int,
    chunk: int = 1024,
    keep_elements: int = 2**24,
    features_mode: str = "unit",
    weights: Tensor | None = None,
) -> tuple[Tensor, Tensor]:
    """Sums over the rows of each segment of cos and sin of <t, f/|f|>: two n_segments x F tensors.

    `features` B x D (normalised here, per row: 'unit', NCFD's choice; or 'scaled', f / sqrt(D),
    which keeps each vector's magnitude), `segments` B integer ids in [0, n_segments). `weights`
    (B, optional) weighs each row's terms: the real side of `real_weighting`, which needs no
    gradient, so weighted sums are refused for features that require one.
    """
    if weights is not None and features.requires_grad and torch.is_grad_enabled():
        raise ValueError("weighted characteristic sums are for the real side (no gradient)")
    if features_mode == "unit":
        unit = F.normalize(features.float(), dim=1)
    else:
        unit = features.float() / features.shape[1] ** 0.5
    if len(segments) > 1 and bool((segments[1:] < segments[:-1]).any()):
        order = torch.argsort(segments, stable=True)
        unit, segments = unit[order], segments[order]
        weights = None if weights is None else weights[order]
    stops = torch.bincount(segments, minlength=n_segments).cumsum(0).tolist()
    bounds = list(zip([0, *stops[:-1]], stops, strict=True))
    # Decided here: autograd runs Function.forward with gradients disabled.
    small = len(unit) * freqs.shape[1] <= keep_elements
    keep = small and unit.requires_grad and torch.is_grad_enabled()
    return _SegmentCharacteristicSums.apply(unit, freqs, bounds, chunk, keep, weights)


def characteristic_discrepancy(
    real_re: Tensor, real_im: Tensor, syn_re: Tensor, syn_im: Tensor, alpha: float, scale: float
) -> Tensor:
    """scale * mean over t of sqrt(alpha * amplitude + (1 - alpha) * phase), per leading row."""
    real_amp = (real_re.square() + real_im.square()).clamp_min(PHASE_FLOOR).sqrt()
    syn_amp = (syn_re.square() + syn_im.square()).clamp_min(PHASE_FLOOR).sqrt()
    amplitude = (real_amp - syn_amp).square()
    # 2(|a||b| - Re a Re b - Im a Im b) written as |a - b|^2 - (|a| - |b|)^2: equal in exact
    # arithmetic, but free of the cancellation that leaves ~1e-8 (0.02 after the root and the
    # scale) for two equal sets in float32.
    difference = (real_re - syn_re).square() + (real_im - syn_im).square()
    phase = (difference - amplitude).clamp_min(PHASE_FLOOR)
    return scale * torch.sqrt(alpha * amplitude + (1 - alpha) * phase).mean(dim=-1)


def ncfd(
    real: Tensor,
    syn: Tensor,
    generator: torch.Generator,
    num_freqs: int = 4096,
    alpha: float = 0.5,
    scale: float = 300.0,
    chunk: int = 1024,
) -> Tensor:
    """NCFD between two sets of feature vectors (B1 x D and B2 x D), fresh frequencies per call."""
    if real.shape[1] != syn.shape[1]:
        raise ValueError(f"feature sizes differ: {real.shape[1]} vs {syn.shape[1]}")
    freqs = draw_frequencies(real.shape[1], num_freqs, generator).to(real.device)
    sums = []
    for features in (real, syn):
        segments = torch.zeros(len(features), dtype=torch.long, device=features.device)
        re, im = segment_characteristic_sums(features, freqs, segments, 1, chunk)
        sums.append((re[0] / len(features), im[0] / len(features)))
    (real_re, real_im), (syn_re, syn_im) = sums
    return characteristic_discrepancy(real_re, real_im, syn_re, syn_im, alpha, scale)
