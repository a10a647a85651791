from collections.abc import Iterator
from dataclasses import replace

import pyarrow as pa
import pytest

from weir.integration import (
    SYNCED_AT_COLUMN,
    TABLE_VERSION_COLUMN,
    CatalogError,
    PostgresDestination,
    PostgresSource,
    ReplicationMethod,
    SchemaChangeError,
    SourceError,
    State,
    SyncFailedError,
    UniqueConflictMethod,
    run_sync,
    sync_stream,
)

from .conftest import DEST_SCHEMA, SOURCE_SCHEMA
from .helpers import assert_same_rows, rows

COLUMNS = ["id", "grp", "name", "amount", "at", "doc"]


def make_orders(pg, count=25):
    pg.execute(
        f"""
        CREATE TABLE {SOURCE_SCHEMA}.orders (
            id bigint PRIMARY KEY, grp integer NOT NULL, name text, amount numeric(12, 2),
            at timestamptz, doc jsonb);
        INSERT INTO {SOURCE_SCHEMA}.orders
        SELECT g, g % 3, 'order ' || g, g * 1.25, '2024-01-01'::timestamptz + g * interval '1 hour',
               jsonb_build_object('g', g)
        FROM generate_series(1, {count}) g;
        """
    )


def connectors(conninfo):
    return PostgresSource(conninfo, schema=SOURCE_SCHEMA), PostgresDestination(
        conninfo, schema=DEST_SCHEMA
    )


def catalog_for(source, stream="orders", **changes):
    catalog = source.discover(streams=[stream]).with_selected([stream])
    return catalog.replace_entry(replace(catalog.get(stream), **changes))


def incremental(source, stream="orders", key="grp", **changes):
    return catalog_for(
        source, stream, replication_method=ReplicationMethod.INCREMENTAL, replication_key=key,
        **changes,
    )  # fmt: skip


def test_full_table_copies_rows_types_and_stamps(pg, conninfo):
    make_orders(pg)
    source, destination = connectors(conninfo)
    seen = []
    result = run_sync(
        source, destination, catalog_for(source), batch_size_rows=10, on_progress=seen.append
    )
    assert_same_rows(pg, f"{SOURCE_SCHEMA}.orders", f"{DEST_SCHEMA}.orders", COLUMNS)
    stream = result.stream("orders")
    assert (stream.rows, stream.error) == (25, None)
    assert [p.rows for p in seen] == [10, 20, 25]
    version = stream.bookmark["version"]
    assert result.state.bookmark("orders") == {"version": version}
    types = dict(
        rows(
            pg,
            "SELECT column_name, data_type FROM information_schema.columns "
            f"WHERE table_schema = '{DEST_SCHEMA}' AND table_name = 'orders'",
        )
    )
    assert types == {
        "id": "bigint",
        "grp": "integer",
        "name": "text",
        "amount": "numeric",
        "at": "timestamp with time zone",
        "doc": "jsonb",
        SYNCED_AT_COLUMN: "timestamp with time zone",
        TABLE_VERSION_COLUMN: "bigint",
    }
    stamps = rows(
        pg,
        f"SELECT DISTINCT {TABLE_VERSION_COLUMN}, {SYNCED_AT_COLUMN} IS NOT NULL "
        f"FROM {DEST_SCHEMA}.orders",
    )
    assert stamps == [(version, True)]
    primary_key = rows(
        pg,
        "SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid "
        f"AND a.attnum = ANY(i.indkey) WHERE i.indrelid = '{DEST_SCHEMA}.orders'::regclass "
        "AND i.indisprimary",
    )
    assert primary_key == [("id",)]


def test_full_table_replaces_the_table_on_the_next_run(pg, conninfo):
    make_orders(pg)
    source, destination = connectors(conninfo)
    first = run_sync(source, destination, catalog_for(source))
    pg.execute(f"DELETE FROM {SOURCE_SCHEMA}.orders WHERE id > 5")
    pg.execute(f"UPDATE {SOURCE_SCHEMA}.orders SET name = 'changed' WHERE id = 1")
    second = run_sync(source, destination, catalog_for(source))
    assert_same_rows(pg, f"{SOURCE_SCHEMA}.orders", f"{DEST_SCHEMA}.orders", COLUMNS)
    assert second.stream("orders").bookmark["version"] > first.stream("orders").bookmark["version"]
    pg.execute(f"DELETE FROM {SOURCE_SCHEMA}.orders")
    run_sync(source, destination, catalog_for(source))
    assert rows(pg, f"SELECT count(*) FROM {DEST_SCHEMA}.orders") == [(0,)]


class FailingSource(PostgresSource):
    """Reads the real table, then fails after `good` batches."""

    def __init__(self, conninfo, good):
        super().__init__(conninfo, schema=SOURCE_SCHEMA)
        self.good = good

    def read(self, stream, *, bookmark, batch_size_rows) -> Iterator[pa.RecordBatch]:
        for index, batch in enumerate(
            super().read(stream, bookmark=bookmark, batch_size_rows=batch_size_rows)
        ):
            if index == self.good:
                raise SourceError("connection reset", stream=stream.stream, retriable=True)
            yield batch


def test_failed_full_table_load_leaves_the_old_table(pg, conninfo):
    make_orders(pg)
    source, destination = connectors(conninfo)
    run_sync(source, destination, catalog_for(source))
    before = rows(pg, f"SELECT * FROM {DEST_SCHEMA}.orders ORDER BY id")
    pg.execute(f"UPDATE {SOURCE_SCHEMA}.orders SET name = 'new'")
    failing = FailingSource(conninfo, good=2)
    with pytest.raises(SyncFailedError) as caught:
        run_sync(failing, destination, catalog_for(source), batch_size_rows=5)
    assert caught.value.retriable
    assert "stream 'orders': connection reset" in str(caught.value)
    assert rows(pg, f"SELECT * FROM {DEST_SCHEMA}.orders ORDER BY id") == before
    leftovers = rows(
        pg, f"SELECT tablename FROM pg_tables WHERE schemaname = '{DEST_SCHEMA}' ORDER BY 1"
    )
    assert leftovers == [("_weir_state",), ("orders",)]


class KilledError(Exception):
    """Stands for the process dying right after a batch was committed."""


@pytest.mark.parametrize("keys", [("id",), ()], ids=["keyed", "keyless"])
def test_incremental_one_value_batch_size_one_is_exact(pg, conninfo, keys):
    """Ten rows share one replication-key value; batches of one row; the sync dies after
    every committed batch and is started again until it completes."""
    pg.execute(
        f"CREATE TABLE {SOURCE_SCHEMA}.events (id integer, rk integer, v text);"
        f"INSERT INTO {SOURCE_SCHEMA}.events SELECT g, 1, 'v' || g FROM generate_series(1, 10) g"
    )
    source, destination = connectors(conninfo)
    catalog = incremental(source, "events", key="rk", key_properties=keys)

    def die(progress):
        raise KilledError(progress.rows)

    attempts = 0
    while attempts < 20:
        attempts += 1
        try:
            run_sync(source, destination, catalog, batch_size_rows=1, on_progress=die)
            break
        except KilledError:
            continue
    # Keyed: one row per attempt. Keyless: a batch holds every row of a value, so one attempt.
    assert attempts == (11 if keys else 2)
    assert_same_rows(pg, f"{SOURCE_SCHEMA}.events", f"{DEST_SCHEMA}.events", ["id", "rk", "v"])
    again = run_sync(source, destination, catalog, batch_size_rows=1)
    assert again.stream("events").rows == 0
    pg.execute(
        f"INSERT INTO {SOURCE_SCHEMA}.events SELECT g, 1, 'late' FROM generate_series(11, 13) g"
    )
    pg.execute(
        f"INSERT INTO {SOURCE_SCHEMA}.events SELECT g, 2, 'w' FROM generate_series(14, 16) g"
    )
    run_sync(source, destination, catalog, batch_size_rows=1)
    if keys:
        # Later rows at the bookmarked value with higher keys are found by the keyset.
        assert_same_rows(pg, f"{SOURCE_SCHEMA}.events", f"{DEST_SCHEMA}.events", ["id", "rk", "v"])
    else:
        # Without keys, Weir bookmarks whole values: rows added later at an old value are
        # not seen (as with every bookmark on a non-unique key); nothing is duplicated.
        assert rows(pg, f"SELECT count(*), count(DISTINCT id) FROM {DEST_SCHEMA}.events") == [
            (13, 13)
        ]


def test_keyless_incremental_never_splits_a_value_between_batches(pg, conninfo):
    pg.execute(
        f"CREATE TABLE {SOURCE_SCHEMA}.events (id integer, rk integer);"
        f"INSERT INTO {SOURCE_SCHEMA}.events SELECT g, g / 4 FROM generate_series(0, 19) g"
    )
    source, destination = connectors(conninfo)
    seen = []
    catalog = incremental(source, "events", key="rk", key_properties=())
    run_sync(source, destination, catalog, batch_size_rows=3, on_progress=seen.append)
    sizes = [b.rows for b in seen]
    assert [after - before for before, after in zip([0, *sizes], sizes, strict=False)] == [4] * 5
    assert destination.read_bookmark("default", "events") == {
        "replication_key": "rk",
        "replication_key_value": 4,
        "key_values": {},
    }


def test_incremental_upserts_new_and_updated_rows(pg, conninfo):
    make_orders(pg)
    source, destination = connectors(conninfo)
    catalog = incremental(source, key="at")
    run_sync(source, destination, catalog, batch_size_rows=4)
    pg.execute(
        f"UPDATE {SOURCE_SCHEMA}.orders SET name = 'updated', at = '2030-01-01' WHERE id IN (3, 7)"
    )
    pg.execute(
        f"INSERT INTO {SOURCE_SCHEMA}.orders SELECT g, 1, 'new', 1, '2030-01-02', NULL "
        "FROM generate_series(26, 30) g"
    )
    result = run_sync(source, destination, catalog, batch_size_rows=4)
    assert result.stream("orders").rows == 7
    assert_same_rows(pg, f"{SOURCE_SCHEMA}.orders", f"{DEST_SCHEMA}.orders", COLUMNS)
    assert result.state.bookmark("orders") == {
        "replication_key": "at",
        "replication_key_value": "2030-01-02T00:00:00+00:00",
        "key_values": {"id": 30},
    }


def test_incremental_ignore_keeps_existing_rows(pg, conninfo):
    make_orders(pg, count=5)
    source, destination = connectors(conninfo)
    catalog = incremental(source, key="at", unique_conflict_method=UniqueConflictMethod.IGNORE)
    run_sync(source, destination, catalog)
    pg.execute(
        f"UPDATE {SOURCE_SCHEMA}.orders SET name = 'updated', at = '2030-01-01' WHERE id = 2"
    )
    pg.execute(f"INSERT INTO {SOURCE_SCHEMA}.orders VALUES (6, 0, 'six', 6, '2030-01-02', NULL)")
    run_sync(source, destination, catalog)
    assert rows(pg, f"SELECT id, name FROM {DEST_SCHEMA}.orders ORDER BY id") == [
        (1, "order 1"), (2, "order 2"), (3, "order 3"), (4, "order 4"), (5, "order 5"), (6, "six"),
    ]  # fmt: skip


def test_upsert_keeps_the_last_row_of_a_key_within_a_batch(pg, conninfo):
    pg.execute(
        f"CREATE TABLE {SOURCE_SCHEMA}.log (seq integer, account integer, balance integer);"
        f"INSERT INTO {SOURCE_SCHEMA}.log VALUES (1, 10, 100), (2, 10, 90), (3, 11, 5), (4, 10, 80)"
    )
    source, destination = connectors(conninfo)
    catalog = incremental(source, "log", key="seq", unique_constraints=("account",))
    run_sync(source, destination, catalog, batch_size_rows=10)
    assert rows(pg, f"SELECT account, balance, seq FROM {DEST_SCHEMA}.log ORDER BY 1") == [
        (10, 80, 4),
        (11, 5, 3),
    ]


def test_destination_bookmark_wins_over_the_given_state(pg, conninfo):
    make_orders(pg, count=10)
    source, destination = connectors(conninfo)
    catalog = incremental(source, key="id")
    state = State.from_dict({"bookmarks": {"orders": {"replication_key_value": 8}}})
    first = run_sync(source, destination, catalog, state=state)
    assert first.stream("orders").rows == 3  # 8, 9, 10: a foreign bookmark is inclusive
    second = run_sync(source, destination, catalog, state=state)
    assert second.stream("orders").rows == 0
    other = run_sync(source, destination, catalog, state_id="another pipeline")
    assert other.stream("orders").rows == 10


def test_new_column_is_added_and_widened_types_widen(pg, conninfo):
    make_orders(pg, count=5)
    source, destination = connectors(conninfo)
    catalog = incremental(source, key="id")
    run_sync(source, destination, catalog)
    pg.execute(f"ALTER TABLE {SOURCE_SCHEMA}.orders ADD COLUMN note text")
    pg.execute(f"ALTER TABLE {SOURCE_SCHEMA}.orders ALTER COLUMN grp TYPE bigint")
    pg.execute(f"ALTER TABLE {SOURCE_SCHEMA}.orders ALTER COLUMN amount TYPE numeric(20, 4)")
    pg.execute(
        f"INSERT INTO {SOURCE_SCHEMA}.orders VALUES "
        "(6, 9000000000, 'big', 12345678.1234, '2030-01-01', NULL, 'hello')"
    )
    run_sync(source, destination, catalog)  # the catalog file still lacks `note`
    assert_same_rows(pg, f"{SOURCE_SCHEMA}.orders", f"{DEST_SCHEMA}.orders", [*COLUMNS, "note"])
    types = rows(
        pg,
        "SELECT column_name, data_type, numeric_precision, numeric_scale "
        f"FROM information_schema.columns WHERE table_schema = '{DEST_SCHEMA}' "
        "AND column_name IN ('grp', 'amount', 'note') ORDER BY 1",
    )
    assert types == [
        ("amount", "numeric", 20, 4),
        ("grp", "bigint", 64, 0),
        ("note", "text", None, None),
    ]


def test_new_column_is_left_out_when_mage_says_so(pg, conninfo):
    make_orders(pg, count=2)
    source, destination = connectors(conninfo)
    catalog = incremental(source, key="id", auto_add_new_fields=False)
    pg.execute(f"ALTER TABLE {SOURCE_SCHEMA}.orders ADD COLUMN note text")
    run_sync(source, destination, catalog)
    names = rows(
        pg,
        f"SELECT column_name FROM information_schema.columns WHERE table_schema = '{DEST_SCHEMA}' "
        "AND table_name = 'orders' AND column_name = 'note'",
    )
    assert names == []


def test_incompatible_change_fails_the_stream_and_keeps_the_table(pg, conninfo):
    make_orders(pg, count=5)
    pg.execute(f"CREATE TABLE {SOURCE_SCHEMA}.other (id integer PRIMARY KEY)")
    pg.execute(f"INSERT INTO {SOURCE_SCHEMA}.other VALUES (1), (2)")
    source, destination = connectors(conninfo)
    catalog = incremental(source, key="id")
    run_sync(source, destination, catalog)
    before = rows(pg, f"SELECT * FROM {DEST_SCHEMA}.orders ORDER BY id")
    pg.execute(f"ALTER TABLE {SOURCE_SCHEMA}.orders ALTER COLUMN grp TYPE text")
    pg.execute(f"ALTER TABLE {SOURCE_SCHEMA}.orders ADD COLUMN note text")
    pg.execute(f"INSERT INTO {SOURCE_SCHEMA}.orders (id, grp) VALUES (6, 'six')")
    both = catalog.replace_entry(
        replace(
            source.discover(streams=["other"]).get("other").with_selected(),
            replication_method=ReplicationMethod.FULL_TABLE,
        )
    )
    with pytest.raises(SyncFailedError) as caught:
        run_sync(source, destination, both)
    error = caught.value.result.stream("orders").error
    assert isinstance(error, SchemaChangeError)
    assert not caught.value.retriable
    assert "'grp' INTEGER -> TEXT" in str(error)
    assert f"{DEST_SCHEMA}.orders" in str(error).replace('"', "")
    assert caught.value.result.stream("other").rows == 2  # the other stream still synced
    assert rows(pg, f"SELECT * FROM {DEST_SCHEMA}.orders ORDER BY id") == before  # no `note` added


def test_catalog_errors_name_the_stream(pg, conninfo):
    make_orders(pg, count=1)
    source, destination = connectors(conninfo)
    entry = incremental(source, key="id").get("orders")
    log_based = replace(entry, replication_method=ReplicationMethod.LOG_BASED)
    with pytest.raises(CatalogError, match="stream 'orders': LOG_BASED"):
        sync_stream(source, destination, log_based)
    unselected = replace(entry, replication_key="at").with_field_selected("at", False)
    with pytest.raises(CatalogError, match="replication_key among the selected"):
        sync_stream(source, destination, unselected)
    pg.execute(f"DROP TABLE {SOURCE_SCHEMA}.orders")
    with pytest.raises(CatalogError, match="no stream 'orders' any more"):
        sync_stream(source, destination, entry)


def test_resyncing_a_table_weir_wrote_does_not_duplicate_its_stamp_columns(pg, conninfo):
    make_orders(pg, count=7)
    source, destination = connectors(conninfo)
    run_sync(source, destination, catalog_for(source))
    again = PostgresSource(conninfo, schema=DEST_SCHEMA)
    entry = again.discover(streams=["orders"]).get("orders")
    assert SYNCED_AT_COLUMN in entry.properties  # discovered, so it can be chosen ...
    assert entry.field_metadata(SYNCED_AT_COLUMN)["selected-by-default"] is False
    assert entry.with_selected().selected_fields == tuple(COLUMNS)  # ... but not by default
    result = run_sync(again, PostgresDestination(conninfo, schema="copy"), catalog_for(again))
    assert result.stream("orders").rows == 7
    names = rows(
        pg,
        "SELECT column_name FROM information_schema.columns "
        "WHERE table_schema = 'copy' AND table_name = 'orders' ORDER BY ordinal_position",
    )
    assert [n for (n,) in names] == [*COLUMNS, SYNCED_AT_COLUMN, TABLE_VERSION_COLUMN]
