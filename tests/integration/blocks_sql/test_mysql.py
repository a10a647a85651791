"""MySQL/MariaDB provider against a real server: uploads, write policies, errors, raw SQL."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pymysql
import pytest

from tests.unit.blocks_sql.requests import sql_request
from weir.blocks.base import UpstreamInput
from weir.blocks.sql import PROVENANCE_KEY, SqlTableRef, execute_sql_block
from weir.errors import BlockExecutionError

pytestmark = pytest.mark.mysql

ORDERS = pa.table(
    {
        "id": pa.array([1, 2, 3], pa.int64()),
        "amount": pa.array([5.0, None, 1.25]),
        "status": pa.array(["new", None, "it's paid"]),
        "paid": pa.array([True, False, True]),
        "at": pa.array(
            [datetime(2024, 1, 1, 10, tzinfo=UTC), None, datetime(2024, 1, 3, 12, tzinfo=UTC)],
            pa.timestamp("us", tz="Europe/Paris"),
        ),
        "day": pa.array([date(2024, 1, 1), None, date(2024, 1, 3)]),
        "price": pa.array([Decimal("1.10"), Decimal("2.25"), None], pa.decimal128(6, 2)),
        "tags": pa.array([["a"], [], None]),
    }
)


def project(root: Path, database: str) -> Path:
    (root / "io_config.yaml").write_text(
        "default:\n"
        f"  MYSQL_DATABASE: {database}\n"
        "  MYSQL_HOST: 127.0.0.1\n"
        "  MYSQL_PORT: 3306\n"
        "  MYSQL_USER: root\n"
        "  MYSQL_PASSWORD: ''\n"
    )
    return root


def fetch(database: str, sql: str) -> list[tuple[object, ...]]:
    connection = pymysql.connect(host="127.0.0.1", port=3306, user="root", database=database)
    try:
        with connection.cursor() as cursor:
            cursor.execute(sql)
            return list(cursor.fetchall())
    finally:
        connection.close()


def run(root: Path, sql: str, **kwargs: object) -> pd.DataFrame:
    configuration = {"data_provider": "mysql", **kwargs.pop("configuration", {})}  # type: ignore[dict-item]
    request = sql_request(root, sql, configuration=configuration, **kwargs)  # type: ignore[arg-type]
    (output,) = execute_sql_block(request).outputs
    assert isinstance(output, pd.DataFrame)
    return output


def test_upstream_table_is_uploaded_with_mapped_types(tmp_path: Path, mysql_database: str) -> None:
    root = project(tmp_path, mysql_database)
    output = run(
        root, "SELECT * FROM {{ df_1 }} ORDER BY id", upstream=(UpstreamInput("orders", ORDERS),)
    )
    assert output["id"].tolist() == [1, 2, 3]
    assert output["status"].tolist()[2] == "it's paid"
    # A zoned timestamp is stored as UTC wall time.
    assert output["at"].iloc[0] == pd.Timestamp("2024-01-01 10:00")
    assert output["price"].tolist()[:2] == [Decimal("1.10"), Decimal("2.25")]
    assert output["tags"].tolist()[:2] == ['["a"]', "[]"]
    types = dict(
        fetch(
            mysql_database,
            "SELECT column_name, column_type FROM information_schema.columns "
            f"WHERE table_schema = '{mysql_database}' AND table_name = 'etl_orders'",
        )
    )
    assert types["id"] == "bigint(20)"
    assert types["amount"] == "double"
    assert types["status"] == "longtext"
    assert types["paid"] == "tinyint(1)"
    assert types["at"] == "datetime(6)"
    assert types["day"] == "date"
    assert types["price"] == "decimal(6,2)"
    assert fetch(mysql_database, "SELECT COUNT(*) FROM etl_report") == [(3,)]


def test_many_rows_are_uploaded_in_batches(tmp_path: Path, mysql_database: str) -> None:
    root = project(tmp_path, mysql_database)
    frame = pd.DataFrame({"n": range(12_345)})
    output = run(
        root,
        "SELECT COUNT(*) AS c, SUM(n) AS s FROM {{ df_1 }}",
        upstream=(UpstreamInput("big", frame),),
    )
    assert output["c"].tolist() == [12_345]
    assert int(output["s"].iloc[0]) == sum(range(12_345))


def test_replace_swaps_atomically_and_cleans_up(tmp_path: Path, mysql_database: str) -> None:
    root = project(tmp_path, mysql_database)
    config = {"export_write_policy": "replace"}
    sql = "SELECT seq AS n FROM seq_1_to_{{ variables('n') }}"
    run(root, sql, variables={"n": 100}, configuration=config)
    errors: list[BaseException] = []
    seen: set[int] = set()
    stop = threading.Event()

    def read() -> None:
        connection = pymysql.connect(
            host="127.0.0.1", user="root", database=mysql_database, autocommit=True
        )
        try:
            with connection.cursor() as cursor:
                while not stop.is_set():
                    cursor.execute("SELECT COUNT(*) FROM etl_report")
                    seen.add(cursor.fetchone()[0])  # type: ignore[index]
        except pymysql.MySQLError as error:
            errors.append(error)
        finally:
            connection.close()

    reader = threading.Thread(target=read)
    reader.start()
    try:
        for size in (200, 100, 200, 100, 200):
            assert len(run(root, sql, variables={"n": size}, configuration=config)) == size
    finally:
        stop.set()
        reader.join()
    assert errors == []
    assert seen
    assert seen <= {100, 200}
    tables = fetch(
        mysql_database,
        f"SELECT table_name FROM information_schema.tables WHERE table_schema = '{mysql_database}'",
    )
    assert sorted(t[0] for t in tables) == ["etl_report"]


def test_append_inserts_by_name_and_fail_refuses(tmp_path: Path, mysql_database: str) -> None:
    root = project(tmp_path, mysql_database)
    run(root, "SELECT 1 AS id, 'a' AS label")
    output = run(root, "SELECT 'b' AS label, 2 AS id")
    assert sorted(output["id"].tolist()) == [1, 2]
    with pytest.raises(BlockExecutionError) as caught:
        run(root, "SELECT 3 AS id, 'c' AS label", configuration={"export_write_policy": "fail"})
    assert f"`{mysql_database}`.`etl_report` already exists" in str(caught.value)
    assert fetch(mysql_database, "SELECT COUNT(*) FROM etl_report") == [(2,)]


def test_sql_upstream_table_is_reused(tmp_path: Path, mysql_database: str) -> None:
    root = project(tmp_path, mysql_database)
    staged = run(
        root,
        "SELECT id, amount FROM {{ df_1 }}",
        upstream=(UpstreamInput("orders", ORDERS),),
        block_uuid="staged",
    )
    ref = SqlTableRef.from_json(staged.attrs[PROVENANCE_KEY])
    assert ref is not None
    assert ref.table == f"`{mysql_database}`.`etl_staged`"
    output = run(
        root,
        "SELECT COUNT(*) AS n FROM {{ df_1 }}",
        upstream=(UpstreamInput("staged", staged, language="sql"),),
    )
    assert output["n"].tolist() == [3]
    tables = fetch(
        mysql_database,
        f"SELECT table_name FROM information_schema.tables WHERE table_schema = '{mysql_database}'",
    )
    assert sorted(t[0] for t in tables) == ["etl_orders", "etl_report", "etl_staged"]


def test_sql_error_names_database_and_line(tmp_path: Path, mysql_database: str) -> None:
    root = project(tmp_path, mysql_database)
    with pytest.raises(BlockExecutionError) as caught:
        run(root, "SELECT 1 AS a\nFROM\nWHERE")
    message = str(caught.value)
    assert f"mysql SQL failed on 127.0.0.1:3306/{mysql_database} at line 3" in message
    assert "> 3 | WHERE" in message
    assert isinstance(caught.value.__cause__, pymysql.MySQLError)


def test_raw_sql_multi_statement(tmp_path: Path, mysql_database: str) -> None:
    root = project(tmp_path, mysql_database)
    sql = (
        "CREATE TABLE t (a INT);\n"
        "INSERT INTO t SELECT id FROM {{ df_1 }};\n"
        "SELECT COUNT(*) AS n FROM t;"
    )
    output = run(
        root, sql, upstream=(UpstreamInput("orders", ORDERS),), configuration={"use_raw_sql": True}
    )
    assert output["n"].tolist() == [3]
    with pytest.raises(BlockExecutionError, match="mysql SQL failed"):
        run(root, "SELECT 1;\nSELECT nocol FROM t;", configuration={"use_raw_sql": True})
