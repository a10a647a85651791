"""TriggerStore and TriggerSpec: validation, CRUD, API tokens."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import text

from tests.unit.orchestration.conftest import T0, spec
from weir.errors import ConfigError, ConflictError, TriggerNotFoundError
from weir.orchestration.clock import ManualClock
from weir.orchestration.schedule import CatchUp
from weir.orchestration.triggers import (
    ScheduleType,
    TriggerSettings,
    TriggerSpec,
    TriggerStatus,
    TriggerStore,
    hash_token,
)


def test_spec_defaults_and_settings() -> None:
    trigger = spec()
    assert trigger.status is TriggerStatus.ACTIVE
    assert trigger.timezone == "UTC"
    assert trigger.settings == TriggerSettings()
    assert trigger.settings.catch_up is CatchUp.LATEST
    assert trigger.settings.to_json() == {"catch_up": "latest"}


def test_naive_start_time_is_read_in_the_trigger_time_zone() -> None:
    trigger = spec(start_time=datetime(2024, 1, 1, 9, 0), timezone="America/New_York")
    assert trigger.start_time == datetime(2024, 1, 1, 14, 0, tzinfo=UTC)
    assert spec(start_time="2024-01-01 09:00:00").start_time == datetime(2024, 1, 1, 9, tzinfo=UTC)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"schedule_interval": None}, "a time trigger needs a schedule_interval"),
        ({"schedule_interval": "often"}, "schedule_interval: .*not a cron expression"),
        ({"timezone": "Nowhere/City"}, "timezone: .*not an IANA time zone"),
        ({"sla": 0}, "sla: .*greater than 0"),
        ({"schedule_type": "sometimes"}, "schedule_type: "),
        ({"settings": {"catch_up": "most"}}, "settings.catch_up: "),
        ({"settings": {"timeout": -1}}, "settings.timeout: "),
    ],
)
def test_spec_errors_name_the_trigger_and_key(fields: dict[str, object], message: str) -> None:
    data = {**spec().model_dump(), **fields}
    with pytest.raises(ConfigError, match=f"triggers.yaml: triggers\\[0\\] .*{message}"):
        TriggerSpec.parse(data, where="triggers.yaml: triggers[0] ('t')")


def test_unknown_settings_keys_are_kept() -> None:
    trigger = spec(settings={"create_initial_pipeline_run": True, "catch_up": "all"})
    assert trigger.settings.to_json() == {"catch_up": "all", "create_initial_pipeline_run": True}


def test_create_get_list(triggers: TriggerStore) -> None:
    record, token = triggers.create(spec("hourly", variables={"k": 1}, sla=600))
    assert token is None
    assert not record.has_token
    assert (record.name, record.schedule_type, record.schedule_interval) == (
        "hourly",
        ScheduleType.TIME,
        "@hourly",
    )
    assert record.created_at == record.updated_at == record.last_enabled_at == T0
    assert (record.variables, record.sla) == ({"k": 1}, 600)
    assert triggers.get(record.id) == record
    assert triggers.get_by_name("etl", "hourly") == record
    other, _ = triggers.create(spec("x", pipeline_uuid="other"))
    assert triggers.list() == [record, other]
    assert triggers.list("other") == [other]
    assert record.spec() == spec("hourly", variables={"k": 1}, sla=600)


def test_names_are_unique_per_pipeline(triggers: TriggerStore) -> None:
    triggers.create(spec("daily"))
    with pytest.raises(ConflictError, match="pipeline 'etl' has a trigger named 'daily'"):
        triggers.create(spec("daily"))
    triggers.create(spec("daily", pipeline_uuid="other"))


def test_unknown_triggers(triggers: TriggerStore) -> None:
    with pytest.raises(TriggerNotFoundError, match="no trigger with id 9"):
        triggers.get(9)
    with pytest.raises(TriggerNotFoundError, match="pipeline 'etl' has no trigger 'x'"):
        triggers.get_by_name("etl", "x")
    with pytest.raises(TriggerNotFoundError):
        triggers.delete(9)


def test_update_validates_the_whole_trigger(triggers: TriggerStore, clock: ManualClock) -> None:
    record, _ = triggers.create(spec())
    clock.advance(10)
    updated = triggers.update(record.id, schedule_interval="*/5 * * * *", sla=30)
    assert (updated.schedule_interval, updated.sla, updated.updated_at) == (
        "*/5 * * * *",
        30,
        clock(),
    )
    with pytest.raises(ConfigError, match=r"trigger \d+ \('t'\): schedule_interval"):
        triggers.update(record.id, schedule_interval="nope")
    with pytest.raises(ConfigError, match="unknown fields \\['colour'\\]"):
        triggers.update(record.id, colour="red")
    assert triggers.get(record.id).schedule_interval == "*/5 * * * *"


def test_enabling_records_when(triggers: TriggerStore, clock: ManualClock) -> None:
    record, _ = triggers.create(spec(status="inactive"))
    assert record.last_enabled_at is None
    assert not record.is_active
    clock.advance(60)
    enabled = triggers.set_active(record.id, True)
    assert (enabled.is_active, enabled.last_enabled_at) == (True, clock())
    clock.advance(60)
    assert triggers.set_active(record.id, True).last_enabled_at == enabled.last_enabled_at
    assert triggers.set_active(record.id, False).status is TriggerStatus.INACTIVE


def test_delete(triggers: TriggerStore) -> None:
    record, _ = triggers.create(spec())
    triggers.delete(record.id)
    assert triggers.list() == []


def test_api_token_is_shown_once_and_stored_hashed(triggers: TriggerStore) -> None:
    record, token = triggers.create(spec("hook", schedule_type="api", schedule_interval=None))
    assert token is not None
    assert len(token) >= 40
    assert record.has_token
    assert triggers.verify_token(record.id, token)
    assert not triggers.verify_token(record.id, token + "x")
    assert not triggers.verify_token(record.id, "")
    assert not triggers.verify_token(999, token)
    with triggers._engine.connect() as connection:  # the secret itself is nowhere in the row
        stored = connection.execute(text("SELECT token_hash FROM pipeline_schedule")).scalar()
    assert stored == hash_token(token)
    assert token not in str(stored)


def test_rotate_token(triggers: TriggerStore) -> None:
    record, old = triggers.create(spec("hook", schedule_type="api", schedule_interval=None))
    assert old is not None
    new = triggers.rotate_token(record.id)
    assert new != old
    assert triggers.verify_token(record.id, new)
    assert not triggers.verify_token(record.id, old)
    plain, _ = triggers.create(spec("plain"))
    assert not triggers.verify_token(plain.id, "anything")


def test_replace_pipeline_triggers_matches_by_name(triggers: TriggerStore) -> None:
    kept, token = triggers.create(spec("hook", schedule_type="api", schedule_interval=None))
    gone, _ = triggers.create(spec("old"))
    other, _ = triggers.create(spec("x", pipeline_uuid="other"))
    changes = triggers.replace_pipeline_triggers(
        "etl",
        [
            spec("hook", schedule_type="api", schedule_interval=None, sla=5),
            spec("new", schedule_interval="@daily"),
        ],
    )
    assert changes == {"created": ["new"], "updated": ["hook"], "deleted": ["old"]}
    assert [t.name for t in triggers.list("etl")] == ["hook", "new"]
    assert triggers.get(kept.id).sla == 5
    assert token is not None
    assert triggers.verify_token(kept.id, token)  # same row, same token
    assert triggers.get(other.id) == other
    with pytest.raises(TriggerNotFoundError):
        triggers.get(gone.id)
    again = triggers.replace_pipeline_triggers(
        "etl",
        [
            spec("hook", schedule_type="api", schedule_interval=None, sla=5),
            spec("new", schedule_interval="@daily"),
        ],
    )
    assert again == {"created": [], "updated": [], "deleted": []}


def test_store_opens_a_url(database_url: str) -> None:
    with TriggerStore(database_url, clock=ManualClock(T0)) as store:
        record, _ = store.create(spec())
        assert store.get(record.id).name == "t"
