"""triggers.yaml: Mage's format, and the database kept in step both ways, deletions included."""

from __future__ import annotations

import os
from datetime import UTC, datetime

import pytest
import yaml

from tests.unit.orchestration.conftest import spec
from weir.errors import ConfigError
from weir.orchestration.triggers import TriggerStore
from weir.orchestration.triggers_yaml import (
    TriggerFileWatcher,
    editing_triggers,
    read_triggers_file,
    save_triggers_file,
    sync_triggers_from_files,
    triggers_file,
)
from weir.project.project import Project

MAGE_FILE = """\
triggers:
- name: daily_sales
  schedule_type: time
  schedule_interval: '@daily'
  start_time: 2024-01-01 06:00:00
  status: active
  variables:
    region: eu
  sla: 3600
  settings:
    skip_if_previous_running: true
    allow_blocks_to_fail: false
  envs: []
- name: webhook
  schedule_type: api
  status: inactive
"""


def write(project: Project, content: str) -> None:
    path = triggers_file(project, "etl")
    path.write_text(content)
    os.utime(path, ns=(path.stat().st_mtime_ns + 10**9,) * 2)  # a visible change


def test_reads_mages_format(project: Project) -> None:
    write(project, MAGE_FILE)
    daily, webhook = read_triggers_file(project, "etl") or []
    assert daily.name == "daily_sales"
    assert daily.pipeline_uuid == "etl"
    assert daily.start_time == datetime(2024, 1, 1, 6, tzinfo=UTC)
    assert (daily.variables, daily.sla) == ({"region": "eu"}, 3600)
    assert daily.settings.skip_if_previous_running
    assert (webhook.schedule_type.value, webhook.status.value) == ("api", "inactive")


def test_missing_file_means_no_opinion(project: Project, triggers: TriggerStore) -> None:
    assert read_triggers_file(project, "etl") is None
    triggers.create(spec("made_in_the_api"))
    assert sync_triggers_from_files(project, triggers) == {}
    assert [t.name for t in triggers.list()] == ["made_in_the_api"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("triggers: {a: 1}\n", "triggers.yaml: 'triggers' must be a list of mappings"),
        (
            "triggers:\n- {name: a, schedule_interval: '@daily'}\n- {name: a, schedule_type: api}\n",
            r"triggers.yaml: trigger names must be unique in a pipeline; repeated: \['a'\]",
        ),
        (
            "triggers:\n- name: a\n  schedule_interval: nope\n",
            r"triggers.yaml: triggers\[0\] \('a'\): schedule_interval",
        ),
        ("triggers: [\n", "malformed YAML in .*triggers.yaml at line 2"),
    ],
)
def test_bad_files_name_the_file_and_entry(project: Project, content: str, message: str) -> None:
    write(project, content)
    with pytest.raises(ConfigError, match=message):
        read_triggers_file(project, "etl")


def test_file_wins_on_sync_deletions_included(project: Project, triggers: TriggerStore) -> None:
    triggers.create(spec("made_in_the_api"))
    write(project, MAGE_FILE)
    report = sync_triggers_from_files(project, triggers)
    assert report == {
        "etl": {
            "created": ["daily_sales", "webhook"],
            "updated": [],
            "deleted": ["made_in_the_api"],
        }
    }
    write(project, MAGE_FILE.split("- name: webhook", maxsplit=1)[0].replace("3600", "60"))
    report = sync_triggers_from_files(project, triggers)
    assert report == {"etl": {"created": [], "updated": ["daily_sales"], "deleted": ["webhook"]}}
    (only,) = triggers.list()
    assert (only.name, only.sla) == ("daily_sales", 60)


def test_an_invalid_file_changes_nothing(project: Project, triggers: TriggerStore) -> None:
    write(project, MAGE_FILE)
    sync_triggers_from_files(project, triggers)
    write(project, "triggers:\n- name: x\n  schedule_interval: nope\n")
    report = sync_triggers_from_files(project, triggers)
    assert isinstance(report["etl"], ConfigError)
    assert [t.name for t in triggers.list()] == ["daily_sales", "webhook"]


def test_changes_through_the_store_are_written_back(
    project: Project, triggers: TriggerStore
) -> None:
    write(project, MAGE_FILE)
    with editing_triggers(project, triggers, "etl") as edit:
        edit.create(spec("paris", schedule_interval="0 9 * * *", timezone="Europe/Paris",
                         start_time=datetime(2024, 6, 1, 9, 0)))  # fmt: skip
        edit.delete(edit.get_by_name("etl", "webhook").id)
    data = yaml.safe_load(triggers_file(project, "etl").read_text())
    assert [entry["name"] for entry in data["triggers"]] == ["daily_sales", "paris"]
    daily, paris = data["triggers"]
    assert list(daily) == [
        "name", "schedule_type", "schedule_interval", "start_time", "status",
        "variables", "sla", "settings", "envs",
    ]  # fmt: skip
    assert daily["start_time"] == datetime(2024, 1, 1, 6, 0)  # naive, as Mage writes it
    assert daily["settings"]["skip_if_previous_running"] is True
    assert paris["start_time"] == datetime(2024, 6, 1, 9, 0)  # wall-clock time in its zone
    assert paris["timezone"] == "Europe/Paris"
    # Reading the file back changes nothing: the round trip is exact.
    assert sync_triggers_from_files(project, triggers)["etl"] == {
        "created": [],
        "updated": [],
        "deleted": [],
    }


def test_an_edit_not_yet_read_is_not_lost(project: Project, triggers: TriggerStore) -> None:
    write(project, MAGE_FILE)
    sync_triggers_from_files(project, triggers)
    write(project, MAGE_FILE + "- name: by_hand\n  schedule_interval: '@hourly'\n")
    with editing_triggers(project, triggers, "etl") as edit:
        edit.set_active(edit.get_by_name("etl", "webhook").id, True)
    names = [
        e["name"] for e in yaml.safe_load(triggers_file(project, "etl").read_text())["triggers"]
    ]
    assert names == ["daily_sales", "webhook", "by_hand"]
    assert triggers.get_by_name("etl", "webhook").is_active


def test_save_leaves_an_unchanged_file_alone(project: Project, triggers: TriggerStore) -> None:
    triggers.create(spec("a"))
    path = save_triggers_file(project, triggers, "etl")
    stamp = path.stat().st_mtime_ns
    save_triggers_file(project, triggers, "etl")
    assert path.stat().st_mtime_ns == stamp


def test_watcher_syncs_changed_files_only(project: Project, triggers: TriggerStore) -> None:
    watcher = TriggerFileWatcher(project, triggers)
    assert watcher.poll() == {}  # no file yet
    write(project, MAGE_FILE)
    assert set(watcher.poll()["etl"]["created"]) == {"daily_sales", "webhook"}
    assert watcher.poll() == {}
    write(project, "triggers: []\n")
    assert watcher.poll()["etl"]["deleted"] == ["daily_sales", "webhook"]
    assert triggers.list() == []
