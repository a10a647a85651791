"""Run statuses and the one state machine every status change goes through.

The status names are Mage's (`mage_ai.orchestration.db.models.schedules`), so a Mage user reads
the same words. The transitions are an ordered table of rules per record kind, in the manner of
Prefect's orchestration rules: each rule names the states it leaves (`from_states`) and the
states it may enter (`to_states`). `check_transition` consults the table; the store calls it in
the same transaction that read the current status, and nothing else writes a status column.

Going back to `initial` is not in the table: it is the *retry* transition, a named intent taken
only through `RunStore.retry_block_run`, and checked with `check_retry`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType

from weir.errors import RunStateError

__all__ = [
    "BLOCK_RUN_RULES",
    "PIPELINE_RUN_RULES",
    "RETRY_FROM_STATES",
    "TERMINAL_STATUSES",
    "RecordKind",
    "RunStatus",
    "TransitionRule",
    "allowed_targets",
    "check_retry",
    "check_transition",
]


class RunStatus(StrEnum):
    """The status of a pipeline run or a block run (Mage's names and values)."""

    INITIAL = "initial"
    QUEUED = "queued"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    UPSTREAM_FAILED = "upstream_failed"
    CONDITION_FAILED = "condition_failed"


TERMINAL_STATUSES: frozenset[RunStatus] = frozenset(
    {
        RunStatus.COMPLETED,
        RunStatus.FAILED,
        RunStatus.CANCELLED,
        RunStatus.UPSTREAM_FAILED,
        RunStatus.CONDITION_FAILED,
    }
)
"""Statuses a record never leaves, except through the retry transition."""


class RecordKind(StrEnum):
    """Which kind of record a transition is asked for; values are the table names."""

    PIPELINE_RUN = "pipeline_run"
    BLOCK_RUN = "block_run"


@dataclass(frozen=True, slots=True)
class TransitionRule:
    """One row of the transition table: from any of `from_states` to any of `to_states`."""

    from_states: frozenset[RunStatus]
    to_states: frozenset[RunStatus]


def _rule(from_states: Iterable[RunStatus], to_states: Iterable[RunStatus]) -> TransitionRule:
    return TransitionRule(frozenset(from_states), frozenset(to_states))


_S = RunStatus

BLOCK_RUN_RULES: tuple[TransitionRule, ...] = (
    _rule(
        [_S.INITIAL],
        [_S.QUEUED, _S.RUNNING, _S.CANCELLED, _S.UPSTREAM_FAILED, _S.CONDITION_FAILED],
    ),
    _rule([_S.QUEUED], [_S.RUNNING, _S.CANCELLED, _S.UPSTREAM_FAILED, _S.CONDITION_FAILED]),
    _rule([_S.RUNNING], [_S.COMPLETED, _S.FAILED, _S.CANCELLED]),
)
"""Block runs: skipped (upstream or condition failed) before they run, never while running."""

PIPELINE_RUN_RULES: tuple[TransitionRule, ...] = (
    _rule([_S.INITIAL], [_S.QUEUED, _S.RUNNING, _S.CANCELLED, _S.FAILED]),
    _rule([_S.QUEUED], [_S.RUNNING, _S.CANCELLED, _S.FAILED]),
    _rule([_S.RUNNING], [_S.COMPLETED, _S.FAILED, _S.CANCELLED]),
)
"""Pipeline runs: may fail before running (e.g. the pipeline no longer validates)."""

RETRY_FROM_STATES: Mapping[RecordKind, frozenset[RunStatus]] = MappingProxyType(
    {
        RecordKind.BLOCK_RUN: frozenset({_S.FAILED, _S.CANCELLED, _S.UPSTREAM_FAILED}),
        RecordKind.PIPELINE_RUN: frozenset({_S.FAILED, _S.CANCELLED}),
    }
)
"""States the retry transition (back to `initial`) may leave, per record kind.

A pipeline run is only ever retried as a side effect of retrying one of its block runs.
"""

_RULES: dict[RecordKind, tuple[TransitionRule, ...]] = {
    RecordKind.BLOCK_RUN: BLOCK_RUN_RULES,
    RecordKind.PIPELINE_RUN: PIPELINE_RUN_RULES,
}


def allowed_targets(kind: RecordKind, current: RunStatus) -> frozenset[RunStatus]:
    """The statuses a record of `kind` may move to from `current` (retry not included).

    Args:
        kind: pipeline run or block run.
        current: the record's status now.

    Returns:
        The union of `to_states` of every rule whose `from_states` holds `current`; empty for a
        terminal status.
    """
    targets: set[RunStatus] = set()
    for rule in _RULES[kind]:
        if current in rule.from_states:
            targets |= rule.to_states
    return frozenset(targets)


def _label(kind: RecordKind, record: str | None) -> str:
    name = kind.value.replace("_", " ")
    return f"{name} {record}" if record else name


def _sorted_names(statuses: Iterable[RunStatus]) -> str:
    return ", ".join(sorted(s.value for s in statuses))


def check_transition(
    kind: RecordKind, current: RunStatus, new: RunStatus, *, record: str | None = None
) -> None:
    """Raise unless a record of `kind` may move from `current` to `new`.

    Args:
        kind: pipeline run or block run; selects `PIPELINE_RUN_RULES` or `BLOCK_RUN_RULES`.
        current: the status read from the database in this transaction.
        new: the status asked for.
        record: how to name the record in the message, e.g. `"7 (block 'load' of run 3)"`.

    Raises:
        RunStateError: the table has no rule from `current` to `new`. The message names the
            record, both states and the statuses allowed from `current`.
    """
    allowed = allowed_targets(kind, current)
    if new in allowed:
        return
    message = f"{_label(kind, record)}: cannot change status from '{current}' to '{new}'; "
    if allowed:
        message += f"allowed from '{current}': {_sorted_names(allowed)}"
    else:
        message += f"'{current}' is terminal, nothing is allowed from it"
        if kind is RecordKind.BLOCK_RUN and current in RETRY_FROM_STATES[kind]:
            message += " (use RunStore.retry_block_run to run it again)"
    raise RunStateError(message)


def check_retry(kind: RecordKind, current: RunStatus, *, record: str | None = None) -> None:
    """Raise unless a record of `kind` in status `current` may be retried (set to `initial`).

    Args:
        kind: pipeline run or block run; selects the row of `RETRY_FROM_STATES`.
        current: the status read from the database in this transaction.
        record: how to name the record in the message.

    Raises:
        RunStateError: `current` is not a retryable status; the message lists the ones that are.
    """
    retryable = RETRY_FROM_STATES[kind]
    if current in retryable:
        return
    raise RunStateError(
        f"{_label(kind, record)}: cannot retry from status '{current}'; "
        f"only {_sorted_names(retryable)} may be retried"
    )
