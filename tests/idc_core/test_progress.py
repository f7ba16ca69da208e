"""The progress helper: log lines at a steady interval off a terminal, a live line on one,
nothing without a display; and every command reports through it."""

import io

import pytest
from typer.testing import CliRunner

from idc_core import progress
from idc_core.cli.main import app


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_log_lines_at_start_every_interval_and_end_with_counts_and_eta(monkeypatch):
    clock = FakeClock()
    monkeypatch.setattr(progress.time, "monotonic", clock)
    stream = io.StringIO()
    with (
        progress.report_to(stream, live=False, interval=15.0),
        progress.task("evaluate", 10, "images") as task,
    ):
        for _ in range(10):
            clock.now += 4.0  # 4 s an image: a line every fourth image (16 s >= 15 s)
            task.advance(info="psnr")
    lines = [line.split("] ", 1)[1] for line in stream.getvalue().splitlines()]
    assert lines[0] == "evaluate: started (10 images)"
    assert lines[1] == "evaluate: 4/10 images (40%), 4.0 s each, ETA 24s, psnr"
    assert lines[2] == "evaluate: 8/10 images (80%), 4.0 s each, ETA 8s, psnr"
    assert lines[3] == "evaluate: 10/10 images (100%), 4.0 s each, took 40s, psnr"
    assert len(lines) == 4


def test_skipped_items_do_not_count_towards_the_rate(monkeypatch):
    clock = FakeClock()
    monkeypatch.setattr(progress.time, "monotonic", clock)
    with progress.task("condense", 4, "images") as task:  # no display: counts only
        task.skip(2)
        clock.now += 10.0
        task.advance()
        assert task.eta() == pytest.approx(10.0)


def test_a_live_line_on_a_terminal_and_a_final_line_per_task():
    stream = io.StringIO()
    with progress.report_to(stream, live=True), progress.task("train", 3, "steps") as task:
        task.advance()
        task.advance()
        task.advance()
    text = stream.getvalue()
    assert "\r" in text and text.endswith("\n")
    assert text.rsplit("\r", 1)[-1].startswith("train: 3/3 steps (100%)") and "took" in text


def test_nothing_is_written_without_a_display(capsys):
    with progress.task("quiet", 2) as task:
        task.advance(2)
    assert capsys.readouterr() == ("", "")


def test_a_failed_task_says_where_it_stopped():
    stream = io.StringIO()
    with (
        pytest.raises(KeyError),
        progress.report_to(stream, live=False),
        progress.task("ranking", 5, "patches") as task,
    ):
        task.advance(2)
        raise KeyError("x")
    assert (
        "ranking: 2/5 patches (40%)" in stream.getvalue()
        and "stopped: KeyError" in stream.getvalue()
    )


def test_evaluate_bicubic_alone_logs_progress_off_a_terminal(photos_dir):
    result = CliRunner().invoke(app, ["evaluate", "--bicubic", str(photos_dir)])
    assert result.exit_code == 0, result.output
    assert f"bicubic on {photos_dir.name}: started (5 images)" in result.output
    assert f"bicubic on {photos_dir.name}: 5/5 images (100%)" in result.output
    assert "MATLAB convention" in result.output


def test_evaluate_needs_a_model_or_bicubic(photos_dir):
    result = CliRunner().invoke(app, ["evaluate", str(photos_dir)])
    assert result.exit_code == 1 and "--bicubic for the Bicubic row alone" in result.output
