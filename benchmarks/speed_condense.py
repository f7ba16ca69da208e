"""How much one IDC step costs beyond the teacher itself.

Condenses one 481 x 321 image (a crop of skimage's astronaut photo, or --image) cut into 64 x 64 HR
patches with step 32 at x4, r = 0.1, with the `cpu` preset and an edsr-tiny teacher (untrained:
speed does not depend on the weights). Every IDC step is timed, and right after it, inside the
same run and under the same machine load, the bare teacher cost on a batch of the same shape:
`extract_features` forward plus backward to the input pixels, which any feature-matching method
pays. Printed: median and mean ms per IDC step (overall and per phase), the teacher's ms, their
ratio (goal <= 1.5), peak memory (process max RSS on CPU, torch.cuda.max_memory_allocated on
CUDA) and the throughput in instances per minute, setup and up-sampling included.

With --instances-per-batch K, K copies of the image (named apart, so seeded apart) are condensed
together as one group (`condense_group`): one teacher batch of K n patches per step. The teacher
reference is then timed on a batch of that shape, and the throughput counts all K instances.

    python benchmarks/speed_condense.py [--device cpu] [--iterations 200] [--json out.json]
                                        [--instances-per-batch 8]
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from idc_core.api import build_model, build_settings, load_model, resolve_device  # noqa: E402
from idc_core.data.images import load_rgb  # noqa: E402
from idc_core.data.patches import PatchSettings, make_instance  # noqa: E402
from idc_core.method.condense import condense_group  # noqa: E402
from idc_core.method.instance_state import patches_to_tensor  # noqa: E402


def demo_image() -> np.ndarray:
    """A 321 x 481 RGB photo (the size of a BSD image) that needs no downloads."""
    from skimage import data

    return data.astronaut()[:321, :481]


def teacher_step_seconds(teacher: torch.nn.Module, batch: torch.Tensor) -> float:
    """One bare extract_features forward + backward to the input, synchronised on CUDA."""
    leaf = batch.detach().clone().requires_grad_()
    if batch.is_cuda:
        torch.cuda.synchronize()
    start = time.perf_counter()
    teacher.extract_features(leaf).square().mean().backward()
    if batch.is_cuda:
        torch.cuda.synchronize()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--image", type=Path, help="image to condense (default: astronaut crop)")
    parser.add_argument("--teacher", type=Path, help="teacher checkpoint (default: edsr-tiny)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--preset", default="cpu")
    parser.add_argument("--iterations", type=int, default=200)
    parser.add_argument("--ratio", type=float, default=0.1)
    parser.add_argument("--patch-size", type=int, default=64)
    parser.add_argument("--step", type=int, default=32)
    parser.add_argument("--scale", type=int, default=4)
    parser.add_argument("--warmup", type=int, default=5, help="first steps left out of the stats")
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's)")
    parser.add_argument(
        "--instances-per-batch", type=int, default=1, help="instances condensed as one group"
    )
    parser.add_argument(
        "--set",
        nargs="*",
        default=[],
        metavar="KEY=VALUE",
        help="override IDC settings, e.g. num_freqs=128",
    )
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    device = resolve_device(args.device)
    image = load_rgb(args.image) if args.image else demo_image()
    patch = PatchSettings(patch_size=args.patch_size, step=args.step, scale=args.scale)
    group = args.instances_per_batch
    instances = [make_instance(f"speed{i}", image, patch) for i in range(group)]
    instance = instances[0]
    torch.manual_seed(0)
    teacher = (
        load_model(args.teacher, device=str(device))
        if args.teacher
        else build_model("edsr-tiny", args.scale)
    ).to(device)
    teacher.requires_grad_(False)
    overrides = {key: json.loads(value) for key, value in (kv.split("=", 1) for kv in args.set)}
    settings = build_settings(args.preset, {"iterations": args.iterations, **overrides})

    n = max(1, int(np.ceil(round(args.ratio * len(instance), 9))))
    batch = patches_to_tensor(np.concatenate([instance.lr[:n]] * group), device)
    for _ in range(3):
        teacher_step_seconds(teacher, batch)
    # The first optimiser of a process imports torch._dynamo (about a second): not per instance.
    torch.optim.AdamW([torch.zeros(1, requires_grad=True)])
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()

    step_times: list[float] = []
    teacher_times: list[float] = []
    mark = [time.perf_counter()]

    def on_step(position: int, step: int, steps: int, losses: dict[str, float]) -> None:
        if position < group - 1:  # time each step once, after the group's last instance
            return
        if device.type == "cuda":
            torch.cuda.synchronize()
        step_times.append(time.perf_counter() - mark[0])
        teacher_times.append(teacher_step_seconds(teacher, batch))
        mark[0] = time.perf_counter()

    started = time.perf_counter()
    results = condense_group(
        instances, teacher, args.ratio, settings, list(range(group)), device, on_step=on_step
    )
    wall = time.perf_counter() - started
    condensing_s = wall - sum(teacher_times)

    stats = results[0].stats
    skip = args.warmup
    ms = np.array(step_times[skip:]) * 1000
    teacher_ms = np.array(teacher_times[skip:]) * 1000
    phases = {
        "warm-up (instance loss)": slice(skip, stats["warmup_end"]),
        "assigning": slice(max(skip, stats["warmup_end"]), stats["assign_end"]),
        "all losses": slice(max(skip, stats["assign_end"]), len(step_times)),
    }
    figures = {
        "device": str(device),
        "torch_threads": torch.get_num_threads(),
        "instances_per_batch": group,
        "instance": {
            "n_real": stats["n_real"],
            "n_synthetic": stats["n_synthetic"],
            "lr_patch": list(instance.lr.shape[1:3]),
            "real_feature_patches": stats["n_real_feature_patches"],
        },
        "settings": settings.model_dump(),
        "idc_ms_per_step_median": float(np.median(ms)),
        "idc_ms_per_step_mean": float(ms.mean()),
        "teacher_fwd_bwd_ms_median": float(np.median(teacher_ms)),
        "teacher_fwd_bwd_ms_mean": float(teacher_ms.mean()),
        "ratio_of_medians": float(np.median(ms) / np.median(teacher_ms)),
        "ratio_of_means": float(ms.mean() / teacher_ms.mean()),
        "amortised_ms_per_step_with_setup": condensing_s * 1000 / len(step_times),
        "instances_per_minute": group * 60 / condensing_s,
        "per_phase": {},
        "setup_s": {k: v for k, v in stats["timings"].items() if k != "optimise_s"},
        "wall_s_including_interleaved_teacher_timing": wall,
    }
    for name, part in phases.items():
        idc = np.array(step_times[part]) * 1000
        ref = np.array(teacher_times[part]) * 1000
        if len(idc):
            figures["per_phase"][name] = {
                "steps": len(idc),
                "idc_ms_median": float(np.median(idc)),
                "teacher_ms_median": float(np.median(ref)),
                "ratio": float(statistics.median(idc / ref)),
            }
    if device.type == "cuda":
        figures["peak_cuda_memory_mb"] = torch.cuda.max_memory_allocated() / 2**20
    figures["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    print(
        f"device {figures['device']} ({figures['torch_threads']} threads), "
        f"N={stats['n_real']} real patches -> n={stats['n_synthetic']} synthetic "
        f"({instance.lr.shape[1]}x{instance.lr.shape[2]} LR), preset {args.preset}, "
        f"{args.iterations} steps, {group} instance(s) per batch"
    )
    print(
        f"IDC step:      median {figures['idc_ms_per_step_median']:.1f} ms, "
        f"mean {figures['idc_ms_per_step_mean']:.1f} ms"
    )
    print(
        f"IDC amortised: {figures['amortised_ms_per_step_with_setup']:.1f} ms per step, "
        "counting features, K-means, frequency bank and up-sampling"
    )
    print(f"throughput:    {figures['instances_per_minute']:.2f} instances per minute")
    print(
        f"teacher f+b:   median {figures['teacher_fwd_bwd_ms_median']:.1f} ms, "
        f"mean {figures['teacher_fwd_bwd_ms_mean']:.1f} ms"
    )
    print(
        f"ratio:         {figures['ratio_of_medians']:.2f} (medians), "
        f"{figures['ratio_of_means']:.2f} (means); goal <= 1.5"
    )
    for name, row in figures["per_phase"].items():
        print(
            f"  {name:26s} {row['steps']:4d} steps  IDC {row['idc_ms_median']:.1f} ms  "
            f"teacher {row['teacher_ms_median']:.1f} ms  ratio {row['ratio']:.2f}"
        )
    print("setup: " + ", ".join(f"{k} {v:.2f}" for k, v in figures["setup_s"].items()))
    if "peak_cuda_memory_mb" in figures:
        print(f"peak CUDA memory {figures['peak_cuda_memory_mb']:.0f} MB")
    print(f"peak RSS {figures['peak_rss_mb']:.0f} MB")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
