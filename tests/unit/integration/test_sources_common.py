"""The pieces every source shares: resume positions, catalog entries, keyset filtering."""

from __future__ import annotations

import pyarrow as pa
import pytest

from weir.integration import (
    SYNCED_AT_COLUMN,
    TABLE_VERSION_COLUMN,
    CatalogEntry,
    CatalogError,
    Column,
    ColumnKind,
    ReplicationMethod,
)
from weir.integration.sources._common import (
    KeysetFilter,
    ResumePosition,
    concat_batches,
    incremental_keys,
    require_columns,
    resume_position,
    stream_entry,
)


def _as_tuple(position: ResumePosition | None) -> tuple[list[str], list[object], bool] | None:
    """A position as (columns, values, inclusive), the shape the MySQL source used to return."""
    if position is None:
        return None
    return list(position.values), list(position.values.values()), not position.strict


# Moved from tests/unit/integration_mysql/test_source_parts.py with the code they test.
@pytest.mark.parametrize(
    ("bookmark", "expected"),
    [
        (None, None),
        ({"replication_key": "other", "replication_key_value": 3}, None),
        ({"replication_key": "rk", "replication_key_value": None}, None),
        ({"replication_key_value": 3}, (["rk"], [3], True)),
        (
            {"replication_key": "rk", "replication_key_value": 3, "key_values": {"id": 7}},
            (["rk", "id"], [3, 7], False),
        ),
        (
            {"replication_key": "rk", "replication_key_value": 3, "key_values": {}},
            (["rk"], [3], True),
        ),
    ],
)
def test_bookmark_position(bookmark, expected):
    assert _as_tuple(resume_position(bookmark, "rk", ["id"])) == expected


def test_keyless_bookmark_resumes_strictly_after_the_value():
    bookmark = {"replication_key": "rk", "replication_key_value": 3, "key_values": {}}
    assert _as_tuple(resume_position(bookmark, "rk", [])) == (["rk"], [3], False)


def test_stream_entry_discovers_weir_stamp_columns_but_does_not_select_them():
    columns = [
        Column("id", ColumnKind.BIGINT, False),
        Column("name", ColumnKind.TEXT),
        Column(SYNCED_AT_COLUMN, ColumnKind.TIMESTAMP),
        Column(TABLE_VERSION_COLUMN, ColumnKind.BIGINT),
    ]
    entry = stream_entry(
        "users",
        columns,
        key_properties=["id"],
        replication_keys=["id"],
        root={"row-count": 3},
        fields={"name": {"sql-datatype": "text"}},
    )
    assert list(entry.properties) == ["id", "name", SYNCED_AT_COLUMN, TABLE_VERSION_COLUMN]
    assert not entry.is_selected
    assert entry.with_selected().selected_fields == ("id", "name")
    assert entry.field_metadata("id")["inclusion"] == "automatic"
    assert entry.field_metadata("name") == {
        "inclusion": "available",
        "sql-datatype": "text",
        "selected-by-default": True,
    }
    root = entry.field_metadata()
    assert (root["table-key-properties"], root["row-count"]) == (["id"], 3)
    assert root["valid-replication-keys"] == ["id"]


def _incremental(key: str | None, keys: tuple[str, ...]) -> CatalogEntry:
    return CatalogEntry(
        "s",
        "s",
        {"type": "object", "properties": {}},
        key_properties=keys,
        replication_method=ReplicationMethod.INCREMENTAL,
        replication_key=key,
    )


def test_incremental_keys_put_the_replication_key_first_and_check_every_column():
    assert incremental_keys(_incremental("at", ("id", "at")), {"id", "at"}) == ("at", ["id"])
    with pytest.raises(CatalogError, match=r"replication_key among the columns of s; got 'x'"):
        incremental_keys(_incremental("x", ()), {"id"})
    with pytest.raises(CatalogError, match=r"replication_key among the selected columns"):
        incremental_keys(_incremental(None, ()), {"id"}, among="selected columns")
    with pytest.raises(CatalogError, match=r"key properties \['id'\] are not among"):
        incremental_keys(_incremental("at", ("id",)), {"at"})


def test_require_columns_names_the_missing_ones_and_the_table():
    require_columns("s", [Column("a", ColumnKind.TEXT)], {"a", "b"}, "public.s")
    with pytest.raises(CatalogError, match=r"\['b'\] are in the catalog but not in public\.s"):
        require_columns(
            "s", [Column("a", ColumnKind.TEXT), Column("b", ColumnKind.TEXT)], {"a"}, "public.s"
        )


BATCH = pa.record_batch(
    {"rk": [1, 2, 2, 2, None, 3], "id": [9, 1, 2, 3, 4, None]},
)


def _scalar(_name: str, value: object) -> pa.Scalar:
    return pa.scalar(value, pa.int64())


@pytest.mark.parametrize(
    ("position", "rows"),
    [
        (None, [(1, 9), (2, 1), (2, 2), (2, 3), (3, None)]),
        (ResumePosition({"rk": 2}, strict=False), [(2, 1), (2, 2), (2, 3), (3, None)]),
        (ResumePosition({"rk": 2}, strict=True), [(3, None)]),
        (ResumePosition({"rk": 2, "id": 2}, strict=True), [(2, 3), (3, None)]),
        (ResumePosition({"rk": 2, "id": 2}, strict=False), [(2, 2), (2, 3), (3, None)]),
    ],
)
def test_keyset_filter_keeps_rows_after_the_position_and_drops_null_keys(position, rows):
    kept = KeysetFilter.of("rk", position, _scalar).keep(BATCH)
    assert (
        list(zip(kept.column("rk").to_pylist(), kept.column("id").to_pylist(), strict=True)) == rows
    )


def test_keyset_filter_hands_back_a_batch_it_keeps_whole():
    whole = BATCH.slice(0, 4)
    assert KeysetFilter.of("rk", None, _scalar).keep(whole) is whole


def test_concat_batches_joins_into_one_contiguous_batch():
    joined = concat_batches([BATCH.slice(0, 2), BATCH.slice(2)])
    assert joined.equals(BATCH)
    assert concat_batches([BATCH]) is BATCH
