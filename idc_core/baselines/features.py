"""Teacher features of LR patches, the embeddings the selection baselines work on."""

from collections.abc import Callable, Iterator

import numpy as np
import torch

from idc_core import progress
from idc_core.models.base import SRModel


def _feature_maps(
    teacher: SRModel, lr: np.ndarray, device: str, batch_size: int
) -> Iterator[torch.Tensor]:
    """Yield the teacher's feature maps (B x c x h x w) for `lr` (uint8 N x p x p x 3), batched."""
    teacher.eval()
    with torch.no_grad(), progress.task("teacher features", len(lr), "patches") as task:
        for start in range(0, len(lr), batch_size):
            batch = torch.from_numpy(np.ascontiguousarray(lr[start : start + batch_size]))
            batch = batch.to(device).permute(0, 3, 1, 2).float().div_(255.0)
            yield teacher.extract_features(batch)
            task.advance(len(batch))


def _stack(
    teacher: SRModel,
    lr: np.ndarray,
    device: str,
    batch_size: int,
    reduce: Callable[[torch.Tensor], torch.Tensor],
) -> np.ndarray:
    parts = [reduce(maps).cpu().numpy() for maps in _feature_maps(teacher, lr, device, batch_size)]
    if not parts:
        return np.empty((0, 0), dtype=np.float32)
    return np.concatenate(parts).astype(np.float32, copy=False)


def pooled_features(
    teacher: SRModel, lr: np.ndarray, device: str = "cpu", batch_size: int = 256
) -> np.ndarray:
    """Global-average-pooled teacher features (N x c): the embedding for Herding and K-Center."""
    return _stack(teacher, lr, device, batch_size, lambda maps: maps.mean(dim=(2, 3)))


def _gram_upper(maps: torch.Tensor) -> torch.Tensor:
    """Upper triangle (diagonal included) of each sample's c x c Gram matrix, divided by h*w."""
    flat = maps.flatten(2)
    gram = flat @ flat.transpose(1, 2) / flat.shape[2]
    rows, cols = torch.triu_indices(gram.shape[1], gram.shape[2])
    return gram[:, rows, cols]


def gram_features(
    teacher: SRModel, lr: np.ndarray, device: str = "cpu", batch_size: int = 256
) -> np.ndarray:
    """Gram-matrix texture statistics of the teacher's feature maps (N x c(c+1)/2).

    DCSR's substitute for its unavailable pretrained texture network: Gram matrices of a
    network's feature maps are the standard texture descriptor (Gatys et al., 2015).
    """
    return _stack(teacher, lr, device, batch_size, _gram_upper)
