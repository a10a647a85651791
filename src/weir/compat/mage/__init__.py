"""Weir's stand-ins for the parts of Mage (`mage_ai`) that block files import.

Imported as `mage_ai...` through `weir.compat.finder` when Mage is not installed. Each module
mirrors one Mage module's public names and signatures, implemented on Weir's own parts
(`weir.connections` for io_config profiles, psycopg 3 / pymysql / duckdb, pandas and pyarrow).
Where Weir behaves differently from Mage, the module's docstring says so and why.
"""

__all__: list[str] = []
