"""Stand-in for `mage_ai.settings`: see `weir.compat.mage.settings.repo`."""

__all__: list[str] = []
