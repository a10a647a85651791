"""The `weir` command line (Typer); one module per command group."""
