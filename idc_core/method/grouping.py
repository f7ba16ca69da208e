"""Groups of local feature patches (section 3.4): K-means, progressive assignment, pairs.

A feature patch is handled whole (its unfolded pixel samples stay together), as the paper asks.
- The real feature patches (flattened) are clustered once into M groups with K-means.
- Synthetic feature patches are assigned to groups with quotas proportional to the real group
  sizes (largest-remainder rounding, so the quotas sum exactly to the number assigned). The
  assignment is greedy by distance: the (patch, centroid) pairs are taken nearest first, each
  patch once, each group up to its quota, so every patch goes to its nearest centroid unless that
  group is full. During the assigning phase only the nearest `fraction` of the patches is
  assigned, the fraction growing in steps to 1 (see `assignment_schedule`).
- The pair loss (eq. 8) pairs every assigned synthetic patch with its nearest real patch of the
  same group (Euclidean distance), and averages the L1 distance (mean absolute difference per
  element) over the pairs of a group, summed over groups. The search may be repeated only every
  few steps (`pair_refresh_every`), the L1 itself is computed at every step.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from sklearn.cluster import KMeans
from torch import Tensor

UNASSIGNED = -1


def kmeans_groups(
    flat_patches: Tensor, n_groups: int, seed: int, n_init: int = 2
) -> tuple[Tensor, Tensor]:
    """Cluster N' flattened real feature patches: labels (N',) and centroids (M x D) on their device.

    M is lowered to N' when there are fewer patches than groups.
    """
    data = flat_patches.detach().float().cpu().numpy()
    n_clusters = min(n_groups, len(data))
    kmeans = KMeans(n_clusters=n_clusters, n_init=n_init, random_state=seed % 2**32).fit(data)
    labels = torch.from_numpy(kmeans.labels_.astype(np.int64)).to(flat_patches.device)
    centroids = torch.from_numpy(kmeans.cluster_centers_.astype(np.float32))
    return labels, centroids.to(flat_patches.device)


def proportional_quotas(group_sizes: np.ndarray, total: int) -> np.ndarray:
    """Split `total` in proportion to `group_sizes` with largest-remainder rounding (sums to total)."""
    sizes = np.asarray(group_sizes, dtype=np.float64)
    if total < 0 or sizes.sum() <= 0:
        raise ValueError("need a non-negative total and at least one non-empty group")
    exact = sizes / sizes.sum() * total
    quotas = np.floor(exact).astype(np.int64)
    remainder = total - int(quotas.sum())
    # Ties go to the lower group index (stable sort), so the split is deterministic.
    order = np.argsort(-(exact - quotas), kind="stable")
    quotas[order[:remainder]] += 1
    return quotas


def assign_with_quotas(syn_flat: Tensor, centroids: Tensor, quotas: np.ndarray) -> Tensor:
    """Greedy nearest-centroid assignment under quotas; UNASSIGNED for patches left out.

    Exactly `quotas.sum()` patches are assigned (it must not exceed the number of patches).
    """
    n_patches = len(syn_flat)
    if int(quotas.sum()) > n_patches:
        raise ValueError(f"quotas sum to {int(quotas.sum())} but there are {n_patches} patches")
    distances = torch.cdist(syn_flat.detach().float(), centroids.float()).cpu().numpy()
    order = np.argsort(distances, axis=None, kind="stable")
    labels = np.full(n_patches, UNASSIGNED, dtype=np.int64)
    remaining = np.asarray(quotas, dtype=np.int64).copy()
    to_assign = int(remaining.sum())
    n_groups = centroids.shape[0]
    for flat_index in order:
        if to_assign == 0:
            break
        patch, group = divmod(int(flat_index), n_groups)
        if labels[patch] == UNASSIGNED and remaining[group] > 0:
            labels[patch] = group
            remaining[group] -= 1
            to_assign -= 1
    return torch.from_numpy(labels).to(syn_flat.device)


def assignment_schedule(warmup_end: int, assign_end: int, assign_steps: int) -> dict[int, float]:
    """Iteration -> fraction of synthetic patches to assign from then on.

    `assign_steps` updates, evenly spaced over [warmup_end, assign_end), with fractions
    1/assign_steps, 2/assign_steps, ..., 1; one update to 1 at warmup_end when the phase is empty.
    After the assigning phase the last assignment is kept.
    """
    length = assign_end - warmup_end
    if length <= 0:
        return {warmup_end: 1.0}
    steps = min(assign_steps, length)
    return {warmup_end + (s * length) // steps: (s + 1) / steps for s in range(steps)}


@dataclass
class RealGroups:
    """The real feature patches of each group, gathered once: members (indices into the real
    patches), their flattened rows and squared norms, for fast nearest-neighbour search."""

    members: list[Tensor]
    rows: list[Tensor]
    sq_norms: list[Tensor]

    @classmethod
    def build(cls, real_flat: Tensor, labels: Tensor, n_groups: int) -> RealGroups:
        members = [torch.nonzero(labels == g).flatten() for g in range(n_groups)]
        rows = [real_flat[m].contiguous() for m in members]
        return cls(members, rows, [r.square().sum(dim=1) for r in rows])


def nearest_real(
    syn_flat: Tensor,
    syn_labels: Tensor,
    groups: RealGroups,
    chunk_elements: int = 2**24,
    excluded_owner: Tensor | None = None,
    real_owner: Tensor | None = None,
) -> Tensor:
    """For each synthetic patch, the index of the nearest (Euclidean) real patch of its group;
    UNASSIGNED for unassigned patches. Each group is searched only among its own members.

    With `excluded_owner` (per synthetic patch) and `real_owner` (per real patch), a real patch
    whose owner equals the synthetic patch's excluded owner is never chosen, unless it is the
    only member of the group: the pairing of `pair_exclude_source`."""
    nearest = torch.full_like(syn_labels, UNASSIGNED)
    with torch.no_grad():
        for group, (members, rows, sq_norms) in enumerate(
            zip(groups.members, groups.rows, groups.sq_norms, strict=True)
        ):
            mine = torch.nonzero(syn_labels == group).flatten()
            if len(mine) == 0 or len(members) == 0:
                continue
            step = max(1, chunk_elements // len(members))
            for start in range(0, len(mine), step):
                part = mine[start : start + step]
                block = syn_flat[part].detach().to(rows.dtype)
                scores = sq_norms[None, :] - 2 * block @ rows.T
                if excluded_owner is not None and real_owner is not None:
                    own = real_owner[members][None, :] == excluded_owner[part][:, None]
                    scores = scores.masked_fill(own & (len(members) > 1), float("inf"))
                nearest[part] = members[scores.argmin(dim=1)]
    return nearest


def pair_loss(
    syn_flat: Tensor, syn_labels: Tensor, real_flat: Tensor, nearest: Tensor, n_groups: int
) -> Tensor:
    """Eq. 8: sum over groups of the mean L1 (mean absolute difference per element) between each
    assigned synthetic patch and its paired real patch `real_flat[nearest]`."""
    assigned = torch.nonzero(nearest != UNASSIGNED).flatten()
    if len(assigned) == 0:
        return syn_flat.new_zeros(())
    labels = syn_labels[assigned]
    per_pair = (syn_flat[assigned] - real_flat[nearest[assigned]]).abs().mean(dim=1)
    sums = per_pair.new_zeros(n_groups).index_add(0, labels, per_pair)
    counts = torch.bincount(labels, minlength=n_groups)
    live = counts > 0
    return (sums[live] / counts[live]).sum()
