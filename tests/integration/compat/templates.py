"""Mage's block templates, as Mage generates them (`mage_ai/data_preparation/templates`).

Each is the code Mage writes into a new block file, rendered, with the values a user edits (query,
file path, schema and table names, transformer code) left as `<<name>>` for `fill`. The code
(imports, guards, calls and their arguments) is as Mage ships it; the docstrings are shortened.
"""

from __future__ import annotations


def fill(template: str, **values: str) -> str:
    """Replace each `<<name>>` by its value (braces in the code stay untouched)."""
    for name, value in values.items():
        template = template.replace(f"<<{name}>>", value)
    assert "<<" not in template, template
    return template


_TEST = '''

@test
def test_output(output, *args) -> None:
    """
    Template code for testing the output of the block.
    """
    assert output is not None, 'The output is undefined'
'''

_LOADER_GUARDS = """if 'data_loader' not in globals():
    from mage_ai.data_preparation.decorators import data_loader
if 'test' not in globals():
    from mage_ai.data_preparation.decorators import test
"""


def _sql_loader(module: str, handler: str, function: str) -> str:
    return (
        f"""from mage_ai.settings.repo import get_repo_path
from mage_ai.io.config import ConfigFileLoader
from mage_ai.io.{module} import {handler}
from os import path
{_LOADER_GUARDS}

@data_loader
def {function}(*args, **kwargs):
    \"\"\"
    Template for loading data from a database.
    Specify your configuration settings in 'io_config.yaml'.
    \"\"\"
    query = '<<query>>'  # Specify your SQL query here
    config_path = path.join(get_repo_path(), 'io_config.yaml')
    config_profile = 'default'

    with {handler}.with_config(ConfigFileLoader(config_path, config_profile)) as loader:
        return loader.load(query)
"""
        + _TEST
    )


POSTGRES_LOADER = _sql_loader("postgres", "Postgres", "load_data_from_postgres")
MYSQL_LOADER = _sql_loader("mysql", "MySQL", "load_data_from_mysql")
DUCKDB_LOADER = _sql_loader("duckdb", "DuckDB", "load_data_from_duckdb")

POSTGRES_EXPORTER = '''from mage_ai.settings.repo import get_repo_path
from mage_ai.io.config import ConfigFileLoader
from mage_ai.io.postgres import Postgres
from pandas import DataFrame
from os import path

if 'data_exporter' not in globals():
    from mage_ai.data_preparation.decorators import data_exporter


@data_exporter
def export_data_to_postgres(df: DataFrame, **kwargs) -> None:
    """
    Template for exporting data to a PostgreSQL database.
    Specify your configuration settings in 'io_config.yaml'.
    """
    schema_name = '<<schema>>'  # Specify the name of the schema to export data to
    table_name = '<<table>>'  # Specify the name of the table to export data to
    config_path = path.join(get_repo_path(), 'io_config.yaml')
    config_profile = 'default'

    with Postgres.with_config(ConfigFileLoader(config_path, config_profile)) as loader:
        loader.export(
            df,
            schema_name,
            table_name,
            index=False,  # Specifies whether to include index in exported table
            if_exists='replace',  # Specify resolution policy if table name already exists
        )
'''

MYSQL_EXPORTER = '''from mage_ai.settings.repo import get_repo_path
from mage_ai.io.config import ConfigFileLoader
from mage_ai.io.mysql import MySQL
from pandas import DataFrame
from os import path

if 'data_exporter' not in globals():
    from mage_ai.data_preparation.decorators import data_exporter


@data_exporter
def export_data_to_mysql(df: DataFrame, **kwargs) -> None:
    """
    Template for exporting data to a MySQL database.
    Specify your configuration settings in 'io_config.yaml'.
    """
    table_name = '<<table>>'  # Specify the name of the table to export data to
    config_path = path.join(get_repo_path(), 'io_config.yaml')
    config_profile = 'default'

    with MySQL.with_config(ConfigFileLoader(config_path, config_profile)) as loader:
        loader.export(
            df,
            schema_name=None,
            table_name=table_name,
            index=False,  # Specifies whether to include index in exported table
            if_exists='replace',  # Specify resolution policy if table name already exists
        )
'''

DUCKDB_EXPORTER = '''from mage_ai.settings.repo import get_repo_path
from mage_ai.io.config import ConfigFileLoader
from mage_ai.io.duckdb import DuckDB
from pandas import DataFrame
from os import path

if 'data_exporter' not in globals():
    from mage_ai.data_preparation.decorators import data_exporter


@data_exporter
def export_data_to_duckdb(df: DataFrame, **kwargs) -> None:
    """
    Template for exporting data to DuckDB database.
    Specify your configuration settings in 'io_config.yaml'.
    """
    table_name = '<<table>>'  # Specify the name of the table to export data to
    config_path = path.join(get_repo_path(), 'io_config.yaml')
    config_profile = 'default'

    with DuckDB.with_config(ConfigFileLoader(config_path, config_profile)) as loader:
        loader.export(
            df,
            None,
            table_name=table_name,
            index=False,  # Specifies whether to include index in exported table
            if_exists='replace',  # Specify resolution policy if table name already exists
        )
'''

FILE_LOADER = (
    f"""from mage_ai.io.file import FileIO
{_LOADER_GUARDS}

@data_loader
def load_data_from_file(*args, **kwargs):
    \"\"\"
    Template for loading data from filesystem.
    \"\"\"
    filepath = '<<filepath>>'
    return FileIO().load(filepath)
"""
    + _TEST
)

FILE_EXPORTER = '''from mage_ai.io.file import FileIO
from pandas import DataFrame

if 'data_exporter' not in globals():
    from mage_ai.data_preparation.decorators import data_exporter


@data_exporter
def export_data_to_file(df: DataFrame, **kwargs) -> None:
    """
    Template for exporting data to filesystem.
    """
    filepath = '<<filepath>>'
    FileIO().export(df, filepath)
'''

TRANSFORMER = (
    '''from pandas import DataFrame

if 'transformer' not in globals():
    from mage_ai.data_preparation.decorators import transformer
if 'test' not in globals():
    from mage_ai.data_preparation.decorators import test


@transformer
def transform_df(df: DataFrame, *args) -> DataFrame:
    """
    Template code for a transformer block.
    """
    # Specify your transformation logic here
<<code>>
    return df
'''
    + _TEST
)
