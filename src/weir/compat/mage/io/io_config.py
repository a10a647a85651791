"""Stand-in for `mage_ai.io.io_config`: Mage's older `IOConfig(path).use(profile)` form."""

from __future__ import annotations

import os

from weir.compat.mage.io.config import ConfigFileLoader

__all__ = ["IOConfig"]


class IOConfig:
    """An `io_config.yaml` file; `use(profile)` picks one of its profiles.

    Args:
        filepath: the file (relative paths are taken from the running block's project folder).
    """

    def __init__(self, filepath: str | os.PathLike[str]) -> None:
        self.filepath = filepath

    def use(self, profile: str) -> ConfigFileLoader:
        """The settings of `profile`, readable as `settings['POSTGRES_HOST']`.

        Args:
            profile: the profile's name.

        Returns:
            A `ConfigFileLoader`, which every `with_config` accepts.

        Raises:
            ConfigError: the file is missing or malformed, or has no such profile.
        """
        return ConfigFileLoader(self.filepath, profile)
