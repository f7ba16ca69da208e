"""Output folders that a command owns, so that no command destroys a dataset.

Before a command changes anything it claims its output folder (`claim_output_folder`):

- an empty or missing folder becomes this run's: `idc-run.json` records which run it is
  (command, a fingerprint of everything that decides the output, and a one-line summary);
- a folder that already holds this same run (same command, settings, sources, teacher) is
  resumed, provided it holds nothing but files of the paired layout named after these sources;
- anything else is refused, with a message that says what is there: another run (its summary),
  an idc output without a run record, or files idc did not write.

`overwrite=True` replaces a folder whole, but only after confirming that it is an idc output
folder: every entry must be one the layout has (HR/, LR/, LR_float/, instances/, meta_info.txt,
manifest.json, SHA256SUMS, teacher.safetensors/.json, idc-run.json, temporaries), none a link.
Those entries are removed, nothing else; a folder with anything else in it is refused even then.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from idc_core.data.paired import HR_DIR, LR_DIR, LR_FLOAT_DIR, META_INFO
from idc_core.manifest import CHECKSUMS

RUN_FILE = "idc-run.json"
MANIFEST = "manifest.json"
MARKER_DIR = "instances"
TEACHER_FILES = ("teacher.safetensors", "teacher.json")
TOP_FILES = (RUN_FILE, MANIFEST, META_INFO, CHECKSUMS, *TEACHER_FILES)
# Folder -> suffix of the files commands write into it.
LAYOUT_DIRS = {HR_DIR: ".png", LR_DIR: ".png", LR_FLOAT_DIR: ".npy", MARKER_DIR: ".json"}
_EXAMPLES = 5


class OutputFolderError(ValueError):
    """The output folder holds something this command must not change."""


class RunRecord(BaseModel):
    """What `idc-run.json` holds: which run owns the folder."""

    command: str
    fingerprint: str
    summary: str
    details: dict[str, Any] = {}


def _is_temporary(name: str) -> bool:
    return name.startswith(".") and name.endswith(".tmp")


def _foreign_entries(folder: Path, stems: Sequence[str] | None) -> list[str]:
    """Entries of `folder` that no idc command writes (relative paths, sorted).

    With `stems`, pair files must also be named `<stem>_<digits>` after one of those sources
    (and markers `<stem>.json`): what this run writes, not just what some run would.
    """
    own_pair = re.compile(rf"^({'|'.join(map(re.escape, stems))})_\d{{4,}}$") if stems else None
    foreign: list[str] = []
    for entry in sorted(folder.iterdir()):
        name = entry.name
        if entry.is_symlink():
            foreign.append(f"{name} (a link)")
        elif entry.is_file() and (name in TOP_FILES or _is_temporary(name)):
            continue
        elif entry.is_dir() and name in LAYOUT_DIRS:
            suffix = LAYOUT_DIRS[name]
            for inner in sorted(entry.iterdir()):
                if _is_temporary(inner.name):
                    if inner.is_file() and not inner.is_symlink():
                        continue
                elif (
                    inner.is_file()
                    and not inner.is_symlink()
                    and inner.suffix == suffix
                    and _named_after(inner.stem, name, stems, own_pair)
                ):
                    continue
                foreign.append(f"{name}/{inner.name}")
        else:
            foreign.append(name + ("/" if entry.is_dir() else ""))
    return foreign


def _named_after(
    stem: str, folder: str, stems: Sequence[str] | None, own_pair: re.Pattern[str] | None
) -> bool:
    if stems is None:
        return True
    if folder == MARKER_DIR:
        return stem in stems
    return own_pair is not None and own_pair.match(stem) is not None


def _examples(names: list[str]) -> str:
    shown = ", ".join(names[:_EXAMPLES])
    return shown + (f" and {len(names) - _EXAMPLES} more" if len(names) > _EXAMPLES else "")


def read_run_record(folder: Path) -> RunRecord | None:
    """The run that owns `folder`, or None when it has no (readable) run record."""
    path = folder / RUN_FILE
    if not path.is_file() or path.is_symlink():
        return None
    try:
        return RunRecord.model_validate_json(path.read_text())
    except ValueError:
        return None


def _legacy_description(folder: Path) -> str:
    """What an idc output without a run record says about itself (older versions)."""
    try:
        manifest = json.loads((folder / MANIFEST).read_text())
        return f"an idc output of method {manifest.get('method', '?')!r} without a run record"
    except (OSError, ValueError):
        return "an idc-style paired folder without a run record"


def _remove_layout(folder: Path) -> None:
    """Delete the (already checked) layout entries of `folder`; never follows links."""
    for entry in folder.iterdir():
        if entry.is_dir() and not entry.is_symlink():
            for inner in entry.iterdir():
                inner.unlink()
            entry.rmdir()
        else:
            entry.unlink()


def _write_record(folder: Path, run: RunRecord) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".{RUN_FILE}.tmp"
    tmp.write_text(run.model_dump_json(indent=2) + "\n")
    os.replace(tmp, folder / RUN_FILE)


def claim_output_folder(
    folder: str | Path, run: RunRecord, source_stems: Sequence[str], overwrite: bool = False
) -> str:
    """Make `folder` this run's before any other change; returns 'new', 'resumed' or 'replaced'.

    Raises OutputFolderError, with what the folder holds, when it belongs to something else.
    """
    folder = Path(folder)
    if folder.is_symlink() or (folder.exists() and not folder.is_dir()):
        raise OutputFolderError(
            f"{folder} is not a folder (a file or a link); choose another --out"
        )
    if not folder.exists() or not any(folder.iterdir()):
        _write_record(folder, run)
        return "new"
    held = read_run_record(folder)
    if held is not None and held.command == run.command and held.fingerprint == run.fingerprint:
        foreign = _foreign_entries(folder, source_stems)
        if foreign:
            raise OutputFolderError(
                f"{folder} holds this {run.command} run but also files it did not write: "
                f"{_examples(foreign)}; move them away, or use another --out"
            )
        return "resumed"
    foreign = _foreign_entries(folder, None)
    if foreign:
        what = f"files idc does not write: {_examples(foreign)}"
        hint = "move them away or choose another --out"
        if held is not None or overwrite:
            hint += " (--overwrite replaces only folders that hold nothing but an idc output)"
        raise OutputFolderError(f"{folder} holds {what}; nothing was changed; {hint}")
    if held is not None:
        what = f"the output of another run: {held.summary}"
    else:
        what = _legacy_description(folder)
    if not overwrite:
        raise OutputFolderError(
            f"{folder} holds {what}; nothing was changed. This run is: {run.summary}. "
            "Choose another --out, or add --overwrite to replace that folder whole"
        )
    _remove_layout(folder)
    _write_record(folder, run)
    return "replaced"
