"""The results of a benchmark: the Markdown tables, the Whole-vs-Random check, the plot."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np


def mean_and_sd(values: Sequence[float]) -> tuple[float, float]:
    """Mean and sample standard deviation over seeds (NaN for a single seed: no spread known)."""
    array = np.asarray(values, dtype=np.float64)
    return float(array.mean()), float(array.std(ddof=1)) if len(array) > 1 else math.nan


def _cell(values: Sequence[float], digits: int) -> str:
    mean, sd = mean_and_sd(values)
    return f"{mean:.{digits}f}" if math.isnan(sd) else f"{mean:.{digits}f} ± {sd:.{digits}f}"


def markdown_table(
    rows: dict[str, list[dict]], test_names: Sequence[str], title: str, convention: str = "basicsr"
) -> str:
    """Rows of `mean ± sd over seeds` for PSNR (dB) and SSIM on each test set."""
    header = ["training set", "pairs", "seeds"]
    for name in test_names:
        header += [f"{name} PSNR", f"{name} SSIM"]
    lines = [f"## {title}", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row, records in rows.items():
        cells = [row, str(records[0]["pairs"]), str(len(records))]
        for name in test_names:
            for metric, digits in (("psnr", 2), ("ssim", 4)):
                cells.append(_cell([r["scores"][name][metric] for r in records], digits))
        lines.append("| " + " | ".join(cells) + " |")
    lines += [
        "",
        "Mean ± sample standard deviation over student seeds. PSNR (dB) and SSIM on the Y",
        f"channel, `scale` pixels cropped at every border, {convention} convention"
        + (
            " (grey images as grey levels, Y rounded to 8 bits as MATLAB's rgb2ycbcr)."
            if convention == "matlab"
            else " (BasicSR's calculate_psnr / calculate_ssim)."
        ),
    ]
    return "\n".join(lines) + "\n"


def difference_table(rows: dict[str, list[dict]], test_names: Sequence[str], reference: str) -> str:
    """Each row's mean PSNR and SSIM minus the reference row's, as the paper's Table 2 shows."""
    header = ["training set"]
    for name in test_names:
        header += [f"{name} ΔPSNR", f"{name} ΔSSIM"]
    lines = [f"Difference from {reference} (means over seeds):", ""]
    lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row, records in rows.items():
        cells = [row]
        for name in test_names:
            for metric, digits in (("psnr", 2), ("ssim", 4)):
                mean = mean_and_sd([r["scores"][name][metric] for r in records])[0]
                ref = mean_and_sd([r["scores"][name][metric] for r in rows[reference]])[0]
                cells.append(f"{mean - ref:+.{digits}f}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def separation_check(
    rows: dict[str, list[dict]], test_names: Sequence[str], better: str, worse: str
) -> list[str]:
    """Can this protocol tell `better` (Whole) from `worse` (Random)? Per test set: the gap in mean
    PSNR against the pooled seed spread. A gap under three spreads means no comparison between
    selection methods can be read from the table (NOTES.md, CPU calibration)."""
    lines = []
    for name in test_names:
        a_mean, a_sd = mean_and_sd([r["scores"][name]["psnr"] for r in rows[better]])
        b_mean, b_sd = mean_and_sd([r["scores"][name]["psnr"] for r in rows[worse]])
        pooled = math.sqrt((a_sd**2 + b_sd**2) / 2)
        gap = a_mean - b_mean
        if math.isnan(pooled):
            verdict = "unknown: one seed gives no spread, use --seeds 2 or more"
        else:
            verdict = "separated" if gap > 3 * pooled and gap > 0 else "NOT separated"
        lines.append(
            f"{name}: {better} - {worse} = {gap:+.3f} dB, pooled seed sd {pooled:.3f} dB -> {verdict}"
        )
    return lines


def write_report(
    out: Path,
    results: dict[str, list[dict]],
    test_names: Sequence[str],
    title: str,
    val_name: str,
    reference: str | None = None,
    convention: str = "basicsr",
) -> str:
    """Write `table.md` (with the Whole-vs-Random check when both rows exist) and, when every
    student recorded a validation curve (not only the final point), `validation.png`; returns the
    table text."""
    table = markdown_table(results, test_names, title, convention)
    if reference in results:
        table += "\n" + difference_table(results, test_names, reference)
    if {"Whole", "Random"} <= results.keys():
        check = separation_check(results, test_names, "Whole", "Random")
        table += "\nCan this protocol tell Whole from Random?\n\n"
        table += "".join(f"- {line}\n" for line in check)
    (out / "table.md").write_text(table)
    if all(len(record["validation"]) > 1 for records in results.values() for record in records):
        plot_validation(results, out / "validation.png", val_name)
    return table


def plot_validation(rows: dict[str, list[dict]], path: Path, val_name: str) -> None:
    """Validation PSNR against iterations per row, mean over seeds (Figure 3, right)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(6, 4))
    for row, records in rows.items():
        curves = [r["validation"] for r in records]
        steps = [point["iteration"] for point in curves[0]]
        psnr = np.mean([[point["psnr_y"] for point in curve] for curve in curves], axis=0)
        axes.plot(steps, psnr, marker="o", markersize=3, label=row)
    axes.set_xlabel("iteration")
    axes.set_ylabel(f"{val_name} Y-PSNR (dB)")
    axes.set_title("Validation during student training (mean over seeds)")
    axes.grid(alpha=0.3)
    axes.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)
