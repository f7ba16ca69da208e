import torch

from idc_core.method.ncfd import (
    characteristic_discrepancy,
    draw_frequencies,
    ncfd,
    segment_characteristic_sums,
)


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


def _reference_ncfd(real, syn, freqs, alpha=0.5, scale=300.0):
    """The formula of docs/method-choices.md written out directly with autograd."""
    real = real / real.norm(dim=1, keepdim=True)
    syn = syn / syn.norm(dim=1, keepdim=True)
    r_re, r_im = torch.cos(real @ freqs).mean(0), torch.sin(real @ freqs).mean(0)
    s_re, s_im = torch.cos(syn @ freqs).mean(0), torch.sin(syn @ freqs).mean(0)
    r_amp, s_amp = torch.sqrt(r_re**2 + r_im**2), torch.sqrt(s_re**2 + s_im**2)
    amplitude = (r_amp - s_amp) ** 2
    phase = (2 * (r_amp * s_amp - r_re * s_re - r_im * s_im)).clamp_min(1e-12)
    return scale * torch.sqrt(alpha * amplitude + (1 - alpha) * phase).mean()


def test_matches_the_formula_and_its_gradient():
    real = torch.randn(50, 6, generator=_gen(1))
    syn = torch.randn(20, 6, generator=_gen(2)).requires_grad_()
    loss = ncfd(real, syn, _gen(3), num_freqs=300, chunk=64)
    freqs = draw_frequencies(6, 300, _gen(3))
    syn_ref = syn.detach().clone().requires_grad_()
    expected = _reference_ncfd(real, syn_ref, freqs)
    assert torch.allclose(loss, expected, rtol=1e-4)
    loss.backward()
    expected.backward()
    assert torch.isfinite(syn.grad).all() and syn.grad.abs().sum() > 0
    assert torch.allclose(syn.grad, syn_ref.grad, rtol=1e-3, atol=1e-5)


def test_recomputing_backward_equals_kept_backward():
    x = torch.randn(40, 5, generator=_gen(4))
    freqs = draw_frequencies(5, 100, _gen(5))
    segments = torch.arange(40) % 3
    grads = []
    for keep in (2**24, 0):
        leaf = x.clone().requires_grad_()
        cos, sin = segment_characteristic_sums(
            leaf, freqs, segments, 3, chunk=32, keep_elements=keep
        )
        (cos.square().sum() + (sin * torch.arange(3.0)[:, None]).sum()).backward()
        grads.append(leaf.grad)
    assert torch.allclose(grads[0], grads[1], atol=1e-6)


def test_segment_sums_equal_per_segment_sums():
    x = torch.randn(30, 4, generator=_gen(6))
    freqs = draw_frequencies(4, 16, _gen(7))
    segments = torch.randint(0, 3, (30,), generator=_gen(8))
    cos, sin = segment_characteristic_sums(x, freqs, segments, 3, chunk=5)
    unit = x / x.norm(dim=1, keepdim=True)
    for s in range(3):
        phase = unit[segments == s] @ freqs
        assert torch.allclose(cos[s], torch.cos(phase).sum(0), atol=1e-5)
        assert torch.allclose(sin[s], torch.sin(phase).sum(0), atol=1e-5)


def test_identical_sets_give_about_zero_and_the_loss_is_symmetric():
    a = torch.randn(64, 8, generator=_gen(9))
    b = torch.randn(32, 8, generator=_gen(10)) + 0.5
    assert ncfd(a, a, _gen(0), num_freqs=512) < 1e-3
    assert torch.allclose(ncfd(a, b, _gen(0), num_freqs=512), ncfd(b, a, _gen(0), num_freqs=512))


def test_grows_with_a_shift():
    real = torch.randn(200, 8, generator=_gen(11))
    direction = torch.zeros(8)
    direction[0] = 1.0
    values = [
        ncfd(real, real + shift * direction, _gen(0), num_freqs=1024).item()
        for shift in (0.0, 0.3, 1.0, 3.0)
    ]
    assert values[0] < 1e-3
    assert values == sorted(values) and values[-1] > 5 * values[1] > 0


def test_discrepancy_is_zero_for_equal_characteristic_functions():
    re, im = torch.rand(2, 10), torch.rand(2, 10)
    out = characteristic_discrepancy(re, im, re, im, alpha=0.5, scale=300.0)
    assert out.shape == (2,) and (out < 1e-3).all()
