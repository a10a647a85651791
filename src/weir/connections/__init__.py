"""Connection profiles: a project's `io_config.yaml` -> typed settings per database.

```
load_io_config(project_root, profile)  -> IoProfile  (rendered with Jinja, parsed as YAML)
postgres_settings(profile)              -> PostgresSettings (.conninfo() for psycopg)
mysql_settings(profile)                 -> MySQLSettings    (.connect_kwargs() for pymysql)
duckdb_settings(profile, project_root)  -> DuckDBSettings   (absolute file path)
```

Every problem raises `weir.errors.ConfigError` naming the file, the profile and the key.
"""

from weir.connections.io_config import IO_CONFIG_FILE_NAME, IoProfile, load_io_config
from weir.connections.settings import (
    DEFAULT_CONNECT_TIMEOUT_SECONDS,
    DuckDBSettings,
    MySQLSettings,
    PostgresSettings,
    duckdb_settings,
    mysql_settings,
    postgres_settings,
)

__all__ = [
    "DEFAULT_CONNECT_TIMEOUT_SECONDS",
    "IO_CONFIG_FILE_NAME",
    "DuckDBSettings",
    "IoProfile",
    "MySQLSettings",
    "PostgresSettings",
    "duckdb_settings",
    "load_io_config",
    "mysql_settings",
    "postgres_settings",
]
