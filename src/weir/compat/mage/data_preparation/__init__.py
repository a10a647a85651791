"""Stand-in for `mage_ai.data_preparation`: `decorators` and `variable_manager`."""

__all__: list[str] = []
