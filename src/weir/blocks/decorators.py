"""Block decorators, named as in Mage (`mage_ai.data_preparation.decorators`).

A decorator only marks the function; the block loader finds marked functions in the block module.
They are pre-bound in every block module's namespace, so a Mage block file's guard
`if 'transformer' not in globals(): from mage_ai.data_preparation.decorators import transformer`
is skipped and the file runs unchanged. They are also importable: `from weir import transformer`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])

MARKER = "__weir_block_role__"

#: Roles that make a function the block's main function (the one the engine calls).
MAIN_ROLES = frozenset(
    {"data_loader", "transformer", "data_exporter", "custom", "sensor", "condition", "callback"}
)


def _marker(role: str) -> Callable[[F], F]:
    def mark(function: F) -> F:
        setattr(function, MARKER, role)
        return function

    mark.__name__ = role
    mark.__doc__ = f"Mark a function as the block's `{role}` function."
    return mark


data_loader = _marker("data_loader")
transformer = _marker("transformer")
data_exporter = _marker("data_exporter")
custom = _marker("custom")
sensor = _marker("sensor")
condition = _marker("condition")
test = _marker("test")
on_success = _marker("on_success")
on_failure = _marker("on_failure")


def callback(function_or_status: Any = None) -> Any:
    """Mark a callback block's function; `@callback` or Mage's `@callback('success')` form."""
    if callable(function_or_status):
        setattr(function_or_status, MARKER, "callback")
        return function_or_status
    role = {"success": "on_success", "failure": "on_failure"}.get(
        str(function_or_status), "callback"
    )
    return _marker(role)


#: Names bound into every block module before it runs.
BLOCK_GLOBALS: dict[str, Any] = {
    "data_loader": data_loader,
    "transformer": transformer,
    "data_exporter": data_exporter,
    "custom": custom,
    "sensor": sensor,
    "condition": condition,
    "test": test,
    "callback": callback,
    "on_success": on_success,
    "on_failure": on_failure,
}
