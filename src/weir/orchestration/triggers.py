"""Triggers: Mage's `pipeline_schedule` rows, and the store that reads and writes them.

A trigger says when a pipeline runs. `schedule_type` is `time` (on `schedule_interval`, see
`weir.orchestration.schedule`), `api` (when its URL is called with its token) or `event`
(stored for Mage compatibility; nothing fires event triggers yet). `TriggerSpec` holds what a
user defines (the keys of `triggers.yaml` and of the HTTP API); `TriggerRecord` is a stored
trigger, frozen.

API tokens: `create` makes a random token (32 bytes, URL-safe) for an `api` trigger and returns
it once; only its SHA-256 is stored, and `verify_token` compares digests with
`hmac.compare_digest`. A token this random needs no slow password hash.
"""

from __future__ import annotations

import builtins
import hashlib
import hmac
import secrets
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from sqlalchemy import Engine, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from weir.errors import ConfigError, ConflictError, TriggerNotFoundError
from weir.orchestration.clock import Clock, utc_now
from weir.orchestration.schedule import CatchUp, check_interval, check_timezone
from weir.pipeline.spec import RetryConfig
from weir.runs.database import WRITE_OPTION, connect
from weir.runs.models import PipelineSchedule

__all__ = [
    "ScheduleType",
    "TriggerRecord",
    "TriggerSettings",
    "TriggerSpec",
    "TriggerStatus",
    "TriggerStore",
    "hash_token",
]


class ScheduleType(StrEnum):
    """How a trigger fires (Mage's values)."""

    TIME = "time"
    API = "api"
    EVENT = "event"


class TriggerStatus(StrEnum):
    """Whether a trigger fires (Mage's values)."""

    ACTIVE = "active"
    INACTIVE = "inactive"


class TriggerSettings(BaseModel):
    """A trigger's `settings` (Mage's keys; unknown keys are kept as they are).

    Attributes:
        skip_if_previous_running: cancel a new run while a run of this trigger is active.
        allow_blocks_to_fail: Mage's flag, stored and round-tripped. Weir's engine always runs
            independent branches to the end (Mage's `true` behaviour).
        timeout: seconds a run may take before the scheduler stops it and fails it.
        catch_up: which runs missed while no scheduler ran are made up (`all|latest|none`).
        retry_config: run-level retries of failed runs (Mage's `retry_config` keys); overrides
            the pipeline's `retry_config` for this trigger's runs.
    """

    model_config = ConfigDict(extra="allow", frozen=True)

    skip_if_previous_running: bool = False
    allow_blocks_to_fail: bool = False
    timeout: float | None = Field(default=None, gt=0)
    catch_up: CatchUp = CatchUp.LATEST
    retry_config: RetryConfig | None = None

    def to_json(self) -> dict[str, Any]:
        """The settings as stored: JSON types, defaults omitted except `catch_up`."""
        data = self.model_dump(mode="json", exclude_none=True, exclude_defaults=True)
        return {"catch_up": self.catch_up.value, **data}


class TriggerSpec(BaseModel):
    """A trigger as a user defines it: Mage's `triggers.yaml` keys plus `pipeline_uuid`.

    A naive `start_time` is read in `timezone` (Mage's files have no time zone: UTC). Validation
    errors are `ValueError`s naming the key; `TriggerStore` and `triggers_yaml` turn them into
    `ConfigError`s that also name the trigger and file.
    """

    model_config = ConfigDict(extra="ignore", frozen=True)

    name: str = Field(min_length=1, max_length=255)
    pipeline_uuid: str = Field(min_length=1, max_length=255)
    schedule_type: ScheduleType = ScheduleType.TIME
    schedule_interval: str | None = None
    timezone: str = "UTC"
    start_time: datetime | None = None
    status: TriggerStatus = TriggerStatus.ACTIVE
    variables: dict[str, Any] = Field(default_factory=dict)
    sla: int | None = Field(default=None, gt=0, description="seconds")
    settings: TriggerSettings = Field(default_factory=TriggerSettings)
    envs: tuple[str, ...] = ()
    description: str | None = None

    @field_validator("variables", "settings", mode="before")
    @classmethod
    def _none_is_empty_mapping(cls, value: Any) -> Any:
        return {} if value is None else value

    @field_validator("envs", mode="before")
    @classmethod
    def _none_is_no_envs(cls, value: Any) -> Any:
        return () if value is None else value

    @field_validator("schedule_interval")
    @classmethod
    def _known_interval(cls, value: str | None) -> str | None:
        return None if value is None else check_interval(value)

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        check_timezone(value)
        return value

    @field_validator("start_time")
    @classmethod
    def _start_in_utc(cls, value: datetime | None, info: ValidationInfo) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:  # read in the trigger's time zone (Mage's files: UTC)
            value = value.replace(tzinfo=check_timezone(info.data.get("timezone", "UTC")))
        return value.astimezone(UTC)

    @model_validator(mode="after")
    def _interval_for_time_triggers(self) -> TriggerSpec:
        if self.schedule_type is ScheduleType.TIME and not self.schedule_interval:
            raise ValueError("a time trigger needs a schedule_interval")
        return self

    @classmethod
    def parse(cls, data: Mapping[str, Any], *, where: str) -> TriggerSpec:
        """Validate `data`, naming `where` (a file, or "trigger 'x'") in any error.

        Raises:
            ConfigError: a key is missing or has a bad value; the message names each.
        """
        try:
            return cls.model_validate(dict(data))
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in error['loc']) or 'trigger'}: {error['msg']}"
                for error in exc.errors()
            )
            raise ConfigError(f"{where}: {problems}") from None


@dataclass(frozen=True, slots=True)
class TriggerRecord:
    """A stored trigger (a `pipeline_schedule` row). All datetimes are UTC.

    Attributes:
        id: primary key; runs it creates carry it as `pipeline_schedule_id`.
        has_token: an API token is set (the token itself is never readable).
        last_enabled_at: when it last became active; no earlier point is ever due.
        Others: as in `TriggerSpec`.
    """

    id: int
    name: str
    pipeline_uuid: str
    schedule_type: ScheduleType
    schedule_interval: str | None
    start_time: datetime | None
    timezone: str
    status: TriggerStatus
    variables: Mapping[str, Any]
    sla: int | None
    settings: TriggerSettings
    envs: tuple[str, ...]
    description: str | None
    has_token: bool
    last_enabled_at: datetime | None
    created_at: datetime
    updated_at: datetime

    @property
    def is_active(self) -> bool:
        """True when `status` is `active`."""
        return self.status is TriggerStatus.ACTIVE

    def spec(self) -> TriggerSpec:
        """The definition of this trigger, as `create` took it."""
        return TriggerSpec(
            name=self.name,
            pipeline_uuid=self.pipeline_uuid,
            schedule_type=self.schedule_type,
            schedule_interval=self.schedule_interval,
            start_time=self.start_time,
            timezone=self.timezone,
            status=self.status,
            variables=dict(self.variables),
            sla=self.sla,
            settings=self.settings,
            envs=self.envs,
            description=self.description,
        )


def hash_token(token: str) -> str:
    """The stored form of an API token: `sha256:` and the hex digest of its UTF-8 bytes."""
    return "sha256:" + hashlib.sha256(token.encode("utf-8")).hexdigest()


def _record(row: PipelineSchedule) -> TriggerRecord:
    return TriggerRecord(
        id=row.id,
        name=row.name,
        pipeline_uuid=row.pipeline_uuid,
        schedule_type=ScheduleType(row.schedule_type),
        schedule_interval=row.schedule_interval,
        start_time=row.start_time,
        timezone=row.timezone,
        status=TriggerStatus(row.status),
        variables=dict(row.variables),
        sla=row.sla,
        settings=TriggerSettings.model_validate(row.settings),
        envs=tuple(row.envs),
        description=row.description,
        has_token=row.token_hash is not None,
        last_enabled_at=row.last_enabled_at,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _apply(row: PipelineSchedule, spec: TriggerSpec, now: datetime) -> None:
    if spec.status is TriggerStatus.ACTIVE and row.status != TriggerStatus.ACTIVE:
        row.last_enabled_at = now
    row.name, row.pipeline_uuid = spec.name, spec.pipeline_uuid
    row.schedule_type, row.schedule_interval = spec.schedule_type.value, spec.schedule_interval
    row.start_time, row.timezone, row.status = spec.start_time, spec.timezone, spec.status.value
    row.variables, row.sla = dict(spec.variables), spec.sla
    row.settings, row.envs = spec.settings.to_json(), list(spec.envs)
    row.description, row.updated_at = spec.description, now


class TriggerStore:
    """Triggers in the metadata database. Thread-safe; one short transaction per call.

    Args:
        database: a SQLAlchemy URL (migrated to head) or an engine from `weir.runs.connect`.
        clock: the current time, for `created_at`, `updated_at` and `last_enabled_at`.
    """

    def __init__(self, database: str | Engine, *, clock: Clock = utc_now) -> None:
        self._owns_engine = isinstance(database, str)
        self._engine = connect(database) if isinstance(database, str) else database
        self._write_engine = self._engine.execution_options(**{WRITE_OPTION: True})
        self._clock = clock

    def close(self) -> None:
        """Dispose of the engine if the store created it."""
        if self._owns_engine:
            self._engine.dispose()

    def __enter__(self) -> TriggerStore:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    @contextmanager
    def _session(self, *, write: bool = False) -> Iterator[Session]:
        engine = self._write_engine if write else self._engine
        with Session(engine, expire_on_commit=False) as session, session.begin():
            yield session

    def _row(self, session: Session, trigger_id: int) -> PipelineSchedule:
        row = session.get(PipelineSchedule, trigger_id)
        if row is None:
            raise TriggerNotFoundError(f"no trigger with id {trigger_id}")
        return row

    def list(self, pipeline_uuid: str | None = None) -> list[TriggerRecord]:
        """All triggers, or those of one pipeline, by id."""
        query = select(PipelineSchedule).order_by(PipelineSchedule.id)
        if pipeline_uuid is not None:
            query = query.where(PipelineSchedule.pipeline_uuid == pipeline_uuid)
        with self._session() as session:
            return [_record(row) for row in session.scalars(query)]

    def version(self) -> tuple[int, int, datetime | None]:
        """A cheap stamp that changes when triggers are created, changed or deleted.

        (count, highest id, latest `updated_at`): one aggregate query, so a scheduler can skip
        re-reading the whole list while nothing changed.
        """
        query = select(
            func.count(), func.max(PipelineSchedule.id), func.max(PipelineSchedule.updated_at)
        )
        with self._session() as session:
            count, highest, latest = session.execute(query).one()
        return (count, highest or 0, latest)

    def get(self, trigger_id: int) -> TriggerRecord:
        """The trigger with that id.

        Raises:
            TriggerNotFoundError: there is none.
        """
        with self._session() as session:
            return _record(self._row(session, trigger_id))

    def get_by_name(self, pipeline_uuid: str, name: str) -> TriggerRecord:
        """The trigger of `pipeline_uuid` named `name`.

        Raises:
            TriggerNotFoundError: there is none.
        """
        query = select(PipelineSchedule).where(
            PipelineSchedule.pipeline_uuid == pipeline_uuid, PipelineSchedule.name == name
        )
        with self._session() as session:
            row = session.scalars(query).one_or_none()
            if row is None:
                raise TriggerNotFoundError(f"pipeline '{pipeline_uuid}' has no trigger '{name}'")
            return _record(row)

    def create(self, spec: TriggerSpec) -> tuple[TriggerRecord, str | None]:
        """Store a new trigger.

        Returns:
            The trigger, and for an `api` trigger its token (shown this once; None otherwise).

        Raises:
            ConflictError: the pipeline has a trigger of that name already.
        """
        now = self._clock()
        token = secrets.token_urlsafe(32) if spec.schedule_type is ScheduleType.API else None
        row = PipelineSchedule(created_at=now, status=TriggerStatus.INACTIVE.value)
        _apply(row, spec, now)
        row.token_hash = hash_token(token) if token else None
        with self._conflict_as_error(spec), self._session(write=True) as session:
            session.add(row)
            session.flush()
            return _record(row), token

    @contextmanager
    def _conflict_as_error(self, spec: TriggerSpec) -> Iterator[None]:
        try:
            yield
        except IntegrityError:
            raise ConflictError(
                f"pipeline '{spec.pipeline_uuid}' has a trigger named '{spec.name}' already"
            ) from None

    def update(self, trigger_id: int, **fields: Any) -> TriggerRecord:
        """Change some of a trigger's `TriggerSpec` fields; the result is validated whole.

        Activating it (`status="active"`) sets `last_enabled_at`. The token is kept; a trigger
        turned into an `api` one gets a token only from `rotate_token`.

        Raises:
            TriggerNotFoundError: no trigger with that id.
            ConfigError: the changed trigger is invalid, or a field is not a `TriggerSpec` key.
            ConflictError: the new name is taken in that pipeline.
        """
        unknown = sorted(set(fields) - set(TriggerSpec.model_fields))
        if unknown:
            raise ConfigError(f"trigger {trigger_id}: unknown fields {unknown}")
        current = self.get(trigger_id)
        data = {**current.spec().model_dump(), **fields}
        spec = TriggerSpec.parse(data, where=f"trigger {trigger_id} ('{current.name}')")
        with self._conflict_as_error(spec), self._session(write=True) as session:
            row = self._row(session, trigger_id)
            _apply(row, spec, self._clock())
            session.flush()
            return _record(row)

    def set_active(self, trigger_id: int, active: bool) -> TriggerRecord:
        """Enable or disable a trigger (enabling sets `last_enabled_at` if it was disabled).

        Raises:
            TriggerNotFoundError: no trigger with that id.
        """
        status = TriggerStatus.ACTIVE if active else TriggerStatus.INACTIVE
        return self.update(trigger_id, status=status)

    def delete(self, trigger_id: int) -> None:
        """Delete a trigger; its runs stay (with their `pipeline_schedule_id`).

        Raises:
            TriggerNotFoundError: no trigger with that id.
        """
        with self._session(write=True) as session:
            session.delete(self._row(session, trigger_id))

    def verify_token(self, trigger_id: int, token: str) -> bool:
        """True when `token` is the trigger's API token (constant-time digest comparison).

        False for an unknown trigger or one without a token, so a caller learns nothing from
        the answer but yes or no. Whether the trigger is active is the caller's check.
        """
        with self._session() as session:
            row = session.get(PipelineSchedule, trigger_id)
            stored = row.token_hash if row is not None else None
        candidate = hash_token(token)
        if stored is None:
            hmac.compare_digest(candidate, candidate)  # same work either way
            return False
        return hmac.compare_digest(candidate.encode(), stored.encode())

    def rotate_token(self, trigger_id: int) -> str:
        """Give the trigger a new random API token (the old one stops working) and return it.

        Raises:
            TriggerNotFoundError: no trigger with that id.
        """
        token = secrets.token_urlsafe(32)
        with self._session(write=True) as session:
            row = self._row(session, trigger_id)
            row.token_hash, row.updated_at = hash_token(token), self._clock()
        return token

    def replace_pipeline_triggers(
        self, pipeline_uuid: str, specs: Sequence[TriggerSpec]
    ) -> dict[str, builtins.list[str]]:
        """Make the pipeline's triggers exactly `specs`, matched by name, in one transaction.

        Triggers not named in `specs` are deleted; existing ones keep their id and token; new
        `api` triggers get no token until `rotate_token` (a file cannot hold a secret).

        Returns:
            Names by change: `{"created": [...], "updated": [...], "deleted": [...]}`.
        """
        changes: dict[str, builtins.list[str]] = {"created": [], "updated": [], "deleted": []}
        now = self._clock()
        query = select(PipelineSchedule).where(PipelineSchedule.pipeline_uuid == pipeline_uuid)
        with self._session(write=True) as session:
            existing = {row.name: row for row in session.scalars(query)}
            wanted = {spec.name: spec for spec in specs}
            for name, row in existing.items():
                if name not in wanted:
                    session.delete(row)
                    changes["deleted"].append(name)
            session.flush()
            for name, spec in wanted.items():
                found = existing.get(name)
                if found is not None and _record(found).spec() == spec:
                    continue
                changes["updated" if found else "created"].append(name)
                row = found or PipelineSchedule(created_at=now, status=TriggerStatus.INACTIVE.value)
                _apply(row, spec, now)
                session.add(row)
        return changes
