"""Connector names in an integration pipeline's YAML blocks -> connector instances.

A data loader block says `source: postgresql` and a data exporter `destination: postgresql`,
each with a `config:` mapping (Jinja already rendered). This module turns the name and mapping
into a `Source` or `Destination`. Each factory imports its connector module on first use, so a
connector whose driver or module is missing fails only the pipelines that use it.

Names and keys. Mage's names (`postgresql`, `mysql`) take Mage's keys, from Mage's
`mage_integrations/{sources,destinations}/<name>/templates/config.json` and its docs; the other
names are Weir's own.

| name         | kind   | config keys (default)                            | class, in weir.integration. |
|--------------|--------|--------------------------------------------------|-----------------------------|
| `postgresql` | source | host, port (5432), database, username, password, | sources.postgres.           |
|              |        | schema (public)                                  | PostgresSource              |
| `postgresql` | dest.  | the same                                         | destinations.postgres.      |
|              |        |                                                  | PostgresDestination         |
| `mysql`      | source | host, port (3306), database, username, password  | sources.mysql.MySQLSource   |
| `mysql`      | dest.  | the same                                         | destinations.mysql.         |
|              |        |                                                  | MySQLDestination            |
| `sqlite`     | source | database (alias path): the file                  | sources.sqlite.SQLiteSource |
| `duckdb`     | source | database (alias path), schema (main)             | sources.duckdb.DuckDBSource |
| `duckdb`     | dest.  | database (alias path), schema (main)             | destinations.duckdb.        |
|              |        |                                                  | DuckDBDestination           |
| `file`       | source | streams: {stream: path or glob}, file_format     | sources.files.FileSource    |
|              |        | (csv, jsonl or parquet; default: from suffixes)  |                             |
| `parquet`    | dest.  | root (alias path), partition_by (none):          | destinations.parquet.       |
|              |        | {stream: column or [columns]}                    | ParquetDestination          |
| `singer`     | source | command (text or list), config (the tap's own)   | sources.singer_tap.         |
|              |        |                                                  | SingerTapSource             |
| `singer`     | dest.  | command (text or list), config (the target's own)| destinations.singer_target. |
|              |        |                                                  | SingerTargetDestination     |

For `postgresql` and `mysql`, host, database and username are required (as in Mage) and the
password may be empty; `postgresql` also takes Weir's `sslmode` (libpq's values).

Relative file paths are relative to the project folder. Mage keys Weir accepts and ignores:
`connection_method: direct` (an `ssh_tunnel` is refused: open the tunnel yourself and point
`host`/`port` at it), empty `ssh_*` keys, `replication_slot` (log-based replication is not
supported yet) and, for destinations, `table` and `truncate_full_table` (Weir names each table
after its stream and replaces FULL_TABLE streams atomically). `lower_case` is not applied:
Weir keeps column names as the source spells them (a note says so when it is true). Any other
key is reported back by `ConnectorConfig.unused` so the run can log it. `batch_fetch_limit` is
read by `weir.integration.pipeline_config`, not here.

Plug-ins add names with `register_source` / `register_destination`.
"""

from __future__ import annotations

import importlib
import shlex
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from weir.integration.base import Destination, Source
from weir.integration.errors import ConnectorConfigError

__all__ = [
    "ConnectorConfig",
    "ConnectorContext",
    "DestinationFactory",
    "SourceFactory",
    "create_destination",
    "create_source",
    "destination_names",
    "register_destination",
    "register_source",
    "source_names",
]

_IGNORED_MAGE_KEYS = frozenset(
    {"connection_method", "replication_slot", "table", "truncate_full_table", "lower_case"}
)
_SSH_KEYS = ("ssh_host", "ssh_port", "ssh_username", "ssh_password", "ssh_pkey")


@dataclass(frozen=True, slots=True)
class ConnectorContext:
    """What a factory may need besides the config.

    Attributes:
        project_root: the project folder; relative paths in a config are relative to it.
        work_dir: a folder of this pipeline's own for connector files (Singer configs, state).
    """

    project_root: Path
    work_dir: Path

    def path(self, value: str) -> Path:
        """A config path: `~` expanded, relative paths taken from the project folder."""
        path = Path(value).expanduser()
        return path if path.is_absolute() else self.project_root / path


class ConnectorConfig:
    """A connector's rendered `config:` mapping, read key by key with typed getters.

    Every key read is remembered, so `unused` can name the keys nobody read (typos, or Mage
    keys Weir does not support). Errors name the connector and the key.

    Args:
        values: the mapping.
        where: names the connector in messages, e.g. `source 'postgresql'`.
    """

    def __init__(self, values: Mapping[str, Any], *, where: str) -> None:
        self._values = dict(values)
        self._read: set[str] = set(_IGNORED_MAGE_KEYS)
        self.where = where
        self.notes: list[str] = []

    def _raw(self, key: str, aliases: tuple[str, ...] = ()) -> Any:
        for name in (key, *aliases):
            self._read.add(name)
        for name in (key, *aliases):
            value = self._values.get(name)
            if value is not None and value != "":
                return value
        return None

    def text(self, key: str, default: str | None = None, *, aliases: tuple[str, ...] = ()) -> str:
        """A required text value (numbers are turned into text).

        Raises:
            ConnectorConfigError: the key is missing and has no default, or holds a mapping or
                a list.
        """
        value = self._raw(key, aliases)
        if value is None:
            if default is not None:
                return default
            raise ConnectorConfigError(f"{self.where}: config key '{key}' is missing; set it")
        if isinstance(value, Mapping | list | bool):
            raise ConnectorConfigError(
                f"{self.where}: config key '{key}' must be text, got {value!r}"
            )
        return str(value)

    def boolean(self, key: str, default: bool) -> bool:
        """A yes/no value (`true`/`false` text accepted), or `default` when absent.

        Raises:
            ConnectorConfigError: the value is neither.
        """
        value = self._raw(key)
        if value is None:
            return default
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in ("true", "yes", "1", "false", "no", "0"):
            return text in ("true", "yes", "1")
        raise ConnectorConfigError(
            f"{self.where}: config key '{key}' must be true or false, got {value!r}"
        )

    def optional_text(self, key: str, *, aliases: tuple[str, ...] = ()) -> str | None:
        """A text value, or None when the key is absent or empty."""
        if self._raw(key, aliases) is None:
            return None
        return self.text(key, aliases=aliases)

    def integer(self, key: str, default: int) -> int:
        """An integer value (numeric text accepted), or `default` when absent.

        Raises:
            ConnectorConfigError: the value is not a whole number.
        """
        value = self._raw(key)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise ConnectorConfigError(
                f"{self.where}: config key '{key}' must be a whole number, got {value!r}"
            )
        try:
            return int(value)
        except ValueError:
            raise ConnectorConfigError(
                f"{self.where}: config key '{key}' must be a whole number, got {value!r}"
            ) from None

    def mapping(self, key: str) -> dict[str, Any]:
        """A required mapping value.

        Raises:
            ConnectorConfigError: the key is missing or not a mapping.
        """
        value = self._raw(key)
        if not isinstance(value, Mapping) or not value:
            raise ConnectorConfigError(
                f"{self.where}: config key '{key}' must be a non-empty mapping, got {value!r}"
            )
        return {str(k): v for k, v in value.items()}

    def optional_mapping(self, key: str) -> dict[str, Any] | None:
        """A mapping value, or None when the key is absent or empty.

        Raises:
            ConnectorConfigError: the value is not a mapping.
        """
        value = self._raw(key)
        if value is None:
            return None
        if not isinstance(value, Mapping):
            raise ConnectorConfigError(
                f"{self.where}: config key '{key}' must be a mapping, got {value!r}"
            )
        return {str(k): v for k, v in value.items()}

    def command(self, key: str) -> list[str]:
        """A command line: a list of arguments, or one text split like a shell would.

        Raises:
            ConnectorConfigError: the key is missing or empty.
        """
        value = self._raw(key)
        if isinstance(value, list) and value:
            return [str(part) for part in value]
        if isinstance(value, str) and value.strip():
            return shlex.split(value)
        raise ConnectorConfigError(
            f"{self.where}: config key '{key}' must be a command (text or list), got {value!r}"
        )

    def refuse_ssh_tunnel(self) -> None:
        """Refuse Mage's `connection_method: ssh_tunnel`; accept `direct` and empty ssh keys.

        Raises:
            ConnectorConfigError: an SSH tunnel is asked for.
        """
        method = self._raw("connection_method")
        for key in _SSH_KEYS:
            self._raw(key)
        if method not in (None, "direct"):
            raise ConnectorConfigError(
                f"{self.where}: connection_method '{method}' is not supported; open the SSH "
                "tunnel yourself and point host/port at its local end (connection_method: direct)"
            )

    def unused(self) -> list[str]:
        """Keys of the mapping that no getter read, sorted."""
        return sorted(k for k in self._values if k not in self._read)


SourceFactory = Callable[[ConnectorConfig, ConnectorContext], Source]
DestinationFactory = Callable[[ConnectorConfig, ConnectorContext], Destination]


def _connector_class(module: str, name: str, where: str) -> Any:
    try:
        return getattr(importlib.import_module(f"weir.integration.{module}"), name)
    except (ImportError, AttributeError) as exc:
        raise ConnectorConfigError(
            f"{where}: its connector weir.integration.{module}.{name} cannot be loaded ({exc}); "
            "install the extra it needs or use another connector"
        ) from exc


def _libpq(config: ConnectorConfig) -> str:
    """A libpq key=value connection string from Mage's PostgreSQL keys."""
    config.refuse_ssh_tunnel()
    if config.boolean("lower_case", False):
        config.notes.append(
            f"{config.where}: lower_case is not applied; Weir keeps column names as the source "
            "spells them"
        )
    parts = {
        "host": config.text("host"),
        "port": str(config.integer("port", 5432)),
        "dbname": config.text("database", aliases=("dbname",)),
        "user": config.text("username", aliases=("user",)),
        "password": config.optional_text("password"),
        "sslmode": config.optional_text("sslmode"),
    }
    return " ".join(f"{k}={_quote_libpq(v)}" for k, v in parts.items() if v is not None)


def _quote_libpq(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace("'", "\\'")
    return f"'{escaped}'"


def _mysql_kwargs(config: ConnectorConfig) -> dict[str, Any]:
    config.refuse_ssh_tunnel()
    return {
        "host": config.text("host"),
        "port": config.integer("port", 3306),
        "user": config.text("username", aliases=("user",)),
        "password": config.optional_text("password") or "",
        "database": config.text("database"),
    }


def _postgres_source(config: ConnectorConfig, context: ConnectorContext) -> Source:
    cls = _connector_class("sources.postgres", "PostgresSource", config.where)
    source: Source = cls(_libpq(config), schema=config.text("schema", "public"))
    return source


def _postgres_destination(config: ConnectorConfig, context: ConnectorContext) -> Destination:
    cls = _connector_class("destinations.postgres", "PostgresDestination", config.where)
    destination: Destination = cls(_libpq(config), schema=config.text("schema", "public"))
    return destination


def _mysql_source(config: ConnectorConfig, context: ConnectorContext) -> Source:
    cls = _connector_class("sources.mysql", "MySQLSource", config.where)
    source: Source = cls(**_mysql_kwargs(config))
    return source


def _mysql_destination(config: ConnectorConfig, context: ConnectorContext) -> Destination:
    cls = _connector_class("destinations.mysql", "MySQLDestination", config.where)
    destination: Destination = cls(**_mysql_kwargs(config))
    return destination


def _sqlite_source(config: ConnectorConfig, context: ConnectorContext) -> Source:
    cls = _connector_class("sources.sqlite", "SQLiteSource", config.where)
    source: Source = cls(context.path(config.text("database", aliases=("path",))))
    return source


def _duckdb_source(config: ConnectorConfig, context: ConnectorContext) -> Source:
    cls = _connector_class("sources.duckdb", "DuckDBSource", config.where)
    path = context.path(config.text("database", aliases=("path",)))
    source: Source = cls(path, schema=config.text("schema", "main"))
    return source


def _duckdb_destination(config: ConnectorConfig, context: ConnectorContext) -> Destination:
    cls = _connector_class("destinations.duckdb", "DuckDBDestination", config.where)
    path = context.path(config.text("database", aliases=("path",)))
    destination: Destination = cls(path, schema=config.text("schema", "main"))
    return destination


def _file_source(config: ConnectorConfig, context: ConnectorContext) -> Source:
    streams = {name: str(context.path(str(p))) for name, p in config.mapping("streams").items()}
    file_format = config.optional_text("file_format")
    options = {"file_format": file_format.lower()} if file_format else {}
    cls = _connector_class("sources.files", "FileSource", config.where)
    source: Source = cls(streams, **options)
    return source


def _parquet_destination(config: ConnectorConfig, context: ConnectorContext) -> Destination:
    cls = _connector_class("destinations.parquet", "ParquetDestination", config.where)
    root = context.path(config.text("root", aliases=("path",)))
    destination: Destination = cls(root, partition_by=config.optional_mapping("partition_by"))
    return destination


def _singer_source(config: ConnectorConfig, context: ConnectorContext) -> Source:
    cls = _connector_class("sources.singer_tap", "SingerTapSource", config.where)
    work_dir = context.work_dir / "singer_tap"
    source: Source = cls(config.command("command"), config.mapping("config"), work_dir=work_dir)
    return source


def _singer_destination(config: ConnectorConfig, context: ConnectorContext) -> Destination:
    cls = _connector_class("destinations.singer_target", "SingerTargetDestination", config.where)
    work_dir = context.work_dir / "singer_target"
    command, settings = config.command("command"), config.mapping("config")
    destination: Destination = cls(command, settings, work_dir=work_dir)
    return destination


_SOURCES: dict[str, SourceFactory] = {
    "postgresql": _postgres_source,
    "mysql": _mysql_source,
    "sqlite": _sqlite_source,
    "duckdb": _duckdb_source,
    "file": _file_source,
    "singer": _singer_source,
}
_DESTINATIONS: dict[str, DestinationFactory] = {
    "postgresql": _postgres_destination,
    "mysql": _mysql_destination,
    "duckdb": _duckdb_destination,
    "parquet": _parquet_destination,
    "singer": _singer_destination,
}


_C = TypeVar("_C", Source, Destination)


def _built(
    factory: Callable[[ConnectorConfig, ConnectorContext], _C],
    config: ConnectorConfig,
    context: ConnectorContext,
) -> _C:
    """Call a factory; a connector refusing its arguments is a configuration error."""
    try:
        return factory(config, context)
    except (ValueError, TypeError) as exc:
        raise ConnectorConfigError(f"{config.where}: {exc}") from exc


def register_source(name: str, factory: SourceFactory) -> None:
    """Make `source: <name>` build a source with `factory` (replaces an existing name)."""
    _SOURCES[name] = factory


def register_destination(name: str, factory: DestinationFactory) -> None:
    """Make `destination: <name>` build a destination with `factory` (replaces an existing name)."""
    _DESTINATIONS[name] = factory


def source_names() -> tuple[str, ...]:
    """The source names a data loader block may use, sorted."""
    return tuple(sorted(_SOURCES))


def destination_names() -> tuple[str, ...]:
    """The destination names a data exporter block may use, sorted."""
    return tuple(sorted(_DESTINATIONS))


def create_source(
    name: str, config: Mapping[str, Any], context: ConnectorContext
) -> tuple[Source, ConnectorConfig]:
    """Build the source a data loader block names.

    Args:
        name: the block's `source:` value, e.g. `postgresql`.
        config: its rendered `config:` mapping.
        context: the project folder and the pipeline's work folder.

    Returns:
        The source (not connected yet), and the config as read (its `unused()` keys and
        `notes` are worth logging).

    Raises:
        ConnectorConfigError: the name is unknown (the message lists the known ones), a key is
            missing or malformed, or the connector's module cannot be imported.
    """
    factory = _SOURCES.get(name)
    if factory is None:
        known = ", ".join(source_names())
        raise ConnectorConfigError(f"unknown source '{name}'; known sources: {known}")
    reader = ConnectorConfig(config, where=f"source '{name}'")
    return _built(factory, reader, context), reader


def create_destination(
    name: str, config: Mapping[str, Any], context: ConnectorContext
) -> tuple[Destination, ConnectorConfig]:
    """Build the destination a data exporter block names.

    Args:
        name: the block's `destination:` value, e.g. `postgresql`.
        config: its rendered `config:` mapping.
        context: the project folder and the pipeline's work folder.

    Returns:
        The destination (not connected yet), and the config as read.

    Raises:
        ConnectorConfigError: the name is unknown (the message lists the known ones), a key is
            missing or malformed, or the connector's module cannot be imported.
    """
    factory = _DESTINATIONS.get(name)
    if factory is None:
        known = ", ".join(destination_names())
        raise ConnectorConfigError(f"unknown destination '{name}'; known destinations: {known}")
    reader = ConnectorConfig(config, where=f"destination '{name}'")
    return _built(factory, reader, context), reader
