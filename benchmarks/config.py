"""What a benchmark run depends on (`BenchmarkConfig`), built from a command's options, and the
row keys it understands: Whole, the selections (with `-t` for teacher-made HR), IDC, its presets
and `idc[setting=value;...]` variants, and the float-LR row."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from benchmarks.console import BenchmarkError
from idc_core.api import DEFAULT_CONVENTION, PRESETS, PatchSettings, TrainRecipe, resolve_device

SHARED_SR = Path(__file__).resolve().parents[2] / "shared" / "data" / "sr"


FLOAT_LR_ROW = "idc-float"
"""A row that trains on the `idc` row's set but reads its float LR (`LR_float/`), not the 8-bit
PNGs: the two rows differ only in the rounding of the LR inputs."""


class BenchmarkConfig(BaseModel):
    """Everything a benchmark run depends on. All but `out`, `rows`, `labels` and `seeds` must
    match the `settings.json` of an existing out folder, whose caches are then reused."""

    model_config = ConfigDict(frozen=True)

    out: Path
    rows: list[str] = Field(
        description="row keys: whole, a selection method, idc, idc-float, v1..v7"
    )
    labels: dict[str, str] = Field(description="row key -> label in the table")
    seeds: int = Field(ge=1, description="students per row")
    train_folders: list[Path]
    images: int | None = Field(
        description="evenly spaced training images the condensed rows use (None: all)"
    )
    whole_on_all_images: bool = Field(
        description="the Whole row is every pair of every image, not of the `images` subset"
    )
    test_folders: list[Path]
    val_folder: Path
    patch: PatchSettings
    ratio: float = Field(gt=0, le=1, description="IDC's ratio per image")
    arch: str = Field(description="teacher and student architecture")
    teacher: Path = Field(description="teacher checkpoint; trained there when missing")
    teacher_on_all_images: bool = Field(description="train on every image, not the subset")
    teacher_recipe: TrainRecipe
    student_recipe: TrainRecipe
    upsampler_feat: int = Field(
        ge=0, description="0: the teacher makes HR; else channels of a larger stage-2 up-sampler"
    )
    upsampler_blocks: int = Field(ge=1, description="residual blocks of that up-sampler")
    upsampler_iterations: int = Field(ge=1, description="its training steps, teacher's pairs")
    idc_features: Literal["teacher", "upsampler"] = Field(
        "teacher", description="the network whose features the IDC rows match (stage 1)"
    )
    idc_preset: str
    idc_overrides: dict
    selection_seed: int
    device: str
    convention: str = Field(
        DEFAULT_CONVENTION,
        description="metric convention of the scores in the table (students record basicsr's too)",
    )

    @model_validator(mode="after")
    def _features_need_an_upsampler(self) -> Self:
        if self.idc_features == "upsampler" and not self.upsampler_feat:
            raise ValueError("--idc-features upsampler needs --upsampler-feat N (N > 0)")
        return self

    def idc_presets(self) -> set[str]:
        """The IDC presets the rows use: `idc_preset`, and the ablation variants by name."""
        return {self.idc_preset} | {row for row in self.rows if row in PRESETS}

    def idc_settings_of_rows(self) -> list[dict]:
        """The overrides of every IDC row (preset rows and `idc[...]` rows), to check early."""
        variants = [variant_overrides(row) for row in self.rows]
        return [self.idc_overrides] + [self.idc_overrides | v for v in variants if v is not None]

    def teacher_is_whole_student(self) -> bool:
        """True when the teacher would be trained exactly as the Whole row's seed-0 student (same
        pairs, recipe and seed): it is then trained once and serves as both."""
        return (
            not self.teacher_on_all_images
            and "whole" in self.rows
            and self.teacher_recipe == self.student_recipe.model_copy(update={"seed": 0})
        )

    def cache_key(self) -> dict:
        return self.model_dump(mode="json", exclude={"out", "rows", "labels", "seeds"})


SELECTION_LABELS = {"random": "Random", "herding": "Herding", "kcenter": "K-Center", "dcsr": "DCSR"}


TEACHER_HR_SUFFIX = "-t"
"""`random-t`, `kcenter-t`, ...: the selection's real LR patches with HR made by the teacher."""


VARIANT_ROW = re.compile(r"^idc\[(?P<changes>[^\]]*)\]$")
"""`idc[init=noise;iterations=2000]`: the IDC row with some settings changed (its own set)."""


def split_rows(text: str) -> list[str]:
    """Comma-separated row keys; commas inside `idc[...]` brackets do not split."""
    return [row.strip() for row in re.split(r",(?![^\[]*\])", text) if row.strip()]


def variant_overrides(row: str) -> dict | None:
    """The settings an `idc[k=v;...]` row changes, parsed as JSON values; None for other rows."""
    match = VARIANT_ROW.match(row)
    if match is None:
        return None
    changes = {}
    for item in filter(None, (part.strip() for part in match["changes"].split(";"))):
        key, sep, value = item.partition("=")
        if not sep:
            raise BenchmarkError(f"{row}: expected key=value, got {item!r}")
        try:
            changes[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            changes[key.strip()] = value.strip()
    return changes


def row_label(row: str, labels: dict[str, str]) -> str | None:
    """The table label of a row key, or None when the key is unknown."""
    if row in labels:
        return labels[row]
    base = row.removesuffix(TEACHER_HR_SUFFIX)
    if row.endswith(TEACHER_HR_SUFFIX) and base in SELECTION_LABELS:
        return f"{SELECTION_LABELS[base]}-T"
    if variant_overrides(row) is not None:
        return row
    return None


def config_from_options(
    options: dict,
    labels: dict[str, str],
    teacher_on_all_images: bool,
    whole_on_all_images: bool,
) -> BenchmarkConfig:
    """A `BenchmarkConfig` from the options of a benchmark command (its parameters by name)."""
    out, batch_size, lr = options["out"], options["batch_size"], options["learning_rate"]
    rows = split_rows(options["rows"])
    unknown = [name for name in rows if row_label(name, labels) is None]
    if unknown or not rows:
        raise BenchmarkError(
            f"unknown rows {unknown}; choose among {', '.join(labels)}, a selection with "
            f"'{TEACHER_HR_SUFFIX}' (teacher-made HR) or idc[setting=value;...]"
        )
    labels = {row: row_label(row, labels) for row in rows} | labels
    return BenchmarkConfig(
        out=out,
        rows=rows,
        labels=labels,
        seeds=options["seeds"],
        train_folders=options["train_folder"] or [SHARED_SR / "T91", SHARED_SR / "BSD200"],
        images=options["images"],
        whole_on_all_images=whole_on_all_images,
        test_folders=options["test_folder"] or [SHARED_SR / "Set5", SHARED_SR / "Set14"],
        val_folder=options["val_folder"],
        patch=PatchSettings(
            patch_size=options["patch_size"], step=options["step"], scale=options["scale"]
        ),
        ratio=options["ratio"],
        arch=options["arch"],
        teacher=options["teacher"] or out / "teacher.safetensors",
        teacher_on_all_images=teacher_on_all_images,
        teacher_recipe=TrainRecipe(
            iterations=options["teacher_iterations"] or options["student_iterations"],
            batch_size=batch_size,
            lr=lr,
            seed=0,
            val_every=options["val_every"],  # used only when it is the Whole row's student
        ),
        student_recipe=TrainRecipe(
            iterations=options["student_iterations"],
            batch_size=batch_size,
            lr=lr,
            val_every=options["val_every"],
        ),
        upsampler_feat=options["upsampler_feat"],
        upsampler_blocks=options["upsampler_blocks"],
        upsampler_iterations=options["upsampler_iterations"],
        idc_features=options["idc_features"],
        idc_preset=options["idc_preset"],
        idc_overrides={"iterations": options["idc_iterations"]}
        if options["idc_iterations"]
        else {},
        selection_seed=options["selection_seed"],
        device=str(resolve_device(options["device"])),
    )


def check_settings(config: BenchmarkConfig) -> None:
    """Write `settings.json`, or refuse when the folder holds results of other settings."""
    config.out.mkdir(parents=True, exist_ok=True)
    path = config.out / "settings.json"
    settings = config.cache_key()
    if path.exists():
        previous = json.loads(path.read_text())
        changed = sorted(
            k for k in settings.keys() | previous.keys() if previous.get(k) != settings.get(k)
        )
        if changed:
            raise BenchmarkError(
                f"{config.out} holds results made with other settings ({', '.join(changed)}); "
                "use another --out folder or delete this one"
            )
    path.write_text(json.dumps(settings, indent=2, sort_keys=True))
