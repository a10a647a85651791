"""The tap's own STATE travels with its batches into the committed bookmarks, and back to the tap.

Runs `sync_stream` from the stand-in tap (`fake_tap.py`) into a destination that records every
bookmark it commits.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import replace
from pathlib import Path
from typing import Any

from tests.unit.integration_files.helpers import MemoryDestination
from weir.integration import LoadBatch, TableSpec, sync_stream

from .test_singer_tap import at, calls, incremental, make_source, record


def counted(n: int) -> dict[str, Any]:
    """The STATE value the tap writes after its record `n`."""
    return {"bookmarks": {"app-users": {"replication_key_value": at(n), "seen": n}}}


def state(n: int) -> dict[str, Any]:
    return {"type": "STATE", "value": counted(n)}


class Recording(MemoryDestination):
    """Also keeps each committed bookmark, in order, with the ids of its batch."""

    def __init__(self) -> None:
        super().__init__()
        self.commits: list[tuple[list[int], Any]] = []

    def write(
        self,
        spec: TableSpec,
        batches: Iterable[LoadBatch],
        *,
        on_batch: Callable[[int], None] | None = None,
    ) -> int:
        def recorded() -> Iterable[LoadBatch]:
            for batch in batches:
                self.commits.append((batch.records.column("id").to_pylist(), batch.bookmark))
                yield batch

        return super().write(spec, recorded(), on_batch=on_batch)


def states(destination: Recording) -> list[tuple[list[int], Any]]:
    return [(ids, (bookmark or {}).get("singer_state")) for ids, bookmark in destination.commits]


def each_record_then_its_state(*rows: tuple[int, int]) -> list[dict[str, Any]]:
    messages = []
    for id_, minute in rows:
        messages += [record(id_, at(minute)), state(id_)]
    return messages


def test_each_batch_commits_the_taps_state_and_the_next_sync_hands_it_back(tmp_path: Path):
    messages = each_record_then_its_state((1, 1), (2, 2), (3, 3))
    source = make_source(tmp_path, messages=messages, sort=False)
    destination = Recording()
    sync_stream(source, destination, incremental(source), batch_size_rows=2)
    # A batch's state is the last STATE before the next batch's first record.
    assert states(destination) == [([1, 2], counted(2)), ([3], counted(3))]
    bookmark = destination.read_bookmark("default", "users")
    assert bookmark is not None
    assert bookmark["replication_key_value"] == at(3)
    assert bookmark["singer_state"] == counted(3)

    sync_stream(source, destination, incremental(source), batch_size_rows=2)
    assert calls(tmp_path)[-1]["state"] == counted(3)  # verbatim, not rebuilt from Weir's


def test_sorted_reads_commit_the_taps_final_state_with_their_last_batch(tmp_path: Path):
    messages = each_record_then_its_state((3, 3), (1, 1), (2, 2))
    source = make_source(tmp_path, messages=messages)  # sort_incremental=True
    destination = Recording()
    sync_stream(source, destination, incremental(source), batch_size_rows=2)
    assert states(destination) == [([1, 2], None), ([3], counted(2))]


def keyless(source: Any) -> Any:
    return replace(incremental(source), key_properties=(), metadata=()).with_selected()


def test_a_keyless_group_moved_whole_keeps_the_state_of_its_last_batch(tmp_path: Path):
    # Batches of 2: [1, 2] [3, 4] [5]; ids 2 to 4 share one replication-key value.
    messages = each_record_then_its_state((1, 1), (2, 2), (3, 2), (4, 2), (5, 3))
    source = make_source(tmp_path, messages=messages, sort=False)
    destination = Recording()
    sync_stream(source, destination, keyless(source), batch_size_rows=2)
    assert states(destination) == [([1, 2, 3, 4], counted(4)), ([5], counted(5))]


def test_a_keyless_batch_cut_inside_gives_its_state_only_to_the_piece_ending_with_it(
    tmp_path: Path,
):
    # Batches of 2: [1, 2] [3, 4] [5]; id 3 joins the group of id 2. The state after id 4
    # must not be committed with ids 1-3: resuming from it would skip id 4.
    messages = each_record_then_its_state((1, 1), (2, 2), (3, 2), (4, 3), (5, 4))
    source = make_source(tmp_path, messages=messages, sort=False)
    destination = Recording()
    sync_stream(source, destination, keyless(source), batch_size_rows=2)
    assert states(destination) == [
        ([1, 2, 3], counted(2)),
        ([4], counted(4)),
        ([5], counted(5)),
    ]
