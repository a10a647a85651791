"""Stand-in for `mage_ai.io.config`: read connection settings from `io_config.yaml`.

`ConfigFileLoader(config_path, config_profile)` reads the profile with Weir's own reader
(`weir.connections.load_io_config`): the file is rendered with Jinja (`env_var`, `json_value`)
and parsed as YAML, as Mage does, with Weir's differences (documented there): a missing
environment variable makes that one setting *unresolved*, and reading it raises `ConfigError`
naming the variable, key, profile and file, where Mage would silently use the text `None`.

Mage's older "verbose" profile format (`PostgreSQL: {host: ...}`) and the secret-manager loaders
(`AWSSecretLoader`) are not supported.
"""

from __future__ import annotations

import os
import tempfile
from abc import ABC, abstractmethod
from collections.abc import Mapping
from enum import Enum, StrEnum
from pathlib import Path
from types import MappingProxyType
from typing import Any

from weir.compat.context import current_project_root
from weir.connections import IO_CONFIG_FILE_NAME, IoProfile, load_io_config

__all__ = [
    "BaseConfigLoader",
    "ConfigFileLoader",
    "ConfigKey",
    "EnvironmentVariableLoader",
    "profile_of",
]


class ConfigKey(StrEnum):
    """Names of io_config settings, as in Mage (`ConfigKey.POSTGRES_DBNAME == 'POSTGRES_DBNAME'`)."""

    AWS_ACCESS_KEY_ID = "AWS_ACCESS_KEY_ID"
    AWS_ENDPOINT = "AWS_ENDPOINT"
    AWS_REGION = "AWS_REGION"
    AWS_SECRET_ACCESS_KEY = "AWS_SECRET_ACCESS_KEY"
    AWS_SESSION_TOKEN = "AWS_SESSION_TOKEN"
    AZURE_CLIENT_ID = "AZURE_CLIENT_ID"
    AZURE_CLIENT_SECRET = "AZURE_CLIENT_SECRET"
    AZURE_STORAGE_ACCOUNT_NAME = "AZURE_STORAGE_ACCOUNT_NAME"
    AZURE_TENANT_ID = "AZURE_TENANT_ID"
    CLICKHOUSE_DATABASE = "CLICKHOUSE_DATABASE"
    CLICKHOUSE_HOST = "CLICKHOUSE_HOST"
    CLICKHOUSE_INTERFACE = "CLICKHOUSE_INTERFACE"
    CLICKHOUSE_PASSWORD = "CLICKHOUSE_PASSWORD"
    CLICKHOUSE_PORT = "CLICKHOUSE_PORT"
    CLICKHOUSE_USERNAME = "CLICKHOUSE_USERNAME"
    DUCKDB_DATABASE = "DUCKDB_DATABASE"
    DUCKDB_SCHEMA = "DUCKDB_SCHEMA"
    GOOGLE_LOCATION = "GOOGLE_LOCATION"
    GOOGLE_SERVICE_ACC_KEY = "GOOGLE_SERVICE_ACC_KEY"
    GOOGLE_SERVICE_ACC_KEY_FILEPATH = "GOOGLE_SERVICE_ACC_KEY_FILEPATH"
    MONGODB_COLLECTION = "MONGODB_COLLECTION"
    MONGODB_DATABASE = "MONGODB_DATABASE"
    MONGODB_HOST = "MONGODB_HOST"
    MONGODB_PASSWORD = "MONGODB_PASSWORD"
    MONGODB_PORT = "MONGODB_PORT"
    MONGODB_USER = "MONGODB_USER"
    MOTHERDUCK_TOKEN = "MOTHERDUCK_TOKEN"
    MSSQL_DATABASE = "MSSQL_DATABASE"
    MSSQL_DRIVER = "MSSQL_DRIVER"
    MSSQL_HOST = "MSSQL_HOST"
    MSSQL_PASSWORD = "MSSQL_PASSWORD"
    MSSQL_PORT = "MSSQL_PORT"
    MSSQL_SCHEMA = "MSSQL_SCHEMA"
    MSSQL_USER = "MSSQL_USER"
    MYSQL_CONNECTION_METHOD = "MYSQL_CONNECTION_METHOD"
    MYSQL_CONNECT_TIMEOUT = "MYSQL_CONNECT_TIMEOUT"
    MYSQL_DATABASE = "MYSQL_DATABASE"
    MYSQL_HOST = "MYSQL_HOST"
    MYSQL_PASSWORD = "MYSQL_PASSWORD"
    MYSQL_PORT = "MYSQL_PORT"
    MYSQL_USER = "MYSQL_USER"
    POSTGRES_CONNECTION_METHOD = "POSTGRES_CONNECTION_METHOD"
    POSTGRES_CONNECT_TIMEOUT = "POSTGRES_CONNECT_TIMEOUT"
    POSTGRES_DBNAME = "POSTGRES_DBNAME"
    POSTGRES_HOST = "POSTGRES_HOST"
    POSTGRES_PASSWORD = "POSTGRES_PASSWORD"
    POSTGRES_PORT = "POSTGRES_PORT"
    POSTGRES_SCHEMA = "POSTGRES_SCHEMA"
    POSTGRES_USER = "POSTGRES_USER"
    REDSHIFT_CLUSTER_ID = "REDSHIFT_CLUSTER_ID"
    REDSHIFT_DBNAME = "REDSHIFT_DBNAME"
    REDSHIFT_DBUSER = "REDSHIFT_DBUSER"
    REDSHIFT_HOST = "REDSHIFT_HOST"
    REDSHIFT_IAM_PROFILE = "REDSHIFT_IAM_PROFILE"
    REDSHIFT_PORT = "REDSHIFT_PORT"
    REDSHIFT_SCHEMA = "REDSHIFT_SCHEMA"
    REDSHIFT_TEMP_CRED_PASSWORD = "REDSHIFT_TEMP_CRED_PASSWORD"
    REDSHIFT_TEMP_CRED_USER = "REDSHIFT_TEMP_CRED_USER"
    SNOWFLAKE_ACCOUNT = "SNOWFLAKE_ACCOUNT"
    SNOWFLAKE_DEFAULT_DB = "SNOWFLAKE_DEFAULT_DB"
    SNOWFLAKE_DEFAULT_SCHEMA = "SNOWFLAKE_DEFAULT_SCHEMA"
    SNOWFLAKE_DEFAULT_WH = "SNOWFLAKE_DEFAULT_WH"
    SNOWFLAKE_PASSWORD = "SNOWFLAKE_PASSWORD"
    SNOWFLAKE_ROLE = "SNOWFLAKE_ROLE"
    SNOWFLAKE_USER = "SNOWFLAKE_USER"
    TRINO_CATALOG = "TRINO_CATALOG"
    TRINO_HOST = "TRINO_HOST"
    TRINO_PASSWORD = "TRINO_PASSWORD"
    TRINO_PORT = "TRINO_PORT"
    TRINO_SCHEMA = "TRINO_SCHEMA"
    TRINO_USER = "TRINO_USER"


class BaseConfigLoader(ABC):
    """A read-only source of settings, read as `loader[ConfigKey.X]` (Mage's interface)."""

    @abstractmethod
    def contains(self, key: str) -> bool:
        """Whether the setting `key` is present."""

    @abstractmethod
    def get(self, key: str) -> Any:
        """The setting `key`, or None when absent."""

    def to_profile(self) -> IoProfile:
        """The settings as an `IoProfile`, for Weir's typed readers (`postgres_settings`, ...).

        The base implementation asks for every `ConfigKey`; subclasses with a profile return it.
        """
        settings = {key.value: self.get(key.value) for key in ConfigKey if self.contains(key.value)}
        source = Path(f"<{type(self).__name__}>")
        return IoProfile(name="default", settings=MappingProxyType(settings), source_file=source)

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self.contains(key)

    def __getitem__(self, key: str) -> Any:
        return self.get(key)


class ConfigFileLoader(BaseConfigLoader):
    """One profile of an `io_config.yaml` file (or a mapping given as `config`).

    Args:
        filepath: the file; default `<project>/io_config.yaml` of the running block's project.
            A relative path is taken from the project folder (Mage runs there).
        profile: the profile's name.
        config: settings to use instead of a file (Mage's `config=` argument).

    Raises:
        ConfigError: the file is missing or malformed, or has no such profile (the message
            lists the profiles).
    """

    def __init__(
        self,
        filepath: str | os.PathLike[str] | None = None,
        profile: str = "default",
        config: Mapping[str, Any] | None = None,
    ) -> None:
        self.profile_name = profile
        if config is not None:
            self.filepath: Path | None = None
            self.profile = _mapping_profile(config, profile, "<config mapping>")
        else:
            root = current_project_root()
            path = Path(filepath) if filepath is not None else root / IO_CONFIG_FILE_NAME
            self.filepath = path if path.is_absolute() else root / path
            self.profile = _load_profile(self.filepath, profile)
        self.config = dict(self.profile.settings)

    def contains(self, key: str) -> bool:
        """Whether the profile sets `key` (an unresolved setting counts as set)."""
        name = _key_name(key)
        return name in self.profile.settings or name in self.profile.unresolved

    def get(self, key: str) -> Any:
        """The setting `key`, or None when the profile lacks it.

        Raises:
            ConfigError: the setting is present but unresolved (e.g. its environment variable
                is not set); names the variable, key, profile and file.
        """
        return self.profile.get(_key_name(key))

    def to_profile(self) -> IoProfile:
        """The profile as Weir read it, unresolved settings included."""
        return self.profile


class EnvironmentVariableLoader(BaseConfigLoader):
    """Settings read from environment variables named like the keys (`POSTGRES_HOST`, ...)."""

    def contains(self, key: str) -> bool:
        """Whether the environment variable `key` is set."""
        return _key_name(key) in os.environ

    def get(self, key: str) -> Any:
        """The environment variable `key`, or None."""
        return os.environ.get(_key_name(key))


def profile_of(config: BaseConfigLoader | Mapping[str, Any]) -> IoProfile:
    """The `IoProfile` behind what a block passed to `with_config`.

    Args:
        config: a config loader, or a mapping of settings (Mage's older `IOConfig.use()` form).

    Returns:
        The profile, for `weir.connections.postgres_settings` and its siblings.

    Raises:
        TypeError: `config` is neither.
    """
    if isinstance(config, BaseConfigLoader):
        return config.to_profile()
    if isinstance(config, Mapping):
        return _mapping_profile(config, "default", "<settings mapping>")
    raise TypeError(
        f"with_config() takes a ConfigFileLoader or a mapping of settings, not "
        f"{type(config).__name__}"
    )


def _key_name(key: str) -> str:
    return key.value if isinstance(key, Enum) else str(key)


def _mapping_profile(config: Mapping[Any, Any], name: str, source: str) -> IoProfile:
    settings = {_key_name(key): value for key, value in config.items()}
    return IoProfile(name=name, settings=MappingProxyType(settings), source_file=Path(source))


def _load_profile(path: Path, profile: str) -> IoProfile:
    """Read `profile` of the file at `path`, whatever the file is called.

    `load_io_config` reads `<folder>/io_config.yaml`; a file with another name is read through a
    symbolic link of that name in a temporary folder (its messages name the real file, since the
    reader resolves links).
    """
    if path.name == IO_CONFIG_FILE_NAME:
        return load_io_config(path.parent, profile)
    with tempfile.TemporaryDirectory(prefix="weir_io_config_") as folder:
        link = Path(folder) / IO_CONFIG_FILE_NAME
        link.symlink_to(path.resolve())
        return load_io_config(Path(folder), profile)
