from __future__ import annotations

import pytest

from weir.blocks.sql.config import (
    OutputFormat,
    SqlBlockConfig,
    WritePolicy,
    default_table_name,
)
from weir.errors import BlockExecutionError


def test_defaults_follow_mage() -> None:
    config = SqlBlockConfig.from_configuration({"limit": 1000}, "b")
    assert config == SqlBlockConfig(
        provider="duckdb",
        profile=None,
        schema=None,
        table=None,
        write_policy=WritePolicy.APPEND,
        use_raw_sql=False,
        output_format=OutputFormat.PANDAS,
    )
    assert config.profile_name == "default"


def test_values_are_read() -> None:
    config = SqlBlockConfig.from_configuration(
        {
            "data_provider": "postgres",
            "data_provider_profile": "prod",
            "data_provider_schema": "marts",
            "data_provider_table": "daily",
            "export_write_policy": "Replace",
            "use_raw_sql": True,
            "output_format": "arrow",
        },
        "b",
    )
    assert (config.provider, config.profile, config.schema, config.table) == (
        "postgres",
        "prod",
        "marts",
        "daily",
    )
    assert config.write_policy is WritePolicy.REPLACE
    assert config.use_raw_sql
    assert config.output_format is OutputFormat.ARROW


@pytest.mark.parametrize(
    ("key", "value"),
    [("data_provider", "bigquery"), ("export_write_policy", "overwrite"), ("output_format", "csv")],
)
def test_bad_choice_names_key_and_value(key: str, value: str) -> None:
    with pytest.raises(BlockExecutionError, match=f"configuration {key}: '{value}' is not one of"):
        SqlBlockConfig.from_configuration({key: value}, "b")


def test_default_table_name_is_sql_safe() -> None:
    assert default_table_name("my-pipe", "sub/block.v2") == "my_pipe_sub_block_v2"
