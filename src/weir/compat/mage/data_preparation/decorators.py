"""Stand-in for `mage_ai.data_preparation.decorators`: Weir's block decorators under Mage's names.

Block files rarely import these (the engine pre-binds them, so Mage's guarded imports are
skipped), but helper modules in `utils/` may.
"""

from weir.blocks.decorators import (
    callback,
    condition,
    custom,
    data_exporter,
    data_loader,
    on_failure,
    on_success,
    sensor,
    test,
    transformer,
)

__all__ = [
    "callback",
    "condition",
    "custom",
    "data_exporter",
    "data_loader",
    "on_failure",
    "on_success",
    "sensor",
    "test",
    "transformer",
]
