"""PostgreSQL provider against a real server: uploads, write policies, replace atomicity, errors."""

from __future__ import annotations

import threading
import time
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pandas as pd
import psycopg
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.unit.blocks_sql.requests import sql_request
from weir.blocks.base import UpstreamInput
from weir.blocks.sql import PROVENANCE_KEY, SqlTableRef, execute_sql_block
from weir.errors import BlockExecutionError

pytestmark = pytest.mark.postgres

ORDERS = pd.DataFrame(
    {
        "id": [1, 2, 3],
        "amount": [5.0, None, 1.25],
        "status": pd.array(["new", None, "paid"], dtype="str"),
        "paid": [True, False, True],
        "at": pd.to_datetime(
            ["2024-01-01T10:00", "2024-01-02T11:00", "2024-01-03T12:00"], utc=True
        ),
        "day": [date(2024, 1, 1), date(2024, 1, 2), None],
        "price": [Decimal("1.10"), Decimal("2.25"), None],
        "meta": [{"k": 1}, None, {"k": 2}],
        "mixed": [{"k": 1}, [1, 2], "x"],
        "tier": pd.Categorical(["a", "b", "a"]),
    }
)


def project(root: Path, database: str) -> Path:
    (root / "io_config.yaml").write_text(
        "default:\n"
        f"  POSTGRES_DBNAME: {database}\n"
        "  POSTGRES_HOST: 127.0.0.1\n"
        "  POSTGRES_PORT: 5432\n"
        "  POSTGRES_USER: postgres\n"
        "  POSTGRES_PASSWORD: ''\n"
        "  POSTGRES_SCHEMA: public\n"
    )
    return root


def fetch(database: str, sql: str) -> list[tuple[object, ...]]:
    with psycopg.connect(f"postgresql://postgres@127.0.0.1:5432/{database}") as connection:
        return connection.execute(sql.encode()).fetchall()


def run(root: Path, sql: str, **kwargs: object) -> pd.DataFrame:
    configuration = {"data_provider": "postgres", **kwargs.pop("configuration", {})}  # type: ignore[dict-item]
    request = sql_request(root, sql, configuration=configuration, **kwargs)  # type: ignore[arg-type]
    (output,) = execute_sql_block(request).outputs
    assert isinstance(output, pd.DataFrame)
    return output


def test_upstream_frame_is_copied_with_mapped_types(tmp_path: Path, postgres_database: str) -> None:
    root = project(tmp_path, postgres_database)
    output = run(
        root, "SELECT * FROM {{ df_1 }} ORDER BY id", upstream=(UpstreamInput("orders", ORDERS),)
    )
    assert output["id"].tolist() == [1, 2, 3]
    assert output["amount"].isna().tolist() == [False, True, False]
    assert output["status"].tolist()[::2] == ["new", "paid"]
    assert output["paid"].tolist() == [True, False, True]
    assert output["at"].iloc[0] == pd.Timestamp("2024-01-01T10:00", tz="UTC")
    assert output["price"].tolist()[:2] == [Decimal("1.10"), Decimal("2.25")]
    assert output["meta"].tolist()[0] == '{"k": 1}'
    assert output["mixed"].tolist() == ['{"k": 1}', "[1, 2]", "x"]
    types = dict(
        fetch(
            postgres_database,
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = 'public' AND table_name = 'etl_orders'",
        )
    )
    assert types == {
        "id": "bigint",
        "amount": "double precision",
        "status": "text",
        "paid": "boolean",
        "at": "timestamp with time zone",
        "day": "date",
        "price": "numeric",
        "meta": "jsonb",
        "mixed": "text",
        "tier": "text",
    }
    # Mage's output table: <schema>.<pipeline_uuid>_<block_uuid>, append by default.
    assert fetch(postgres_database, "SELECT count(*) FROM public.etl_report") == [(3,)]


def test_csv_copy_path_keeps_every_value_exact(tmp_path: Path, postgres_database: str) -> None:
    # Only CSV-safe types: the fast path (Arrow's CSV writer) is taken.
    texts = ["", None, 'say "hi"', "a,b", "two\nlines", "\\N", "ünï"]
    floats = [0.1, None, float("nan"), float("inf"), float("-inf"), 1 / 3, -0.0]
    stamp = datetime(2024, 5, 1, 12, 30, 15, 123456, tzinfo=UTC)
    table = pa.table(
        {
            "i": pa.array(range(7), pa.int8()),
            "t": pa.array(texts),
            "f": pa.array(floats),
            "u": pa.array([2**64 - 1, None, 0, 1, 2, 3, 4], pa.uint64()),
            "ts": pa.array(
                [stamp, None, stamp, stamp, stamp, stamp, stamp],
                pa.timestamp("ns", tz="Europe/Paris"),
            ),
            "naive": pa.array([datetime(2024, 1, 1, 0, 0, 1)] * 7, pa.timestamp("us")),
            "d": pa.array([date(1999, 12, 31), None, None, None, None, None, None]),
            "dec": pa.array(
                [Decimal("-12.345"), None, None, None, None, None, None], pa.decimal128(9, 3)
            ),
            "b": pa.array([True, None, False, True, False, True, False]),
        }
    )
    root = project(tmp_path, postgres_database)
    output = run(
        root, "SELECT * FROM {{ df_1 }} ORDER BY i", upstream=(UpstreamInput("odd", table),)
    )
    assert output["t"].tolist()[0] == ""
    assert output["t"].isna().tolist()[1]
    assert output["t"].tolist()[2:] == texts[2:]
    got = output["f"].tolist()
    assert got[0] == 0.1
    assert got[5] == 1 / 3
    assert got[3] == float("inf")
    assert got[4] == float("-inf")
    assert pd.isna(got[1])
    assert pd.isna(got[2])
    assert output["u"].tolist()[0] == Decimal(2**64 - 1)
    assert output["ts"].iloc[0] == pd.Timestamp(stamp)
    assert output["naive"].iloc[0] == pd.Timestamp("2024-01-01 00:00:01")
    assert output["d"].tolist()[0] == date(1999, 12, 31)
    assert output["dec"].tolist()[0] == Decimal("-12.345")
    assert output["b"].tolist()[:3] == [True, None, False]


def test_persisted_outputs_are_uploaded_from_their_files(
    tmp_path: Path, postgres_database: str
) -> None:
    root = project(tmp_path, postgres_database)
    table = pa.table({"id": [1, 2, 3]})
    ipc = tmp_path / "orders.arrow"
    with pa.OSFile(str(ipc), "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table)
    parquet = tmp_path / "users.parquet"
    pq.write_table(table, parquet)
    upstream = (
        UpstreamInput("orders", None, paths=(ipc,)),
        UpstreamInput("users", None, paths=(parquet,)),
    )
    output = run(
        root, "SELECT count(*) AS n FROM {{ df_1 }} JOIN {{ df_2 }} USING (id)", upstream=upstream
    )
    assert output["n"].tolist() == [3]


def test_unreferenced_upstreams_are_not_uploaded(tmp_path: Path, postgres_database: str) -> None:
    root = project(tmp_path, postgres_database)
    upstream = (UpstreamInput("orders", ORDERS), UpstreamInput("unused", ORDERS))
    run(root, "SELECT count(*) AS n FROM {{ df_1 }}", upstream=upstream)
    assert fetch(postgres_database, "SELECT to_regclass('public.etl_unused')") == [(None,)]


def test_replace_keeps_one_copy_and_readers_never_miss_the_table(
    tmp_path: Path, postgres_database: str
) -> None:
    root = project(tmp_path, postgres_database)
    config = {"export_write_policy": "replace", "data_provider_table": "daily"}
    sql = "SELECT g AS n FROM generate_series(1, {{ variables('n') }}) AS g"
    run(root, sql, variables={"n": 1000}, configuration=config)
    seen: set[int] = set()
    errors: list[BaseException] = []
    stop = threading.Event()

    def read() -> None:
        with psycopg.connect(f"postgresql://postgres@127.0.0.1:5432/{postgres_database}") as conn:
            conn.autocommit = True
            while not stop.is_set():
                try:
                    seen.add(conn.execute("SELECT count(*) FROM public.daily").fetchone()[0])  # type: ignore[index]
                except psycopg.Error as error:
                    errors.append(error)
                    return

    reader = threading.Thread(target=read)
    reader.start()
    try:
        for size in (2000, 1000, 2000, 1000, 2000):
            output = run(root, sql, variables={"n": size}, configuration=config)
            assert len(output) == size
        time.sleep(0.05)
    finally:
        stop.set()
        reader.join()
    assert errors == []
    assert seen
    assert seen <= {1000, 2000}
    assert fetch(postgres_database, "SELECT count(*) FROM public.daily") == [(2000,)]
    leftovers = "SELECT count(*) FROM pg_tables WHERE tablename LIKE 'weir_tmp_%'"
    assert fetch(postgres_database, leftovers) == [(0,)]


def test_failed_replace_leaves_the_old_table(tmp_path: Path, postgres_database: str) -> None:
    root = project(tmp_path, postgres_database)
    config = {"export_write_policy": "replace"}
    run(root, "SELECT 1 AS a", configuration=config)
    with pytest.raises(BlockExecutionError, match="division by zero"):
        run(root, "SELECT 1 / 0 AS a", configuration=config)
    assert fetch(postgres_database, "SELECT a FROM public.etl_report") == [(1,)]


def test_append_creates_then_inserts_by_column_name(tmp_path: Path, postgres_database: str) -> None:
    root = project(tmp_path, postgres_database)
    config = {"data_provider_schema": "marts"}
    run(root, "SELECT 1 AS id, 'a' AS label", configuration=config)
    output = run(root, "SELECT 'b' AS label, 2 AS id", configuration=config)
    assert sorted(output["id"].tolist()) == [1, 2]
    assert fetch(postgres_database, "SELECT id, label FROM marts.etl_report ORDER BY id") == [
        (1, "a"),
        (2, "b"),
    ]


def test_fail_policy_names_the_existing_table(tmp_path: Path, postgres_database: str) -> None:
    root = project(tmp_path, postgres_database)
    config = {"export_write_policy": "fail"}
    run(root, "SELECT 1 AS a", configuration=config)
    with pytest.raises(BlockExecutionError) as caught:
        run(root, "SELECT 2 AS a", configuration=config)
    assert '"public"."etl_report" already exists' in str(caught.value)
    assert fetch(postgres_database, "SELECT a FROM public.etl_report") == [(1,)]


def test_sql_upstream_on_the_same_database_is_not_uploaded_again(
    tmp_path: Path, postgres_database: str
) -> None:
    root = project(tmp_path, postgres_database)
    staged = run(
        root,
        "SELECT id, amount FROM {{ df_1 }}",
        upstream=(UpstreamInput("orders", ORDERS),),
        configuration={"export_write_policy": "replace"},
        block_uuid="staged",
    )
    ref = SqlTableRef.from_json(staged.attrs[PROVENANCE_KEY])
    assert ref is not None
    assert ref.table == '"public"."etl_staged"'
    output = run(
        root,
        "SELECT count(*) AS n FROM {{ df_1 }}",
        upstream=(UpstreamInput("staged", staged, language="sql"),),
    )
    assert output["n"].tolist() == [3]
    tables = fetch(postgres_database, "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
    assert sorted(t[0] for t in tables) == ["etl_orders", "etl_report", "etl_staged"]


def test_sql_error_shows_provider_database_and_position(
    tmp_path: Path, postgres_database: str
) -> None:
    root = project(tmp_path, postgres_database)
    with pytest.raises(BlockExecutionError) as caught:
        run(
            root,
            "SELECT id,\n       nocol\nFROM {{ df_1 }}",
            upstream=(UpstreamInput("orders", ORDERS),),
        )
    message = str(caught.value)
    assert (
        f"postgres SQL failed on 127.0.0.1:5432/{postgres_database} at line 2, column 8" in message
    )
    assert "> 2 |        nocol" in message
    assert "  |        ^" in message
    assert isinstance(caught.value.__cause__, psycopg.errors.UndefinedColumn)


def test_raw_sql_runs_statements_and_returns_the_last_rows(
    tmp_path: Path, postgres_database: str
) -> None:
    root = project(tmp_path, postgres_database)
    sql = (
        "CREATE TABLE t AS SELECT id FROM {{ df_1 }};\n"
        "INSERT INTO t VALUES (9);\n"
        "SELECT count(*) AS n, max(id) AS top FROM t;"
    )
    output = run(
        root, sql, upstream=(UpstreamInput("orders", ORDERS),), configuration={"use_raw_sql": True}
    )
    assert output.to_dict("list") == {"n": [4], "top": [9]}
    request = sql_request(
        root, "DROP TABLE t", configuration={"data_provider": "postgres", "use_raw_sql": True}
    )
    assert execute_sql_block(request).outputs == ()
    assert fetch(postgres_database, "SELECT to_regclass('public.t')") == [(None,)]


def test_connection_failure_names_the_database(tmp_path: Path, postgres_database: str) -> None:
    root = project(tmp_path, postgres_database + "_absent")
    with pytest.raises(
        BlockExecutionError, match=r"postgres \(127.0.0.1:5432/.*_absent\): connecting failed"
    ):
        run(root, "SELECT 1 AS a")


def test_timestamps_round_trip(tmp_path: Path, postgres_database: str) -> None:
    root = project(tmp_path, postgres_database)
    output = run(
        root,
        "SELECT TIMESTAMPTZ '2024-05-01 12:00:00+02' AS at, DATE '2024-05-01' AS day, "
        "TIMESTAMP '2024-05-01 08:00' AS naive, 1.5::numeric(4,2) AS price",
    )
    row = output.iloc[0]
    assert row["at"] == pd.Timestamp(datetime(2024, 5, 1, 10, tzinfo=UTC))
    assert row["naive"] == pd.Timestamp("2024-05-01 08:00")
    assert row["price"] == Decimal("1.50")
