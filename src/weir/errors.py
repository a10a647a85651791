"""The exceptions Weir raises, one tree so callers can catch by kind.

```
WeirError                       anything Weir raises on purpose
├── ConfigError                 a project file is missing or malformed (names the file and key)
│   ├── ProjectNotFoundError    no Weir/Mage project at a path
│   └── PipelineValidationError a pipeline's metadata.yaml is wrong (unknown upstream, cycle, ...)
├── BlockError                  a block could not run
│   ├── BlockLoadError          its file is missing or cannot be imported
│   ├── BlockExecutionError     user code raised; wraps the original with the block's name
│   ├── BlockTimeoutError       it ran past its `timeout` (seconds)
│   └── BlockTestError          one of its `@test` functions failed
├── DataProductError            a data product cannot be written or read
├── RunStateError               a run or block run was asked for an illegal status change
├── RunNotFoundError            no run with that id in the metadata database
├── NotFoundError               a pipeline, block, user or API key named in a request does not exist
│   ├── TriggerNotFoundError    no trigger (pipeline schedule) with that id or name
│   └── BackfillNotFoundError   no backfill with that id
└── ConflictError               a request clashes with what exists (a name already taken, ...)
    └── RunConflictError        a run of that trigger for that execution date exists already
```

Every message says which file, block, pipeline or setting is at fault and, where it can, what
to do about it.
"""

from __future__ import annotations

__all__ = [
    "BackfillNotFoundError",
    "BlockError",
    "BlockExecutionError",
    "BlockLoadError",
    "BlockTestError",
    "BlockTimeoutError",
    "ConfigError",
    "ConflictError",
    "DataProductError",
    "NotFoundError",
    "PipelineValidationError",
    "ProjectNotFoundError",
    "RunConflictError",
    "RunNotFoundError",
    "RunStateError",
    "TriggerNotFoundError",
    "WeirError",
]


class WeirError(Exception):
    """Base of every error Weir raises on purpose."""


class ConfigError(WeirError):
    """A project file (YAML, io_config, block file) is missing or malformed."""


class ProjectNotFoundError(ConfigError):
    """The path holds no project (no `metadata.yaml` at its root)."""


class PipelineValidationError(ConfigError):
    """A pipeline's `metadata.yaml` breaks a rule; the message names the file and key."""


class BlockError(WeirError):
    """A block could not run. `block_uuid` names it."""

    def __init__(self, block_uuid: str, message: str) -> None:
        super().__init__(f"block '{block_uuid}': {message}")
        self.block_uuid = block_uuid


class BlockLoadError(BlockError):
    """The block's file is missing, or importing it raised."""


class BlockExecutionError(BlockError):
    """The block's own code raised. `__cause__` holds the original exception."""


class BlockTimeoutError(BlockError):
    """The block ran longer than its `timeout` seconds."""


class BlockTestError(BlockError):
    """A `@test` function of the block failed; the message is its assertion message."""


class DataProductError(WeirError):
    """A data product could not be written or read (names the run, block and file)."""


class RunStateError(WeirError):
    """An illegal status change of a pipeline run or block run was asked for."""


class RunNotFoundError(WeirError):
    """No pipeline run or block run with the given id exists."""


class NotFoundError(WeirError):
    """A pipeline, block, user or API key named in a request does not exist (the API's 404)."""


class ConflictError(WeirError):
    """A request clashes with what exists: a name already taken, a last owner removed (409)."""


class RunConflictError(ConflictError):
    """A run of that pipeline and trigger for that execution date exists already.

    Raised from the database's unique index, so it holds across processes and schedulers.
    """


class TriggerNotFoundError(NotFoundError):
    """No trigger (Mage's pipeline schedule) with the given id, or name in that pipeline."""


class BackfillNotFoundError(NotFoundError):
    """No backfill with the given id."""
