"""The downloadable result: a zip of the paired dataset, and a preview PNG of some pairs."""

from __future__ import annotations

import zipfile
from pathlib import Path

from PIL import Image

from idc_core.spec import DATASET_ENTRIES, HR_DIR, LR_DIR

_STORED_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp"}  # already compressed


def make_zip(dataset_dir: Path, zip_path: Path, root_name: str) -> int:
    """Zip the dataset (not the per-instance markers, which are bookkeeping for resumption)
    under `root_name`/; returns the number of files written."""
    count = 0
    with zipfile.ZipFile(zip_path, "w") as archive:
        for entry in DATASET_ENTRIES:
            path = dataset_dir / entry
            files = sorted(path.rglob("*")) if path.is_dir() else [path] if path.exists() else []
            for file in files:
                if not file.is_file() or file.name.startswith("."):
                    continue
                compression = (
                    zipfile.ZIP_STORED
                    if file.suffix.lower() in _STORED_SUFFIXES
                    else zipfile.ZIP_DEFLATED
                )
                arcname = f"{root_name}/{file.relative_to(dataset_dir).as_posix()}"
                archive.write(file, arcname, compress_type=compression)
                count += 1
    return count


def make_preview(dataset_dir: Path, preview_path: Path, pairs: int = 8, cell: int = 128) -> int:
    """A grid of up to `pairs` rows: the LR patch (nearest-neighbour enlarged) beside its HR
    patch, `cell` pixels each. Returns the number of rows drawn (0 writes nothing)."""
    stems = sorted(p.stem for p in (dataset_dir / HR_DIR).glob("*.png"))[:pairs]
    stems = [s for s in stems if (dataset_dir / LR_DIR / f"{s}.png").is_file()]
    if not stems:
        return 0
    gap = 4
    grid = Image.new("RGB", (2 * cell + 3 * gap, len(stems) * (cell + gap) + gap), "white")
    for row, stem in enumerate(stems):
        y = gap + row * (cell + gap)
        for column, folder, resample in (
            (0, LR_DIR, Image.Resampling.NEAREST),
            (1, HR_DIR, Image.Resampling.BICUBIC),
        ):
            with Image.open(dataset_dir / folder / f"{stem}.png") as image:
                tile = image.convert("RGB").resize((cell, cell), resample)
            grid.paste(tile, (gap + column * (cell + gap), y))
    grid.save(preview_path, format="PNG")
    return len(stems)
