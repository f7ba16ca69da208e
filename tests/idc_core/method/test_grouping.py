import numpy as np
import pytest
import torch

from idc_core.method.grouping import (
    UNASSIGNED,
    RealGroups,
    assign_with_quotas,
    assignment_schedule,
    kmeans_groups,
    nearest_real,
    pair_loss,
    proportional_quotas,
)


@pytest.mark.parametrize(
    ("sizes", "total"), [([50, 30, 20], 10), ([7, 7, 7], 10), ([1, 0, 99], 13), ([3, 5], 0)]
)
def test_quotas_are_proportional_and_sum_to_the_total(sizes, total):
    quotas = proportional_quotas(np.array(sizes), total)
    assert quotas.sum() == total
    exact = np.array(sizes) / sum(sizes) * total
    assert np.all(np.abs(quotas - exact) < 1)


def test_quotas_use_the_largest_remainders():
    assert proportional_quotas(np.array([50, 30, 20]), 7).tolist() == [4, 2, 1]  # 3.5 2.1 1.4
    assert proportional_quotas(np.array([1, 1, 1]), 2).tolist() == [1, 1, 0]  # ties: low index


def test_assignment_goes_to_the_nearest_centroid_until_a_group_is_full():
    centroids = torch.tensor([[0.0, 0.0], [10.0, 0.0]])
    syn = torch.tensor([[0.1, 0.0], [0.2, 0.0], [0.3, 0.0], [9.0, 0.0]])
    labels = assign_with_quotas(syn, centroids, np.array([2, 2]))
    # The two closest to centroid 0 fill its quota; the third overflows to group 1.
    assert labels.tolist() == [0, 0, 1, 1]
    partial = assign_with_quotas(syn, centroids, np.array([1, 1]))
    assert partial.tolist() == [0, UNASSIGNED, UNASSIGNED, 1]


def test_schedule_grows_to_full_assignment_in_steps():
    assert assignment_schedule(10, 20, 5) == {10: 0.2, 12: 0.4, 14: 0.6, 16: 0.8, 18: 1.0}
    assert assignment_schedule(10, 10, 5) == {10: 1.0}


def test_kmeans_groups_separates_clusters(small_instance):
    data = torch.cat([torch.randn(20, 3) * 0.1, torch.randn(30, 3) * 0.1 + 5])
    labels, centroids = kmeans_groups(data, 2, seed=0, n_init=1)
    assert sorted(torch.bincount(labels).tolist()) == [20, 30]
    assert len(set(labels[:20].tolist())) == 1 and len(set(labels[20:].tolist())) == 1
    assert centroids.shape == (2, 3)


def _pair_loss(real, real_labels, syn, syn_labels, n_groups):
    groups = RealGroups.build(real, real_labels, n_groups)
    nearest = nearest_real(syn, syn_labels, groups)
    return nearest, pair_loss(syn, syn_labels, real, nearest, n_groups)


def test_pair_loss_pairs_each_synthetic_patch_with_its_nearest_real_patch_in_its_group():
    real = torch.tensor([[0.0, 0.0], [1.0, 1.0], [5.0, 5.0], [6.0, 6.0]])
    real_labels = torch.tensor([0, 0, 1, 1])
    syn = torch.tensor([[0.9, 1.2], [5.5, 5.0], [0.0, 0.5], [100.0, 100.0]], requires_grad=True)
    syn_labels = torch.tensor([0, 1, 0, UNASSIGNED])
    nearest, loss = _pair_loss(real, real_labels, syn, syn_labels, 2)
    assert nearest.tolist() == [1, 2, 0, UNASSIGNED]
    # group 0: |[0.9,1.2]-[1,1]| -> 0.15, |[0,0.5]-[0,0]| -> 0.25, mean 0.2; group 1: 0.25.
    assert loss.item() == pytest.approx(0.2 + 0.25)
    loss.backward()
    assert syn.grad[3].abs().sum() == 0 and syn.grad[:3].abs().sum() > 0

    odd = torch.tensor([[4.0, 4.0]], requires_grad=True)
    # Nearest overall is real row 2 ([5, 5]), but within group 0 it is real row 1 ([1, 1]).
    nearest, loss = _pair_loss(real, real_labels, odd, torch.tensor([0]), 2)
    assert nearest.tolist() == [1] and loss.item() == pytest.approx(3.0)


def test_nearest_search_in_chunks_equals_brute_force():
    generator = torch.Generator().manual_seed(0)
    real = torch.randn(200, 6, generator=generator)
    real_labels = torch.randint(0, 4, (200,), generator=generator)
    syn = torch.randn(50, 6, generator=generator)
    syn_labels = torch.randint(0, 4, (50,), generator=generator)
    groups = RealGroups.build(real, real_labels, 4)
    nearest = nearest_real(syn, syn_labels, groups, chunk_elements=64)
    for i in range(50):
        candidates = torch.nonzero(real_labels == syn_labels[i]).flatten()
        best = candidates[torch.cdist(syn[i : i + 1], real[candidates]).argmin()]
        assert nearest[i] == best
