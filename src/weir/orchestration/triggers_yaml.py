"""Triggers as code: `pipelines/<uuid>/triggers.yaml`, kept in step with the database.

The file has Mage's layout: a `triggers:` list of mappings with the keys `name`,
`schedule_type`, `schedule_interval`, `start_time`, `status`, `variables`, `sla`, `settings`
and `envs` (Weir adds `timezone` and `description` when they are set). A naive `start_time`
is wall-clock time in the trigger's `timezone` (UTC when absent, as in Mage).

The rule that keeps file and database in step, deletions included:

1. **The file wins when it is read.** When a pipeline has a `triggers.yaml`, syncing makes that
   pipeline's triggers in the database exactly the file's, matched by `name`: new names are
   created, changed ones updated (keeping their id and API token), names no longer in the file
   deleted. The scheduler syncs every file when it starts and whenever one changes (it looks
   every second).
2. **A change through the store is written back at once.** The HTTP API and `weir triggers`
   make changes inside `editing_triggers`, which first syncs the file in (so an edit not yet
   read is not lost) and afterwards rewrites the file from the database. Deleting a trigger in
   the API removes it from the file; deleting it from the file deletes it from the database.
3. **No file, no opinion.** A pipeline without `triggers.yaml` keeps the triggers the database
   has (a Mage project whose triggers were made in its UI has none); the first change through
   the store writes the file.
4. **Secrets and runtime state stay out of the file**: API tokens (a trigger created from the
   file has none until `rotate_token`) and `last_enabled_at`.

Two writers within one second (a hand edit and an API change) resolve as the last one to reach
the database: the API's rewrite wins over an edit the scheduler had not read yet.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Final

import yaml

from weir.errors import ConfigError
from weir.orchestration.schedule import check_timezone
from weir.orchestration.triggers import TriggerRecord, TriggerSpec, TriggerStore
from weir.project.project import Project
from weir.project.yaml_files import read_yaml_mapping, write_yaml_mapping

__all__ = [
    "TRIGGERS_FILE",
    "TriggerFileWatcher",
    "editing_triggers",
    "read_triggers_file",
    "save_triggers_file",
    "sync_pipeline_triggers",
    "sync_triggers_from_files",
    "triggers_file",
    "triggers_to_yaml",
]

TRIGGERS_FILE: Final = "triggers.yaml"


def triggers_file(project: Project, pipeline_uuid: str) -> Path:
    """`<project>/pipelines/<pipeline_uuid>/triggers.yaml`."""
    return project.pipeline_dir(pipeline_uuid) / TRIGGERS_FILE


def read_triggers_file(project: Project, pipeline_uuid: str) -> list[TriggerSpec] | None:
    """The triggers a pipeline's `triggers.yaml` defines, or None when it has no such file.

    Raises:
        ConfigError: malformed YAML, `triggers` not a list of mappings, a name used twice, or a
            trigger with a bad key (the message names the file, the entry and the key).
    """
    path = triggers_file(project, pipeline_uuid)
    if not path.is_file():
        return None
    entries = read_yaml_mapping(path, what="triggers").get("triggers") or []
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise ConfigError(f"{path}: 'triggers' must be a list of mappings (one per trigger)")
    specs: list[TriggerSpec] = []
    for index, entry in enumerate(entries):
        where = f"{path}: triggers[{index}] ('{entry.get('name', '?')}')"
        specs.append(TriggerSpec.parse({**entry, "pipeline_uuid": pipeline_uuid}, where=where))
    names = [spec.name for spec in specs]
    twice = sorted({name for name in names if names.count(name) > 1})
    if twice:
        raise ConfigError(f"{path}: trigger names must be unique in a pipeline; repeated: {twice}")
    return specs


def _entry(trigger: TriggerRecord) -> dict[str, Any]:
    start = None
    if trigger.start_time is not None:
        zone = check_timezone(trigger.timezone)
        start = trigger.start_time.astimezone(zone).replace(tzinfo=None)
    entry: dict[str, Any] = {
        "name": trigger.name,
        "schedule_type": trigger.schedule_type.value,
        "schedule_interval": trigger.schedule_interval,
        "start_time": start,
        "status": trigger.status.value,
        "variables": dict(trigger.variables),
        "sla": trigger.sla,
        "settings": trigger.settings.to_json(),
        "envs": list(trigger.envs),
    }
    if trigger.timezone != "UTC":
        entry["timezone"] = trigger.timezone
    if trigger.description:
        entry["description"] = trigger.description
    return entry


def triggers_to_yaml(triggers: Sequence[TriggerRecord]) -> dict[str, Any]:
    """The `triggers.yaml` mapping for these triggers, in Mage's key order."""
    return {"triggers": [_entry(trigger) for trigger in triggers]}


def save_triggers_file(project: Project, store: TriggerStore, pipeline_uuid: str) -> Path:
    """Write the pipeline's triggers from the database to its `triggers.yaml` (atomically).

    The file is left untouched when its content would not change.

    Returns:
        The file's path.
    """
    path = triggers_file(project, pipeline_uuid)
    data = triggers_to_yaml(store.list(pipeline_uuid))
    if path.is_file():
        try:
            if yaml.safe_load(path.read_text(encoding="utf-8")) == data:
                return path
        except yaml.YAMLError:
            pass  # a broken file is replaced by the database's truth
    write_yaml_mapping(path, data)
    return path


def sync_pipeline_triggers(
    project: Project, store: TriggerStore, pipeline_uuid: str
) -> dict[str, list[str]] | None:
    """Make the database's triggers of one pipeline those of its file (rule 1).

    Returns:
        The changes by kind (see `TriggerStore.replace_pipeline_triggers`), or None when the
        pipeline has no `triggers.yaml` (rule 3).

    Raises:
        ConfigError: the file is invalid; the database is left unchanged.
    """
    specs = read_triggers_file(project, pipeline_uuid)
    if specs is None:
        return None
    return store.replace_pipeline_triggers(pipeline_uuid, specs)


def sync_triggers_from_files(project: Project, store: TriggerStore) -> dict[str, Any]:
    """Sync every pipeline's `triggers.yaml` into the database.

    Returns:
        Per pipeline uuid, its changes, or the `ConfigError` that kept its file out (the other
        pipelines are synced all the same).
    """
    report: dict[str, Any] = {}
    for pipeline_uuid in project.pipeline_uuids():
        try:
            changes = sync_pipeline_triggers(project, store, pipeline_uuid)
        except ConfigError as exc:
            report[pipeline_uuid] = exc
            continue
        if changes is not None:
            report[pipeline_uuid] = changes
    return report


@contextmanager
def editing_triggers(
    project: Project, store: TriggerStore, pipeline_uuid: str
) -> Iterator[TriggerStore]:
    """Change a pipeline's triggers through `store` and keep its file in step (rule 2).

    ```python
    with editing_triggers(project, store, "etl") as triggers:
        record, token = triggers.create(spec)
    ```

    Raises:
        ConfigError: the pipeline's file is invalid (nothing is changed; fix the file first).
    """
    sync_pipeline_triggers(project, store, pipeline_uuid)
    yield store
    save_triggers_file(project, store, pipeline_uuid)


class TriggerFileWatcher:
    """Syncs `triggers.yaml` files into the database when they change (by mtime and size).

    Args:
        project: the project whose pipelines are watched.
        store: where triggers are stored.
    """

    def __init__(self, project: Project, store: TriggerStore) -> None:
        self._project = project
        self._store = store
        self._seen: dict[str, tuple[int, int] | None] = {}

    def poll(self) -> dict[str, Any]:
        """Sync the files that changed since the last call (all of them on the first call).

        Returns:
            Per changed pipeline, its changes or the `ConfigError` its file raised.
        """
        report: dict[str, Any] = {}
        for pipeline_uuid in self._project.pipeline_uuids():
            stamp = _stamp(triggers_file(self._project, pipeline_uuid))
            if pipeline_uuid in self._seen and self._seen[pipeline_uuid] == stamp:
                continue
            self._seen[pipeline_uuid] = stamp
            try:
                changes = sync_pipeline_triggers(self._project, self._store, pipeline_uuid)
            except ConfigError as exc:
                report[pipeline_uuid] = exc
                continue
            if changes is not None:
                report[pipeline_uuid] = changes
        return report


def _stamp(path: Path) -> tuple[int, int] | None:
    try:
        status = os.stat(path)
    except FileNotFoundError:
        return None
    return (status.st_mtime_ns, status.st_size)
