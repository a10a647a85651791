"""The transition table, written out here independently of the code so a change shows up."""

from __future__ import annotations

import itertools

import pytest

from weir.errors import RunStateError
from weir.runs.status import (
    RETRY_FROM_STATES,
    TERMINAL_STATUSES,
    RecordKind,
    RunStatus,
    allowed_targets,
    check_retry,
    check_transition,
)

S = RunStatus

EXPECTED: dict[RecordKind, dict[RunStatus, set[RunStatus]]] = {
    RecordKind.BLOCK_RUN: {
        S.INITIAL: {S.QUEUED, S.RUNNING, S.CANCELLED, S.UPSTREAM_FAILED, S.CONDITION_FAILED},
        S.QUEUED: {S.RUNNING, S.CANCELLED, S.UPSTREAM_FAILED, S.CONDITION_FAILED},
        S.RUNNING: {S.COMPLETED, S.FAILED, S.CANCELLED},
    },
    RecordKind.PIPELINE_RUN: {
        S.INITIAL: {S.QUEUED, S.RUNNING, S.CANCELLED, S.FAILED},
        S.QUEUED: {S.RUNNING, S.CANCELLED, S.FAILED},
        S.RUNNING: {S.COMPLETED, S.FAILED, S.CANCELLED},
    },
}

LEGAL = [
    (kind, current, new)
    for kind, table in EXPECTED.items()
    for current, targets in table.items()
    for new in sorted(targets)
]
ILLEGAL = [
    (kind, current, new)
    for kind in RecordKind
    for current, new in itertools.product(RunStatus, RunStatus)
    if new not in EXPECTED[kind].get(current, set())
]


def test_status_values_are_mages() -> None:
    assert [s.value for s in RunStatus] == [
        "initial",
        "queued",
        "running",
        "completed",
        "failed",
        "cancelled",
        "upstream_failed",
        "condition_failed",
    ]


def test_terminal_statuses() -> None:
    assert (
        frozenset({S.COMPLETED, S.FAILED, S.CANCELLED, S.UPSTREAM_FAILED, S.CONDITION_FAILED})
        == TERMINAL_STATUSES
    )


@pytest.mark.parametrize(("kind", "current", "new"), LEGAL)
def test_legal_transition_passes(kind: RecordKind, current: RunStatus, new: RunStatus) -> None:
    check_transition(kind, current, new)


@pytest.mark.parametrize(("kind", "current", "new"), ILLEGAL)
def test_illegal_transition_raises(kind: RecordKind, current: RunStatus, new: RunStatus) -> None:
    with pytest.raises(RunStateError):
        check_transition(kind, current, new)


def test_counts_cover_every_pair() -> None:
    assert len(LEGAL) + len(ILLEGAL) == 2 * len(RunStatus) ** 2
    assert len(LEGAL) == 12 + 10


@pytest.mark.parametrize("kind", list(RecordKind))
def test_allowed_targets_matches_table(kind: RecordKind) -> None:
    for status in RunStatus:
        assert allowed_targets(kind, status) == EXPECTED[kind].get(status, set())


def test_no_terminal_status_has_a_way_out() -> None:
    for kind, status in itertools.product(RecordKind, TERMINAL_STATUSES):
        assert allowed_targets(kind, status) == frozenset()


def test_nothing_goes_back_to_initial_without_retry() -> None:
    for kind, status in itertools.product(RecordKind, RunStatus):
        assert RunStatus.INITIAL not in allowed_targets(kind, status)


def test_message_names_record_states_and_allowed_targets() -> None:
    with pytest.raises(RunStateError) as info:
        check_transition(
            RecordKind.BLOCK_RUN, S.QUEUED, S.COMPLETED, record="7 (block 'load' of run 3)"
        )
    message = str(info.value)
    assert message.startswith("block run 7 (block 'load' of run 3): ")
    assert "from 'queued' to 'completed'" in message
    assert "cancelled, condition_failed, running, upstream_failed" in message


def test_message_for_terminal_block_run_points_to_retry() -> None:
    with pytest.raises(RunStateError, match=r"'failed' is terminal.*retry_block_run"):
        check_transition(RecordKind.BLOCK_RUN, S.FAILED, S.RUNNING)


def test_message_for_terminal_pipeline_run_has_no_retry_hint() -> None:
    with pytest.raises(RunStateError) as info:
        check_transition(RecordKind.PIPELINE_RUN, S.COMPLETED, S.RUNNING, record="4")
    assert str(info.value).startswith("pipeline run 4: cannot change status")
    assert "retry" not in str(info.value)


@pytest.mark.parametrize(
    ("kind", "retryable"),
    [
        (RecordKind.BLOCK_RUN, {S.FAILED, S.CANCELLED, S.UPSTREAM_FAILED}),
        (RecordKind.PIPELINE_RUN, {S.FAILED, S.CANCELLED}),
    ],
)
def test_retry_table(kind: RecordKind, retryable: set[RunStatus]) -> None:
    assert retryable == RETRY_FROM_STATES[kind]
    for status in RunStatus:
        if status in retryable:
            check_retry(kind, status)
        else:
            with pytest.raises(RunStateError, match=f"cannot retry from status '{status}'"):
                check_retry(kind, status)
