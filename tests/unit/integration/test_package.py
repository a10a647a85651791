"""`weir.integration`'s lazily imported connectors: every one is public and loads on first use."""

from __future__ import annotations

import subprocess
import sys

import weir.integration as integration
from weir.integration.base import Destination, Source

CONNECTORS = {
    "DuckDBDestination": Destination,
    "DuckDBSource": Source,
    "FileSource": Source,
    "MySQLDestination": Destination,
    "MySQLSource": Source,
    "ParquetDestination": Destination,
    "PostgresDestination": Destination,
    "PostgresSource": Source,
    "SQLiteSource": Source,
    "SingerTapSource": Source,
    "SingerTargetDestination": Destination,
}


def test_every_connector_is_exported_and_resolves_to_its_class():
    for name, interface in CONNECTORS.items():
        assert name in integration.__all__
        found = getattr(integration, name)
        assert found.__name__ == name
        assert issubclass(found, interface)
        assert found.__module__.startswith(
            ("weir.integration.sources.", "weir.integration.destinations.")
        )


def test_importing_the_package_loads_no_database_driver():
    code = (
        "import sys, weir.integration\n"
        "print(sorted(m for m in ('psycopg', 'pymysql', 'duckdb') if m in sys.modules))\n"
        "weir.integration.MySQLSource\n"
        "print(sorted(m for m in ('psycopg', 'pymysql', 'duckdb') if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    before, after = done.stdout.splitlines()
    assert before == "[]"
    assert "pymysql" in after
