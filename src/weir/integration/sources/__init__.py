"""Sources: one module per connector, each a `weir.integration.base.Source`."""
