"""A SQL block's settings, read from its `configuration` in the pipeline's metadata.yaml.

Keys (Mage's, plus `output_format`):

| key | meaning | default |
|---|---|---|
| `data_provider` | `duckdb`, `postgres` or `mysql` | `duckdb` (Weir's; Mage has none) |
| `data_provider_profile` | `io_config.yaml` profile | `default` |
| `data_provider_schema` | schema of the result table and of upstream uploads | the profile's |
| `data_provider_table` | name of the result table | `<pipeline_uuid>_<block_uuid>` |
| `export_write_policy` | `append`, `replace` or `fail` if the table exists | `append` (Mage) |
| `use_raw_sql` | run the SQL as written; output the last statement's rows | false |
| `output_format` | `pandas`, `arrow` or `polars` | `pandas` (as Mage) |
| `limit` | ignored: Mage uses it only to cap notebook previews | |

Mage reads `export_write_policy` with `configuration.get('export_write_policy',
ExportWritePolicy.APPEND)` (mage_ai/data_preparation/models/block/sql/__init__.py), so a block run
twice appends its rows twice; Weir keeps that default.

Mage also caps a SQL block's output at its preview row limit even in pipeline runs
(`limit_in_pipeline_run`, at most 10,000 rows). That loses data, so Weir outputs every row.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from weir.errors import BlockExecutionError

__all__ = ["OutputFormat", "SqlBlockConfig", "WritePolicy", "default_table_name", "safe_name"]


class WritePolicy(enum.StrEnum):
    """What to do when the result table already exists."""

    APPEND = "append"
    REPLACE = "replace"
    FAIL = "fail"


class OutputFormat(enum.StrEnum):
    """The type of the block's output value."""

    PANDAS = "pandas"
    ARROW = "arrow"
    POLARS = "polars"


PROVIDERS = ("duckdb", "postgres", "mysql")


@dataclass(frozen=True, slots=True)
class SqlBlockConfig:
    """The parsed `configuration` of one SQL block.

    Attributes:
        provider: `duckdb`, `postgres` or `mysql`.
        profile: the `data_provider_profile` as given, or None when absent (then `default` is used
            where a profile is needed; an embedded DuckDB block needs none).
        schema: `data_provider_schema`, or None for the profile's default.
        table: `data_provider_table`, or None for `<pipeline_uuid>_<block_uuid>`.
        write_policy: `export_write_policy`.
        use_raw_sql: run the rendered SQL as is.
        output_format: type of the output value.
    """

    provider: str = "duckdb"
    profile: str | None = None
    schema: str | None = None
    table: str | None = None
    write_policy: WritePolicy = WritePolicy.APPEND
    use_raw_sql: bool = False
    output_format: OutputFormat = OutputFormat.PANDAS

    @property
    def profile_name(self) -> str:
        """The io_config profile to read: the configured one or `default`."""
        return self.profile or "default"

    @classmethod
    def from_configuration(
        cls, configuration: Mapping[str, Any], block_uuid: str
    ) -> SqlBlockConfig:
        """Read and check a block's configuration mapping.

        Args:
            configuration: the block's `configuration` from the pipeline's metadata.yaml.
            block_uuid: the block's uuid, for error messages.

        Returns:
            The parsed configuration.

        Raises:
            BlockExecutionError: a value is not one of the allowed ones (names key and value).
        """
        provider = _choice(configuration, "data_provider", PROVIDERS, "duckdb", block_uuid)
        policy = _choice(
            configuration, "export_write_policy", tuple(WritePolicy), "append", block_uuid
        )
        output = _choice(configuration, "output_format", tuple(OutputFormat), "pandas", block_uuid)
        return cls(
            provider=provider,
            profile=_optional_text(configuration, "data_provider_profile", block_uuid),
            schema=_optional_text(configuration, "data_provider_schema", block_uuid),
            table=_optional_text(configuration, "data_provider_table", block_uuid),
            write_policy=WritePolicy(policy),
            use_raw_sql=bool(configuration.get("use_raw_sql") or False),
            output_format=OutputFormat(output),
        )


def default_table_name(pipeline_uuid: str, block_uuid: str) -> str:
    """Mage's table name for a block's result: `<pipeline_uuid>_<block_uuid>`, made SQL-safe.

    Args:
        pipeline_uuid: the pipeline's uuid.
        block_uuid: the block's uuid (may hold `/` for blocks in sub-folders).

    Returns:
        The name, with every character outside `[A-Za-z0-9_]` replaced by `_`.
    """
    return safe_name(f"{pipeline_uuid}_{block_uuid}")


def safe_name(text: str) -> str:
    """Replace every character outside `[A-Za-z0-9_]` by `_` (as Mage's `clean_name`)."""
    return re.sub(r"[^A-Za-z0-9_]", "_", text)


def _choice(
    configuration: Mapping[str, Any],
    key: str,
    allowed: tuple[str, ...],
    default: str,
    block_uuid: str,
) -> str:
    value = configuration.get(key)
    if value is None or value == "":
        return default
    text = str(value).strip().lower()
    if text not in allowed:
        raise BlockExecutionError(
            block_uuid,
            f"configuration {key}: {value!r} is not one of {', '.join(allowed)} "
            "(see the block's entry in the pipeline's metadata.yaml)",
        )
    return text


def _optional_text(configuration: Mapping[str, Any], key: str, block_uuid: str) -> str | None:
    value = configuration.get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, (dict, list)):
        raise BlockExecutionError(
            block_uuid, f"configuration {key} must be a single name, not {value!r}"
        )
    return str(value).strip()
