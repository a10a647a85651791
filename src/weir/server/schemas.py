"""Request and response bodies of the HTTP API (pydantic), as the OpenAPI schema shows them.

Responses are built from the stores' frozen records with `from_attributes`; requests are
checked here (lengths, patterns, enums) so that a malformed body is a 422 before any store
is asked. Datetimes are ISO-8601 in UTC. Lists that can grow without bound are paged:
`{"items": [...], "total": n, "limit": l, "offset": o}`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, field_validator

from weir.orchestration.triggers import ScheduleType, TriggerSettings, TriggerStatus
from weir.project.layout import BLOCK_TYPE_FOLDERS, LANGUAGE_EXTENSIONS
from weir.runs.status import RunStatus
from weir.server.auth import MIN_PASSWORD_LENGTH, USERNAME_PATTERN, Role
from weir.server.project_files import BLOCK_UUID_PATTERN, PIPELINE_UUID_PATTERN

__all__ = [
    "ApiKeyCreate",
    "ApiKeyCreated",
    "ApiKeyOut",
    "ApiTriggerRequest",
    "ApiTriggerResponse",
    "ApiTriggerRun",
    "BackfillCancel",
    "BackfillCreate",
    "BackfillOut",
    "BlockCodeUpdate",
    "BlockCreate",
    "BlockOut",
    "BlockRunOut",
    "BlockSummary",
    "ColumnOut",
    "LogEntry",
    "LogsOut",
    "OutputOut",
    "Page",
    "PipelineCreate",
    "PipelineOut",
    "PipelineSummary",
    "PipelineUpdate",
    "PreviewOut",
    "RetryRequest",
    "RunCreate",
    "RunDetail",
    "RunListQuery",
    "RunOut",
    "SessionCreate",
    "SessionOut",
    "TokenOut",
    "TriggerCreated",
    "TriggerOut",
    "TriggerUpdate",
    "UserCreate",
    "UserOut",
    "UserUpdate",
]

_T = TypeVar("_T")

_PASSWORD = Field(min_length=MIN_PASSWORD_LENGTH, max_length=1024)


class _Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Page(BaseModel, Generic[_T]):
    """A page of a longer list."""

    items: list[_T]
    total: int = Field(description="how many items match in all")
    limit: int
    offset: int


# -- users, sessions, API keys --------------------------------------------------------------


class UserOut(_Out):
    """A user (never the password)."""

    id: int
    username: str
    role: Role
    created_at: datetime


class UserCreate(_In):
    """A new user."""

    username: str = Field(pattern=USERNAME_PATTERN)
    password: str = _PASSWORD
    role: Role


class UserUpdate(_In):
    """A change of role and/or password; a new password ends the user's sessions."""

    role: Role | None = None
    password: str | None = Field(default=None, min_length=MIN_PASSWORD_LENGTH, max_length=1024)


class SessionCreate(_In):
    """Sign in with a username and password."""

    username: str = Field(pattern=USERNAME_PATTERN)
    password: str = Field(max_length=1024)


class SessionOut(BaseModel):
    """A new session: send `token` as `Authorization: Bearer <token>` until `expires_at`."""

    token: str
    expires_at: datetime
    user: UserOut


class ApiKeyCreate(_In):
    """A new API key; owners may make one for another user (`user_id`)."""

    name: str = Field(min_length=1, max_length=255)
    user_id: int | None = Field(default=None, ge=1, le=2**31 - 1, description="default: the caller")


class ApiKeyOut(_Out):
    """An API key, without the key (`hint` is its last 4 characters)."""

    id: int
    user_id: int
    name: str
    hint: str
    created_at: datetime


class ApiKeyCreated(ApiKeyOut):
    """A new API key with the key itself, shown this once."""

    key: str


# -- pipelines and blocks -------------------------------------------------------------------


class BlockSummary(BaseModel):
    """A block as a pipeline lists it."""

    uuid: str
    name: str | None = None
    type: str
    language: str
    upstream_blocks: list[str]
    downstream_blocks: list[str]


class PipelineSummary(BaseModel):
    """A pipeline in a listing; `error` says why it does not load, if it does not."""

    uuid: str
    name: str | None = None
    type: str | None = None
    description: str | None = None
    tags: list[str] = []
    block_count: int
    error: str | None = None


class PipelineOut(PipelineSummary):
    """A pipeline: its metadata.yaml as written (`metadata`) and its blocks."""

    blocks: list[BlockSummary]
    metadata: dict[str, Any]


class PipelineCreate(BaseModel):
    """A new pipeline: Mage's metadata.yaml keys. Unknown keys are kept in the file."""

    model_config = ConfigDict(extra="allow")

    uuid: str = Field(pattern=PIPELINE_UUID_PATTERN)
    name: str | None = None
    type: str = "python"
    description: str | None = None


class PipelineUpdate(BaseModel):
    """New values of metadata.yaml keys; keys not sent are kept. Unknown keys are written as is."""

    model_config = ConfigDict(extra="allow")


_BLOCK_TYPES = "|".join(sorted(BLOCK_TYPE_FOLDERS))
_LANGUAGES = "|".join(sorted(LANGUAGE_EXTENSIONS))


class BlockCreate(_In):
    """A block to add to a pipeline; `content` is its code (default: a starter template)."""

    uuid: str = Field(pattern=BLOCK_UUID_PATTERN, max_length=255)
    name: str | None = None
    type: str = Field(pattern=f"^({_BLOCK_TYPES})$")
    language: str = Field(default="python", pattern=f"^({_LANGUAGES})$")
    upstream_blocks: list[str] = []
    configuration: dict[str, Any] = {}
    content: str | None = Field(default=None, max_length=10_000_000)


class BlockCodeUpdate(_In):
    """A block's new code."""

    content: str = Field(max_length=10_000_000)


class BlockOut(BaseModel):
    """A block: its entry in the pipeline, its file (relative to the project) and its code."""

    uuid: str
    type: str | None
    language: str
    path: str
    content: str | None = Field(description="None when the file does not exist")
    spec: dict[str, Any]


# -- runs -----------------------------------------------------------------------------------


MAX_PAGE = 500


class RunListQuery(BaseModel):
    """Filters and paging of `GET /api/pipeline_runs` (query parameters)."""

    pipeline_uuid: str | None = None
    status: list[RunStatus] = Field(default=[], description="repeat for several statuses")
    pipeline_schedule_id: int | None = Field(
        default=None, ge=1, le=2**31 - 1, description="the trigger's id"
    )
    since: datetime | None = Field(
        default=None, description="execution_date at or after this (ISO-8601; no offset = UTC)"
    )
    until: datetime | None = Field(
        default=None, description="execution_date before this (ISO-8601; no offset = UTC)"
    )
    limit: int = Field(default=50, ge=0, le=MAX_PAGE)
    offset: int = Field(default=0, ge=0, le=2**31)

    @field_validator("since", "until", mode="before")
    @classmethod
    def _iso_8601_only(cls, value: Any) -> Any:
        # pydantic would also take a number as a Unix time; the schema says date-time.
        if isinstance(value, str):
            try:
                datetime.fromisoformat(value)
            except ValueError:
                raise ValueError(
                    "expected an ISO-8601 date-time, e.g. 2025-01-31T00:00:00Z"
                ) from None
        elif value is not None and not isinstance(value, datetime):
            raise ValueError("expected an ISO-8601 date-time, e.g. 2025-01-31T00:00:00Z")
        return value


class RunCreate(_In):
    """A run to queue now; a scheduler starts it."""

    pipeline_uuid: str = Field(min_length=1, max_length=255)
    variables: dict[str, Any] = Field(default={}, description="win over the pipeline's")


class BlockRunOut(_Out):
    """One block run."""

    id: int
    pipeline_run_id: int
    block_uuid: str
    status: RunStatus
    started_at: datetime | None
    completed_at: datetime | None
    attempts: int
    error: str | None
    traceback: str | None
    metrics: dict[str, Any]


class RunOut(_Out):
    """A pipeline run in a listing, with how many of its block runs are in each status."""

    id: int
    pipeline_uuid: str
    pipeline_schedule_id: int | None
    status: RunStatus
    execution_date: datetime
    variables: dict[str, Any]
    created_at: datetime
    started_at: datetime | None
    completed_at: datetime | None
    error: str | None
    backfill_id: int | None
    attempt: int
    passed_sla: bool
    block_runs_by_status: dict[str, int]


class RunDetail(_Out):
    """A pipeline run with its block runs."""

    id: int
    pipeline_uuid: str
    pipeline_schedule_id: int | None
    status: RunStatus
    execution_date: datetime
    variables: dict[str, Any]
    created_at: datetime
    started_at: datetime | None
    completed_at: datetime | None
    heartbeat_at: datetime | None
    error: str | None
    metrics: dict[str, Any]
    backfill_id: int | None
    attempt: int
    start_after: datetime | None
    claimed_by: str | None
    passed_sla: bool
    block_runs: list[BlockRunOut]


class RetryRequest(_In):
    """Which block of a failed or cancelled run to run again (the body form of `?block_uuid=`).

    With `block_uuid`: that block and every block downstream of it, in the same run; without:
    the whole run again as its next attempt.
    """

    block_uuid: str | None = None


class LogEntry(BaseModel):
    """One log line of a block run (the engine's JSON-lines keys; others are passed through)."""

    model_config = ConfigDict(extra="allow")

    block_uuid: str
    timestamp: str | None = None
    level: str | None = None
    message: str = ""


class LogsOut(BaseModel):
    """Log lines, oldest first."""

    entries: list[LogEntry]


class OutputOut(BaseModel):
    """One persisted output of a block run."""

    index: int
    kind: str
    format: str
    rows: int | None
    columns: int | None
    bytes: int
    column_types: list[tuple[str, str]] | None = Field(description="(name, type) pairs")


class ColumnOut(BaseModel):
    """A column of a preview."""

    name: str
    type: str


class PreviewOut(BaseModel):
    """The first rows of an output; cells are JSON values (other types as their text)."""

    kind: str
    columns: list[ColumnOut]
    rows: list[list[Any]]
    row_count: int | None


# -- triggers -------------------------------------------------------------------------------


class TriggerOut(_Out):
    """A trigger (Mage's pipeline schedule). Its API token is never shown again."""

    id: int
    name: str
    pipeline_uuid: str
    schedule_type: ScheduleType
    schedule_interval: str | None
    start_time: datetime | None
    timezone: str
    status: TriggerStatus
    variables: dict[str, Any]
    sla: int | None = Field(description="seconds")
    settings: dict[str, Any]
    envs: list[str]
    description: str | None
    has_token: bool
    last_enabled_at: datetime | None
    created_at: datetime
    updated_at: datetime

    @field_validator("settings", mode="before")
    @classmethod
    def _settings_as_stored(cls, value: Any) -> Any:
        return value.to_json() if isinstance(value, TriggerSettings) else value


class TriggerCreated(TriggerOut):
    """A new trigger; an `api` trigger's `token` is shown this once."""

    token: str | None


class TriggerUpdate(_In):
    """New values of some of a trigger's keys (Mage's `triggers.yaml` keys)."""

    name: str | None = Field(default=None, min_length=1, max_length=255)
    schedule_type: ScheduleType | None = None
    schedule_interval: str | None = None
    timezone: str | None = None
    start_time: datetime | None = None
    status: TriggerStatus | None = None
    variables: dict[str, Any] | None = None
    sla: int | None = Field(default=None, gt=0)
    settings: dict[str, Any] | None = None
    envs: list[str] | None = None
    description: str | None = None


class TokenOut(BaseModel):
    """A trigger's new API token, shown this once."""

    token: str


class ApiTriggerRun(BaseModel):
    """The run an API trigger call asks for (Mage's body)."""

    variables: dict[str, Any] = Field(default={}, description="win over the trigger's")


class ApiTriggerRequest(BaseModel):
    """Mage's body of an API trigger call: `{"pipeline_run": {"variables": {...}}}`."""

    pipeline_run: ApiTriggerRun = Field(default_factory=ApiTriggerRun)


class ApiTriggerResponse(BaseModel):
    """Mage's answer to an API trigger call: the new, queued run."""

    pipeline_run: RunDetail


# -- backfills ------------------------------------------------------------------------------


class BackfillCreate(_In):
    """A backfill: one queued run per interval from `start_datetime` to `end_datetime`.

    Each run's execution date is its interval's start; its variables get
    `interval_start_datetime` and `interval_end_datetime` (Mage's names).
    """

    pipeline_uuid: str = Field(min_length=1, max_length=255)
    start_datetime: datetime = Field(description="the first interval's start (no offset: timezone)")
    end_datetime: datetime = Field(description="the last interval starts at or before this")
    interval_type: Literal["second", "minute", "hour", "day", "week", "month", "year"] = "day"
    interval_units: int = Field(default=1, ge=1, le=10_000)
    variables: dict[str, Any] = {}
    name: str | None = Field(default=None, min_length=1, max_length=255)
    timezone: str = Field(default="UTC", max_length=64, description="IANA zone of the intervals")


class BackfillCancel(_In):
    """How far a cancellation goes."""

    include_running: bool = Field(default=False, description="also stop its running runs")


class BackfillOut(_Out):
    """A backfill and how its runs stand (`run_counts` by status)."""

    id: int
    name: str
    pipeline_uuid: str
    start_datetime: datetime
    end_datetime: datetime
    interval_type: str
    interval_units: int
    variables: dict[str, Any]
    status: Literal["running", "completed", "failed", "cancelled"]
    run_counts: dict[str, int]
    created_at: datetime
    updated_at: datetime
