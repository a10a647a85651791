from pathlib import Path

import orjson
import pytest

from weir.integration.singer import (
    Catalog,
    CatalogEntry,
    MetadataEntry,
    ReplicationMethod,
    State,
    UniqueConflictMethod,
)

# The shape Mage writes to pipelines/<uuid>/data_integration_catalog.json.
MAGE_STREAM = {
    "tap_stream_id": "users",
    "stream": "users",
    "replication_method": "INCREMENTAL",
    "replication_key": "updated_at",
    "key_properties": ["id"],
    "schema": {
        "type": "object",
        "properties": {
            "id": {"type": ["integer"]},
            "email": {"type": ["null", "string"]},
            "secret": {"type": ["null", "string"]},
            "updated_at": {"type": ["null", "string"], "format": "date-time"},
        },
    },
    "metadata": [
        {
            "breadcrumb": [],
            "metadata": {
                "selected": True,
                "table-key-properties": ["id"],
                "inclusion": "available",
            },
        },
        {"breadcrumb": ["properties", "id"], "metadata": {"inclusion": "automatic"}},
        {"breadcrumb": ["properties", "email"], "metadata": {"inclusion": "available"}},
        {
            "breadcrumb": ["properties", "secret"],
            "metadata": {"inclusion": "available", "selected": False},
        },
        {"breadcrumb": ["properties", "updated_at"], "metadata": {"inclusion": "available"}},
    ],
    "auto_add_new_fields": False,
    "unique_conflict_method": "UPDATE",
    "unique_constraints": ["id"],
    "bookmark_properties": ["updated_at"],
    "run_in_parallel": False,
    "disable_column_type_check": None,
}


def test_mage_catalog_round_trips_unchanged(tmp_path: Path):
    # Mage writes the file as the pipeline's `data_integration` value: the catalog under
    # "catalog" (this test used to assume the bare Singer shape; see the next test for it).
    path = tmp_path / "data_integration_catalog.json"
    path.write_bytes(orjson.dumps({"catalog": {"streams": [MAGE_STREAM]}}))
    catalog = Catalog.load(path)
    catalog.dump(path)
    assert orjson.loads(path.read_bytes()) == {"catalog": {"streams": [MAGE_STREAM]}}


def test_the_bare_singer_shape_is_read_and_written_back_in_mages_shape(tmp_path: Path):
    path = tmp_path / "data_integration_catalog.json"
    path.write_bytes(orjson.dumps({"streams": [MAGE_STREAM]}))
    catalog = Catalog.load(path)
    assert catalog == Catalog.from_dict({"catalog": {"streams": [MAGE_STREAM]}})
    assert catalog.to_dict() == {"streams": [MAGE_STREAM]}  # what a Singer tap reads
    catalog.dump(path)
    assert orjson.loads(path.read_bytes()) == {"catalog": {"streams": [MAGE_STREAM]}}


def test_dump_keeps_the_other_top_level_keys_of_a_mage_file(tmp_path: Path):
    path = tmp_path / "data_integration_catalog.json"
    path.write_bytes(orjson.dumps({"catalog": {"streams": []}, "mage_extra": {"a": 1}}))
    Catalog.from_dict({"streams": [MAGE_STREAM]}).dump(path)
    assert orjson.loads(path.read_bytes()) == {
        "catalog": {"streams": [MAGE_STREAM]},
        "mage_extra": {"a": 1},
    }
    assert [p.name for p in tmp_path.iterdir()] == ["data_integration_catalog.json"]


def test_entry_reads_mage_keys():
    entry = CatalogEntry.from_dict(MAGE_STREAM)
    assert entry.effective_replication_method is ReplicationMethod.INCREMENTAL
    assert entry.effective_replication_key == "updated_at"
    assert entry.unique_conflict_method is UniqueConflictMethod.UPDATE
    assert entry.merge_keys == ("id",)
    assert entry.extra == {"run_in_parallel": False, "disable_column_type_check": None}
    assert entry.is_selected


def test_field_selection_follows_singer_and_mage_rules():
    entry = CatalogEntry.from_dict(MAGE_STREAM)
    # automatic always; available without `selected` counts as selected (Mage); selected: false out
    assert entry.selected_fields == ("id", "email", "updated_at")
    assert entry.with_field_selected("secret", True).selected_fields == (
        "id",
        "email",
        "secret",
        "updated_at",
    )
    assert "id" in entry.with_field_selected("id", False).selected_fields  # keys always synced


def test_selection_of_streams_and_metadata_fallbacks():
    entry = CatalogEntry(
        tap_stream_id="t",
        stream="t",
        schema={"properties": {"a": {"type": "integer"}}},
        metadata=(
            MetadataEntry(
                (),
                {
                    "replication-method": "incremental",
                    "replication-key": "a",
                    "table-key-properties": ["a"],
                },
            ),
        ),
    )
    assert not entry.is_selected
    assert entry.with_selected().is_selected
    assert entry.effective_replication_method is ReplicationMethod.INCREMENTAL
    assert entry.effective_replication_key == "a"
    assert entry.effective_key_properties == ("a",)
    catalog = Catalog((entry,))
    assert catalog.selected == ()
    assert catalog.with_selected(["t"]).selected[0].tap_stream_id == "t"


def test_unknown_replication_method_names_the_key():
    with pytest.raises(ValueError, match="replication_method"):
        CatalogEntry.from_dict({**MAGE_STREAM, "replication_method": "SOMETIMES"})


def test_catalog_rejects_duplicates_and_names_missing_streams():
    entry = CatalogEntry.from_dict(MAGE_STREAM)
    with pytest.raises(ValueError, match="twice"):
        Catalog((entry, entry))
    with pytest.raises(KeyError, match="streams: users"):
        Catalog((entry,)).get("orders")


def test_catalog_load_names_the_file(tmp_path: Path):
    path = tmp_path / "cat.json"
    path.write_text('{"stream": []}')
    with pytest.raises(ValueError, match=r"cat\.json"):
        Catalog.load(path)
    path.write_text('{"catalog": {"tables": []}}')
    with pytest.raises(ValueError, match=r"cat\.json: not a valid catalog"):
        Catalog.load(path)
    path.write_text("[1")
    with pytest.raises(ValueError, match=r"cat\.json: not valid JSON"):
        Catalog.load(path)
    path.write_text("[1]")
    with pytest.raises(ValueError, match=r"cat\.json: not a valid catalog: .*a mapping"):
        Catalog.load(path)


def _live(properties):
    return CatalogEntry(
        tap_stream_id="users",
        stream="users",
        schema={"type": "object", "properties": properties},
        metadata=tuple(
            MetadataEntry(("properties", n), {"inclusion": "available"}) for n in properties
        ),
    )


def test_refreshed_takes_types_from_source_and_keeps_selection():
    entry = CatalogEntry.from_dict(MAGE_STREAM)
    live = _live(
        {
            "id": {"type": ["integer"]},
            "email": {"type": ["null", "string"]},
            "secret": {"type": ["null", "string"]},
            "updated_at": {"type": ["null", "string"], "format": "date-time"},
            "plan": {"type": ["null", "string"]},
            "age": {"type": ["null", "integer"]},
        }
    )
    refreshed = entry.refreshed(live)
    assert "plan" not in refreshed.properties  # auto_add_new_fields is false
    assert refreshed.selected_fields == ("id", "email", "updated_at")
    assert refreshed.is_selected
    auto = CatalogEntry.from_dict({**MAGE_STREAM, "auto_add_new_fields": True}).refreshed(live)
    assert auto.selected_fields == ("id", "email", "updated_at", "plan", "age")


def test_refreshed_drops_columns_gone_from_the_source():
    entry = CatalogEntry.from_dict(MAGE_STREAM)
    refreshed = entry.refreshed(
        _live({"id": {"type": "integer"}, "updated_at": {"type": "string"}})
    )
    assert list(refreshed.properties) == ["id", "updated_at"]


def test_state_round_trip_keeps_other_keys():
    data = {"currently_syncing": "users", "bookmarks": {"users": {"replication_key_value": 5}}}
    state = State.from_dict(data)
    assert state.to_dict() == data
    moved = state.with_bookmark("orders", {"version": 1}).with_bookmark("users", None)
    assert moved.to_dict() == {
        "currently_syncing": "users",
        "bookmarks": {"orders": {"version": 1}},
    }
    assert state.bookmark("users") == {"replication_key_value": 5}
    assert State.from_dict(None) == State()
    with pytest.raises(ValueError, match="bookmarks"):
        State.from_dict({"bookmarks": {"users": 3}})
