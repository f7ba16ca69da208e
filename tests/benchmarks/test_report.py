"""The benchmark report: mean ± sd cells and the Whole-vs-Random separation check."""

import math

from benchmarks.report import markdown_table, separation_check


def record(pairs: int, psnr: float, ssim: float = 0.8) -> dict:
    return {"pairs": pairs, "scores": {"Set5": {"psnr": psnr, "ssim": ssim}}}


def test_table_shows_mean_and_sample_sd_or_the_mean_alone_for_one_seed():
    rows = {"Whole": [record(100, 30.0), record(100, 30.2)], "Random": [record(1, 29.5)]}
    table = markdown_table(rows, ["Set5"], "t")
    assert f"| Whole | 100 | 2 | 30.10 ± {math.sqrt(0.02):.2f} | 0.8000 ± 0.0000 |" in table
    assert "| Random | 1 | 1 | 29.50 | 0.8000 |" in table


def test_separation_check_compares_the_gap_with_the_seed_spread():
    apart = {
        "Whole": [record(9, 30.0), record(9, 30.02)],
        "Random": [record(1, 29.7), record(1, 29.72)],
    }
    close = {
        "Whole": [record(9, 30.0), record(9, 30.2)],
        "Random": [record(1, 29.9), record(1, 30.1)],
    }
    one_seed = {"Whole": [record(9, 30.0)], "Random": [record(1, 29.0)]}
    assert separation_check(apart, ["Set5"], "Whole", "Random")[0].endswith("-> separated")
    assert "NOT separated" in separation_check(close, ["Set5"], "Whole", "Random")[0]
    assert "one seed" in separation_check(one_seed, ["Set5"], "Whole", "Random")[0]
