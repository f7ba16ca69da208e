"""`idc condense`: condense a folder of images with IDC (or a selection baseline), resumably."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError

from idc_core import progress
from idc_core.api import (
    CondenseJob,
    PatchSettings,
    ProgressEvent,
    check_images,
    condense_images,
    describe_teacher,
    finalize_dataset,
    get_recipe,
    list_images,
    load_model,
    resolve_device,
    save_model,
    train_teacher,
)
from idc_core.cli.common import console, error_console, user_errors
from idc_core.cli.prepare import ImagesDir, OutDir, Overwrite, PatchSize, Scale, Step, report_claim
from idc_core.cli.summary import print_diagnostics
from idc_core.manifest import weights_sha256
from idc_core.output_folder import claim_output_folder
from idc_core.run_identity import condense_run

TEACHER_FILE = "teacher.safetensors"


def parse_overrides(pairs: list[str]) -> dict[str, Any]:
    """--set key=value -> {key: value}; values are read as JSON when they parse (3, 0.5, true)."""
    overrides: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"--set expects key=value, got {pair!r}")
        try:
            overrides[key.strip()] = json.loads(raw)
        except json.JSONDecodeError:
            overrides[key.strip()] = raw
    return overrides


def describe_validation_error(error: ValidationError) -> str:
    """One line per bad option: 'ratio: Input should be greater than 0'."""
    return "; ".join(
        f"{'.'.join(str(part) for part in e['loc']) or 'settings'}: {e['msg']}"
        for e in error.errors()
    )


class _ImagesProgress:
    """The ProgressEvents of condense_images as one progress task over the images."""

    def __init__(self, task: progress.Task) -> None:
        self.task = task

    def __call__(self, event: ProgressEvent) -> None:
        if event.kind == "selecting":
            self.task.update(info=f"{event.instance}: ranking the patches of all images")
        elif event.kind == "instance_started":
            self.task.update(info=f"{event.instance} started")
        elif event.kind == "step":
            loss = event.losses.get("total", float("nan"))
            self.task.update(
                info=f"{event.instance} step {event.step}/{event.steps}, loss {loss:.3f}"
            )
        elif event.kind == "instance_skipped":
            self.task.skip(info=f"{event.instance} (already done)")
        else:  # instance_finished
            self.task.advance(info=f"{event.instance} done")


def _train_teacher_into(
    out: Path, paths: list[Path], patch: PatchSettings, arch: str, recipe: Any, device: Any
) -> tuple[Any, Path]:
    """The teacher trained on the images into --out, or the one trained there earlier."""
    path = out / TEACHER_FILE
    if path.is_file():
        console.print(f"reusing the teacher trained earlier: {path}")
        return load_model(path, device=str(device)), path
    console.print(f"training a {arch} x{patch.scale} teacher on {len(paths)} images")
    model, _ = train_teacher(paths, patch, recipe, arch, device)
    save_model(model, path)
    return model, path


def condense(
    images: ImagesDir,
    out: OutDir,
    teacher: Annotated[
        Path | None, typer.Option(help="teacher checkpoint (.safetensors or spandrel-readable)")
    ] = None,
    train_teacher_: Annotated[
        bool, typer.Option("--train-teacher", help="train a teacher on --images first")
    ] = False,
    teacher_arch: Annotated[str, typer.Option(help="with --train-teacher")] = "edsr-tiny",
    teacher_recipe: Annotated[str, typer.Option(help="with --train-teacher")] = "teacher-cpu",
    teacher_iterations: Annotated[int | None, typer.Option(help="with --train-teacher")] = None,
    ratio: Annotated[float, typer.Option(help="condensation ratio r in (0, 1]")] = 0.1,
    scale: Scale = 4,
    method: Annotated[str, typer.Option(help="idc, random, herding, kcenter or dcsr")] = "idc",
    preset: Annotated[str, typer.Option(help="IDC settings: cpu, paper, tiny, v1..v7")] = "cpu",
    iterations: Annotated[int | None, typer.Option(help="override the preset's steps")] = None,
    set_: Annotated[
        list[str], typer.Option("--set", help="override any IDC setting: --set n_groups=8")
    ] = [],  # noqa: B006 - typer reads the default, it is never mutated
    seed: Annotated[int, typer.Option(help="job seed (instance seeds derive from it)")] = 0,
    device: Annotated[str, typer.Option(help="auto, cpu, cuda or cuda:N")] = "auto",
    patch_size: PatchSize = 256,
    step: Step = 128,
    float_lr: Annotated[bool, typer.Option("--float-lr", help="also write LR_float/*.npy")] = False,
    teacher_hr: Annotated[
        bool,
        typer.Option(
            "--teacher-hr", help="selection methods: HR made by the teacher (Random-T, ...)"
        ),
    ] = False,
    overwrite: Overwrite = False,
) -> None:
    """Condense --images into --out; re-running the same command resumes where it stopped."""
    with user_errors(), progress.report_to():
        overrides = parse_overrides(set_)
        if iterations is not None:
            overrides["iterations"] = iterations
        try:
            job = CondenseJob(
                method=method,
                ratio=ratio,
                patch=PatchSettings(patch_size=patch_size, step=step, scale=scale),
                preset=preset,
                overrides=overrides,
                seed=seed,
                device=device,
                save_float_lr=float_lr,
                teacher_hr=teacher_hr,
            )
        except ValidationError as error:
            raise ValueError(describe_validation_error(error)) from None
        torch_device = resolve_device(device)
        paths = list_images(images)
        check_images(paths, job.patch.patch_size, job.patch.scale)
        if job.needs_teacher and teacher is None and not train_teacher_:
            raise ValueError(f"method {method!r} needs --teacher PATH or --train-teacher")
        if teacher is not None and train_teacher_:
            raise ValueError("give either --teacher or --train-teacher, not both")
        if not job.needs_teacher and (teacher is not None or train_teacher_):
            console.print(f"--method {method} without --teacher-hr uses no teacher: ignoring it")
            teacher, train_teacher_ = None, False
        model, model_path = None, teacher
        teacher_identity: dict[str, object] | None = None
        if teacher is not None:
            model = load_model(teacher, device=str(torch_device))
            if model.scale != scale:
                raise ValueError(f"the teacher {teacher} is x{model.scale} but --scale is {scale}")
            teacher_identity = {"weights_sha256": weights_sha256(model)}
        if train_teacher_:
            recipe = get_recipe(teacher_recipe, iterations=teacher_iterations, seed=seed)
            trained = {"arch": teacher_arch, "recipe": teacher_recipe, "seed": seed}
            teacher_identity = {"trained": {**trained, "iterations": recipe.iterations}}
        run = condense_run(job, teacher_identity, paths)
        report_claim(claim_output_folder(out, run, [p.stem for p in paths], overwrite), out)
        if train_teacher_:
            model, model_path = _train_teacher_into(
                out, paths, job.patch, teacher_arch, recipe, torch_device
            )
        console.print(f"{method} r={ratio} on {len(paths)} images, preset {preset}, {torch_device}")
        try:
            with progress.task(f"condense ({method})", len(paths), "images") as task:
                records = condense_images(paths, out, job, model, on_progress=_ImagesProgress(task))
        except KeyboardInterrupt:
            error_console.print(
                "interrupted: finished images are kept; run the same command again to resume"
            )
            raise typer.Exit(130) from None
        teacher_info = describe_teacher(model, model_path) if model is not None else None
        manifest = finalize_dataset(out, job, teacher_info, paths)
        real = sum(r.n_real for r in records)
        console.print(
            f"wrote {manifest['pairs']} pairs (of {real} real) to {out}, "
            f"{manifest['seconds']:.1f} s of condensation"
        )
        print_diagnostics(manifest)


def register(app: typer.Typer) -> None:
    app.command("condense")(condense)
