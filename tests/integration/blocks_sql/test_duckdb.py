"""DuckDB provider end to end: in-memory values, Parquet files, a database file per write policy."""

from __future__ import annotations

import logging
from pathlib import Path

import duckdb
import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.unit.blocks_sql.requests import sql_request
from weir.blocks.base import UpstreamInput
from weir.blocks.sql import PROVENANCE_KEY, SqlTableRef, execute_sql_block
from weir.errors import BlockExecutionError, BlockLoadError

ORDERS = pd.DataFrame({"id": [1, 2, 3], "user_id": [10, 20, 10], "amount": [5.0, 7.5, 1.25]})
USERS = pl.DataFrame({"user_id": [10, 20], "name": ["ann", "bob"]})
JOIN = (
    "SELECT u.name, sum(o.amount) AS total\n"
    "FROM {{ df_1 }} AS o JOIN {{ df_2 }} AS u USING (user_id)\n"
    "GROUP BY u.name ORDER BY u.name"
)


def io_config(root: Path, database: str = "warehouse.duckdb") -> None:
    (root / "io_config.yaml").write_text(
        f"version: 0.1.1\ndefault:\n  DUCKDB_DATABASE: {database}\n  DUCKDB_SCHEMA: main\n"
    )


def rows(root: Path, sql: str, database: str = "warehouse.duckdb") -> list[tuple[object, ...]]:
    with duckdb.connect(str(root / database)) as connection:
        return connection.execute(sql).fetchall()


def test_in_memory_values_are_queried_in_place(tmp_path: Path) -> None:
    request = sql_request(
        tmp_path,
        JOIN,
        upstream=(UpstreamInput("orders", ORDERS), UpstreamInput("users", (USERS, "other"))),
    )
    (output,) = execute_sql_block(request).outputs
    assert isinstance(output, pd.DataFrame)
    assert output.to_dict("list") == {"name": ["ann", "bob"], "total": [6.25, 7.5]}
    assert PROVENANCE_KEY not in output.attrs
    assert not (tmp_path / "warehouse.duckdb").exists()


def test_arrow_and_list_values_and_output_formats(tmp_path: Path) -> None:
    upstream = (
        UpstreamInput("orders", pa.Table.from_pandas(ORDERS)),
        UpstreamInput("users", [{"user_id": 10, "name": "ann"}, {"user_id": 20, "name": "bob"}]),
    )
    arrow = execute_sql_block(
        sql_request(tmp_path, JOIN, upstream=upstream, configuration={"output_format": "arrow"})
    ).outputs[0]
    assert isinstance(arrow, pa.Table)
    assert arrow.column("total").to_pylist() == [6.25, 7.5]
    frame = execute_sql_block(
        sql_request(tmp_path, JOIN, upstream=upstream, configuration={"output_format": "polars"})
    ).outputs[0]
    assert isinstance(frame, pl.DataFrame)
    assert frame["name"].to_list() == ["ann", "bob"]


def test_parquet_paths_are_read_in_place_when_the_value_is_not_in_memory(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    orders_file = tmp_path / "orders.parquet"
    pq.write_table(pa.Table.from_pandas(ORDERS, preserve_index=False), orders_file)
    users_dir = tmp_path / "users_output"
    users_dir.mkdir()
    pq.write_table(USERS.to_arrow(), users_dir / "part-0.parquet")
    request = sql_request(
        tmp_path,
        JOIN,
        upstream=(
            UpstreamInput("orders", None, paths=(orders_file,)),
            UpstreamInput("users", None, paths=(users_dir,)),
        ),
    )
    with caplog.at_level(logging.DEBUG, logger="weir.test.report"):
        (output,) = execute_sql_block(request).outputs
    assert output["total"].tolist() == [6.25, 7.5]
    assert f"read_parquet('{orders_file}')" in caplog.text


def test_arrow_ipc_output_folders_are_memory_mapped(tmp_path: Path) -> None:
    folder = tmp_path / "output_0"
    folder.mkdir()
    table = pa.Table.from_pandas(ORDERS, preserve_index=False)
    with (
        pa.OSFile(str(folder / "data.arrow"), "wb") as sink,
        pa.ipc.new_file(sink, table.schema) as w,
    ):
        w.write_table(table)
    request = sql_request(
        tmp_path,
        "SELECT sum(amount) AS total FROM {{ df_1 }}",
        upstream=(UpstreamInput("orders", None, paths=(folder,)),),
    )
    assert execute_sql_block(request).outputs[0]["total"].tolist() == [13.75]


def test_a_path_that_holds_no_table_is_an_error(tmp_path: Path) -> None:
    odd = tmp_path / "output_0.json"
    odd.write_text("{}")
    request = sql_request(
        tmp_path, "SELECT * FROM {{ df_1 }}", upstream=(UpstreamInput("cfg", None, paths=(odd,)),)
    )
    with pytest.raises(BlockExecutionError, match="holds no table SQL can read"):
        execute_sql_block(request)


def test_unused_upstream_without_data_is_fine_but_a_used_one_is_an_error(tmp_path: Path) -> None:
    upstream = (UpstreamInput("orders", ORDERS), UpstreamInput("sensor", None))
    (output,) = execute_sql_block(
        sql_request(tmp_path, "SELECT count(*) AS n FROM {{ df_1 }}", upstream=upstream)
    ).outputs
    assert output["n"].tolist() == [3]
    with pytest.raises(BlockExecutionError, match="upstream block 'sensor' has no output"):
        execute_sql_block(sql_request(tmp_path, "SELECT * FROM {{ df_2 }}", upstream=upstream))


def test_replace_writes_the_file_table_once(tmp_path: Path) -> None:
    io_config(tmp_path)
    configuration = {"data_provider_profile": "default", "export_write_policy": "replace"}
    request = sql_request(
        tmp_path,
        "SELECT * FROM {{ df_1 }} WHERE amount > 2",
        upstream=(UpstreamInput("orders", ORDERS),),
        configuration=configuration,
    )
    execute_sql_block(request)
    (output,) = execute_sql_block(request).outputs
    assert output["id"].tolist() == [1, 2]
    assert rows(tmp_path, "SELECT id FROM main.etl_report ORDER BY id") == [(1,), (2,)]
    ref = SqlTableRef.from_json(output.attrs[PROVENANCE_KEY])
    assert ref is not None
    assert (ref.block_uuid, ref.table) == ("report", '"main"."etl_report"')


def test_append_is_the_default_and_outputs_the_whole_table(tmp_path: Path) -> None:
    io_config(tmp_path)
    sql = "SELECT id, amount FROM {{ df_1 }} WHERE id = {{ variables('id') }}"
    configuration = {"data_provider_table": "facts", "data_provider_schema": "marts"}
    upstream = (UpstreamInput("orders", ORDERS),)
    execute_sql_block(
        sql_request(
            tmp_path, sql, upstream=upstream, variables={"id": 1}, configuration=configuration
        )
    )
    # Columns in another order are inserted by name.
    reordered = "SELECT amount, id FROM {{ df_1 }} WHERE id = {{ variables('id') }}"
    (output,) = execute_sql_block(
        sql_request(
            tmp_path, reordered, upstream=upstream, variables={"id": 3}, configuration=configuration
        )
    ).outputs
    assert sorted(output["id"].tolist()) == [1, 3]
    assert rows(tmp_path, "SELECT id, amount FROM marts.facts ORDER BY id") == [(1, 5.0), (3, 1.25)]


def test_fail_policy_refuses_an_existing_table_and_keeps_it(tmp_path: Path) -> None:
    io_config(tmp_path)
    configuration = {"data_provider_profile": "default", "export_write_policy": "fail"}
    first = sql_request(tmp_path, "SELECT 1 AS a", configuration=configuration)
    execute_sql_block(first)
    second = sql_request(tmp_path, "SELECT 2 AS a", configuration=configuration)
    with pytest.raises(BlockExecutionError) as caught:
        execute_sql_block(second)
    message = str(caught.value)
    assert '"main"."etl_report" already exists' in message
    assert "export_write_policy is 'fail'" in message
    assert rows(tmp_path, "SELECT a FROM etl_report") == [(1,)]


def test_failed_replace_keeps_the_old_table(tmp_path: Path) -> None:
    io_config(tmp_path)
    configuration = {"data_provider_profile": "default", "export_write_policy": "replace"}
    execute_sql_block(sql_request(tmp_path, "SELECT 1 AS a", configuration=configuration))
    with pytest.raises(BlockExecutionError):
        execute_sql_block(
            sql_request(tmp_path, "SELECT 1 / 0 AS a, error('boom')", configuration=configuration)
        )
    assert rows(tmp_path, "SELECT a FROM etl_report") == [(1,)]


def test_sql_upstream_in_the_same_file_is_read_from_its_table(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    io_config(tmp_path)
    configuration = {"data_provider_profile": "default", "export_write_policy": "replace"}
    first = sql_request(
        tmp_path,
        "SELECT * FROM {{ df_1 }}",
        upstream=(UpstreamInput("orders", ORDERS),),
        configuration=configuration,
        block_uuid="staged",
    )
    (staged,) = execute_sql_block(first).outputs
    second = sql_request(
        tmp_path,
        "SELECT sum(amount) AS total FROM {{ df_1 }}",
        upstream=(UpstreamInput("staged", staged, language="sql"),),
        configuration=configuration,
    )
    with caplog.at_level(logging.DEBUG, logger="weir.test.report"):
        (output,) = execute_sql_block(second).outputs
    assert output["total"].tolist() == [13.75]
    assert 'FROM "main"."etl_staged"' in caplog.text


def test_raw_sql_runs_every_statement_and_outputs_the_last_rows(tmp_path: Path) -> None:
    sql = (
        "CREATE TABLE t AS SELECT * FROM {{ df_1 }};\n"
        "INSERT INTO t VALUES (4, 30, 2.0);\n"
        "SELECT count(*) AS n, 'a;b' AS s FROM t;"
    )
    request = sql_request(
        tmp_path,
        sql,
        upstream=(UpstreamInput("orders", ORDERS),),
        configuration={"use_raw_sql": True},
    )
    (output,) = execute_sql_block(request).outputs
    assert output.to_dict("list") == {"n": [4], "s": ["a;b"]}
    no_rows = sql_request(tmp_path, "CREATE TABLE x (a INT);", configuration={"use_raw_sql": True})
    assert execute_sql_block(no_rows).outputs == ()


def test_sql_error_names_provider_database_and_line(tmp_path: Path) -> None:
    io_config(tmp_path)
    request = sql_request(
        tmp_path,
        "SELECT id,\n       nocol\nFROM {{ df_1 }}",
        upstream=(UpstreamInput("orders", ORDERS),),
        configuration={"data_provider_profile": "default"},
    )
    with pytest.raises(BlockExecutionError) as caught:
        execute_sql_block(request)
    message = str(caught.value)
    assert message.startswith("block 'report': duckdb SQL failed on ")
    assert str((tmp_path / "warehouse.duckdb").resolve()) in message
    assert "at line 2" in message
    assert ">" in message
    assert "2 |        nocol" in message
    assert isinstance(caught.value.__cause__, duckdb.Error)


def test_several_statements_or_ddl_need_raw_sql(tmp_path: Path) -> None:
    with pytest.raises(BlockExecutionError, match="use_raw_sql"):
        execute_sql_block(sql_request(tmp_path, "SELECT 1; SELECT 2"))
    with pytest.raises(BlockExecutionError, match="must be a SELECT"):
        execute_sql_block(sql_request(tmp_path, "CREATE TABLE t (a INT)"))


def test_missing_profile_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(BlockExecutionError, match=r"no io_config\.yaml"):
        execute_sql_block(
            sql_request(tmp_path, "SELECT 1", configuration={"data_provider_table": "t"})
        )
    request = sql_request(tmp_path, "SELECT 1")
    request.file_path.unlink()
    with pytest.raises(BlockLoadError, match="does not exist"):
        execute_sql_block(request)


def test_integer_sums_are_int64_not_decimals(tmp_path: Path) -> None:
    sql = (
        "SELECT sum(id) AS total, sum(id)::HUGEINT * 100000000000000000000 AS huge FROM {{ df_1 }}"
    )
    request = sql_request(tmp_path, sql, upstream=(UpstreamInput("orders", ORDERS),))
    (output,) = execute_sql_block(request).outputs
    assert str(output["total"].dtype) == "int64"
    assert output["total"].tolist() == [6]
    assert output["huge"].dtype == object  # too large for int64: kept exact
