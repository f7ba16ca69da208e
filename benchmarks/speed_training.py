"""Training speed on the CPU by memory layout: `train_sr_model` steps of edsr-tiny (batch 16, 64 px
HR patches of real photos) with the model and batches in channels-last layout (the default,
`idc_core.training.loop.CPU_LAYOUT`) and in the standard contiguous layout, interleaved in one
run so that the machine's drift hits both. Printed: seconds per `--steps` for each round, the
means and their ratio.

    python benchmarks/speed_training.py [--steps 300] [--rounds 3] [--threads 2]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import skimage.data
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from idc_core.api import PairedArrays, TrainRecipe, build_model, train_sr_model  # noqa: E402
from idc_core.training import loop  # noqa: E402


def photo_pairs(count: int = 300, size: int = 64, scale: int = 4) -> PairedArrays:
    """`count` random HR crops of scikit-image's astronaut with box-downsampled LR."""
    photo = np.asarray(skimage.data.astronaut())[..., :3]
    rng = np.random.default_rng(0)
    tops = rng.integers(0, photo.shape[0] - size, count)
    lefts = rng.integers(0, photo.shape[1] - size, count)
    hr = np.stack([photo[t : t + size, s : s + size] for t, s in zip(tops, lefts, strict=True)])
    lr = hr.reshape(count, size // scale, scale, size // scale, scale, 3).mean(axis=(2, 4))
    return PairedArrays(hr=hr, lr=lr.round().astype(np.uint8), names=[str(i) for i in range(count)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    pairs = photo_pairs()
    recipe = TrainRecipe(iterations=args.steps, batch_size=16, lr=1.5e-3, val_every=0)
    layouts = {"channels_last": torch.channels_last, "contiguous": torch.contiguous_format}
    seconds: dict[str, list[float]] = {name: [] for name in layouts}
    for _ in range(args.rounds):
        for name, layout in layouts.items():
            loop.CPU_LAYOUT = layout
            torch.manual_seed(0)
            model = build_model("edsr-tiny", 4)
            start = time.perf_counter()
            train_sr_model(model, pairs, recipe)
            seconds[name].append(time.perf_counter() - start)
    for name, values in seconds.items():
        rounds = ", ".join(f"{value:.1f}" for value in values)
        print(
            f"{name:13s}: {rounds} s per {args.steps} steps; mean {statistics.mean(values):.1f} s"
        )
    ratio = statistics.mean(seconds["contiguous"]) / statistics.mean(seconds["channels_last"])
    print(f"channels_last is {ratio:.2f}x as fast ({args.threads} threads)")


if __name__ == "__main__":
    main()
