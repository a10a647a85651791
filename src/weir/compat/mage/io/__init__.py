"""Stand-in for `mage_ai.io`: `config`, `io_config`, `postgres`, `mysql`, `duckdb`, `file`."""

__all__: list[str] = []
