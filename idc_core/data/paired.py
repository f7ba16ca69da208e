"""Reading and writing the paired-image layout that BasicSR's PairedImageDataset reads as it
is (the layout itself is `idc_core.spec.layout`)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from idc_core.data.images import ImageReadError, load_rgb, save_png
from idc_core.spec.layout import HR_DIR, LR_DIR, LR_FLOAT_DIR, META_INFO


@dataclass
class PairedArrays:
    """Stacked pairs: `hr` uint8 N x H x W x 3; `lr` uint8, or float32 in [0, 1], N x h x w x 3."""

    hr: np.ndarray
    lr: np.ndarray
    names: list[str]

    def __len__(self) -> int:
        return len(self.hr)


def _atomic_write(path: Path, write) -> None:
    """Write through a temporary name and rename, so that a crash never leaves half a file."""
    tmp = path.with_name(f".{path.name}.tmp")
    write(tmp)
    os.replace(tmp, path)


def write_pairs(
    out_dir: str | Path,
    stems: list[str],
    hr: np.ndarray,
    lr: np.ndarray,
    lr_float: np.ndarray | None = None,
) -> None:
    """Write HR/LR PNG pairs (and optional float LR) under `out_dir` in the paired layout."""
    out_dir = Path(out_dir)
    if not (len(stems) == len(hr) == len(lr)) or (
        lr_float is not None and len(lr_float) != len(lr)
    ):
        raise ValueError("stems, hr, lr (and lr_float) must have the same length")
    for sub in (HR_DIR, LR_DIR) + ((LR_FLOAT_DIR,) if lr_float is not None else ()):
        (out_dir / sub).mkdir(parents=True, exist_ok=True)
    for i, stem in enumerate(stems):
        _atomic_write(out_dir / HR_DIR / f"{stem}.png", lambda p, a=hr[i]: save_png(p, a))
        _atomic_write(out_dir / LR_DIR / f"{stem}.png", lambda p, a=lr[i]: save_png(p, a))
        if lr_float is not None:
            array = np.asarray(lr_float[i], dtype=np.float32)
            _atomic_write(
                out_dir / LR_FLOAT_DIR / f"{stem}.npy", lambda p, a=array: _save_npy(p, a)
            )


def _save_npy(path: Path, array: np.ndarray) -> None:
    with open(path, "wb") as handle:
        np.save(handle, array)


def pair_stems(folder: str | Path) -> list[str]:
    """Stems present in both HR/ and LR/, sorted; raises when the layout is missing or mismatched."""
    folder = Path(folder)
    hr_dir, lr_dir = folder / HR_DIR, folder / LR_DIR
    if not hr_dir.is_dir() or not lr_dir.is_dir():
        raise ImageReadError(f"{folder}: expected the paired layout with {HR_DIR}/ and {LR_DIR}/")
    hr_stems = {p.stem for p in hr_dir.glob("*.png")}
    lr_stems = {p.stem for p in lr_dir.glob("*.png")}
    if hr_stems != lr_stems:
        missing = sorted(hr_stems ^ lr_stems)[:5]
        raise ImageReadError(f"{folder}: HR/ and LR/ names differ, e.g. {missing}")
    if not hr_stems:
        raise ImageReadError(f"{folder}: HR/ holds no PNG pairs")
    return sorted(hr_stems)


def write_meta_info(out_dir: str | Path) -> int:
    """Write meta_info.txt listing every pair with its HR size; returns the number of pairs."""
    from PIL import Image

    out_dir = Path(out_dir)
    stems = pair_stems(out_dir)
    lines = []
    for stem in stems:
        with Image.open(out_dir / HR_DIR / f"{stem}.png") as image:
            width, height = image.size
        lines.append(f"{stem}.png ({height},{width},3)\n")
    _atomic_write(out_dir / META_INFO, lambda p: p.write_text("".join(lines)))
    return len(stems)


def read_pairs(folder: str | Path, prefer_float: bool = False) -> PairedArrays:
    """Load every pair of a paired folder into memory (all pairs must share one size)."""
    folder = Path(folder)
    stems = pair_stems(folder)
    use_float = prefer_float and (folder / LR_FLOAT_DIR).is_dir()
    hr = [load_rgb(folder / HR_DIR / f"{s}.png") for s in stems]
    if use_float:
        lr = [np.load(folder / LR_FLOAT_DIR / f"{s}.npy").astype(np.float32) for s in stems]
    else:
        lr = [load_rgb(folder / LR_DIR / f"{s}.png") for s in stems]
    if len({a.shape for a in hr}) > 1 or len({a.shape for a in lr}) > 1:
        raise ImageReadError(f"{folder}: pairs differ in size; expected equal-sized patches")
    return PairedArrays(hr=np.stack(hr), lr=np.stack(lr), names=stems)
