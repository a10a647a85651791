"""SQL blocks: a `.sql` file rendered with Jinja and run on DuckDB, PostgreSQL or MySQL.

The engine calls `execute_sql_block(request) -> BlockResult`. The block's `configuration` picks
the provider and the table its rows are written to (`weir.blocks.sql.config`); the template's
names (`{{ df_1 }}`, `{{ variables('x') }}`, ...) are in `weir.blocks.sql.template`; each
provider's behaviour is in `weir.blocks.sql.providers.<name>`.
"""

from weir.blocks.sql.config import OutputFormat, SqlBlockConfig, WritePolicy
from weir.blocks.sql.executor import execute_sql_block
from weir.blocks.sql.tables import PROVENANCE_KEY, SqlTableRef

__all__ = [
    "PROVENANCE_KEY",
    "OutputFormat",
    "SqlBlockConfig",
    "SqlTableRef",
    "WritePolicy",
    "execute_sql_block",
]
