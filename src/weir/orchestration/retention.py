"""Retention: delete old runs, their logs and their data products, or list what would go.

A run goes when it has ended (completed, failed, cancelled, skipped) before the cut-off, belongs
to one of the project's pipelines, and is not the newest run of its (pipeline, trigger) pair:
that one is kept because a trigger's next due date is computed from it and `weir run --block`
reads upstream outputs from the latest completed block runs. With it go its block runs (the
database cascades), `<data_dir>/logs/<run id>/` and `<data_dir>/pipeline_runs/<run id>/`.
Folders there whose run no longer exists in the database (left by a crash or a deleted
database) go too once they are older than the cut-off.

Runs not ended are never touched. When several projects share one PostgreSQL database, each
`clean` only considers the runs of its own project's pipelines.
"""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from weir.orchestration._queries import retention_candidates, run_statuses
from weir.project.project import Project
from weir.runs.store import RunStore

__all__ = ["CleanReport", "clean_project", "parse_age"]

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_AGE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")


def parse_age(text: str) -> timedelta:
    """Read an age such as `30d`, `12h`, `90m`, `2w` or `45s`.

    Raises:
        ValueError: not a number followed by one of s, m, h, d, w.
    """
    match = _AGE.match(text)
    if match is None:
        raise ValueError(f"age {text!r} is not like 30d, 12h, 90m, 2w or 45s")
    return timedelta(seconds=float(match.group(1)) * _UNITS[match.group(2)])


@dataclass(frozen=True, slots=True)
class CleanReport:
    """What `clean_project` deleted, or with `dry_run` would delete.

    Attributes:
        cutoff: runs that ended before it went (UTC).
        runs: run ids, ascending.
        folders: log and data product folders, the runs' and orphans'.
        bytes: their total size on disk.
        dry_run: True when nothing was deleted.
    """

    cutoff: datetime
    runs: tuple[int, ...]
    folders: tuple[Path, ...]
    bytes: int
    dry_run: bool


def _size(folder: Path) -> int:
    total = 0
    for directory, _dirs, files in os.walk(folder):
        for name in files:
            try:
                total += os.lstat(os.path.join(directory, name)).st_size
            except OSError:
                continue
    return total


def _run_folders(data_dir: Path) -> dict[int, list[Path]]:
    folders: dict[int, list[Path]] = {}
    for parent in (data_dir / "logs", data_dir / "pipeline_runs"):
        if not parent.is_dir():
            continue
        for entry in parent.iterdir():
            if entry.is_dir() and entry.name.isdigit():
                folders.setdefault(int(entry.name), []).append(entry)
    return folders


def _orphans(runs: RunStore, folders: dict[int, list[Path]], cutoff: datetime) -> list[Path]:
    existing = run_statuses(runs.engine, list(folders))
    old = cutoff.timestamp()
    return [
        folder
        for run_id, paths in folders.items()
        if run_id not in existing
        for folder in paths
        if folder.stat().st_mtime < old
    ]


def clean_project(
    project: Project,
    runs: RunStore,
    *,
    older_than: timedelta,
    dry_run: bool = False,
    now: datetime | None = None,
) -> CleanReport:
    """Delete (or list) runs that ended more than `older_than` ago, with their files.

    Args:
        project: the project (its pipelines and data directory).
        runs: the run store of its metadata database.
        older_than: age of a run's end after which it goes.
        dry_run: only report what would be deleted.
        now: the current time (default: now, UTC).

    Returns:
        What was (or would be) deleted.
    """
    cutoff = (now or datetime.now(UTC)) - older_than
    candidates = [
        run_id for run_id, _ in retention_candidates(runs.engine, project.pipeline_uuids(), cutoff)
    ]
    folders = _run_folders(project.data_dir)
    orphans = _orphans(runs, folders, cutoff)
    if not dry_run:
        candidates = runs.delete_pipeline_runs(candidates)
    doomed = [folder for run_id in candidates for folder in folders.get(run_id, [])]
    doomed += orphans
    size = sum(_size(folder) for folder in doomed)
    if not dry_run:
        for folder in doomed:
            shutil.rmtree(folder, ignore_errors=True)
    return CleanReport(cutoff, tuple(sorted(candidates)), tuple(doomed), size, dry_run)
