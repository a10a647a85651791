from __future__ import annotations

from pathlib import Path

import pytest

from tests.unit.blocks_sql.requests import sql_request
from weir.blocks.base import UpstreamInput
from weir.blocks.sql.template import render_block_sql
from weir.errors import BlockExecutionError

UPSTREAM = (
    UpstreamInput("load_orders", None),
    UpstreamInput("load_users", None),
    UpstreamInput("load_unused", None),
)
NAMES = {"load_orders": '"t_orders"', "load_users": '"t_users"', "load_unused": '"t_unused"'}


def render(tmp_path: Path, sql: str, **kwargs: object) -> tuple[str, tuple[str, ...]]:
    request = sql_request(tmp_path, sql, upstream=UPSTREAM, **kwargs)  # type: ignore[arg-type]
    rendered = render_block_sql(sql, request, NAMES)
    return rendered.text, rendered.used_upstreams


def test_df_n_follow_upstream_order_and_only_used_ones_are_recorded(tmp_path: Path) -> None:
    text, used = render(tmp_path, "SELECT * FROM {{ df_2 }} JOIN {{df_1}} USING (id)")
    assert text == 'SELECT * FROM "t_users" JOIN "t_orders" USING (id)'
    assert used == ("load_users", "load_orders")


def test_block_output_by_uuid(tmp_path: Path) -> None:
    text, used = render(tmp_path, "SELECT * FROM {{ block_output('load_users') }}")
    assert text == 'SELECT * FROM "t_users"'
    assert used == ("load_users",)


def test_unknown_block_output_names_block_and_known_upstreams(tmp_path: Path) -> None:
    with pytest.raises(BlockExecutionError) as caught:
        render(tmp_path, "SELECT 1\nFROM {{ block_output('nope') }}")
    message = str(caught.value)
    assert message.startswith("block 'report':")
    assert "block_output('nope')" in message
    assert "load_orders, load_users, load_unused" in message
    assert "report.sql, line 2" in message


def test_variables_function_name_and_fallback(tmp_path: Path) -> None:
    text, _ = render(
        tmp_path,
        "{{ variables('country') }} {{ country }} {{ variables('absent', 'x') }}",
        variables={"country": "NL"},
    )
    assert text == "NL NL x"


def test_missing_variable_names_variable_block_and_line(tmp_path: Path) -> None:
    with pytest.raises(BlockExecutionError) as caught:
        render(tmp_path, "SELECT 1\nWHERE c = '{{ variables(\"country\") }}'", variables={"a": 1})
    message = str(caught.value)
    assert "block 'report'" in message
    assert "variables('country')" in message
    assert "(variables: a)" in message
    assert "line 2" in message


def test_undefined_name_is_an_error_not_an_empty_string(tmp_path: Path) -> None:
    with pytest.raises(BlockExecutionError, match="'regoin' is not defined"):
        render(tmp_path, "SELECT '{{ regoin }}'", variables={"region": "eu"})


def test_env_var_present_fallback_and_missing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WEIR_T_SCHEMA", "sales")
    monkeypatch.delenv("WEIR_T_NOPE", raising=False)
    text, _ = render(tmp_path, "{{ env_var('WEIR_T_SCHEMA') }}.{{ env_var('WEIR_T_NOPE', 't') }}")
    assert text == "sales.t"
    with pytest.raises(BlockExecutionError, match="'WEIR_T_NOPE' is not set"):
        render(tmp_path, "{{ env_var('WEIR_T_NOPE') }}")


def test_execution_date_and_ds(tmp_path: Path) -> None:
    text, _ = render(
        tmp_path, "{{ ds }} {{ execution_date.strftime('%H:%M') }} {{ execution_date }}"
    )
    assert text == "2024-03-09 06:30 2024-03-09 06:30:00+00:00"


def test_builtins_win_over_variables_of_the_same_name(tmp_path: Path) -> None:
    text, _ = render(tmp_path, "{{ df_1 }} {{ ds }}", variables={"df_1": "x", "ds": "y"})
    assert text == '"t_orders" 2024-03-09'


def test_syntax_error_gives_the_line(tmp_path: Path) -> None:
    with pytest.raises(BlockExecutionError, match=r"report.sql, line 3\): bad Jinja syntax"):
        render(tmp_path, "SELECT 1\n\n{% if %}")
