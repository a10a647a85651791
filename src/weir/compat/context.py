"""Which project and run the running block code belongs to (Mage's `get_repo_path()` and friends).

Blocks run on threads, one per attempt, and several at once, possibly of different projects. The
engine binds the block's project when it loads the block's module (`enter_block_context`, called
from `weir.blocks.python_block.load_block_module` on the attempt's thread); the block's function
runs right after on the same thread, so it sees its own project. The binding is a
`contextvars.ContextVar`, not a thread-local, so asyncio tasks the block starts inherit it, and
`contextvars.copy_context().run(...)` carries it into threads the block starts itself.

Without a binding (a thread a block started without copying its context, or code outside a
block), `current_project_root` falls back, in order, to: the only project ever bound in this
process (a run's worker process runs one project), then Mage's own rule: the `MAGE_REPO_PATH`
environment variable, else the working directory.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path

from weir.compat.finder import install_mage_compat

__all__ = [
    "MAGE_REPO_PATH_ENV",
    "BlockContext",
    "block_context",
    "current_block_context",
    "current_project_root",
    "enter_block_context",
]

MAGE_REPO_PATH_ENV = "MAGE_REPO_PATH"
"""Mage's environment variable naming the project folder (`mage_ai.settings.REPO_PATH_ENV_VAR`)."""


@dataclass(frozen=True, slots=True)
class BlockContext:
    """What Mage-style helper functions may know about the code calling them.

    Attributes:
        project_root: the project's folder (absolute).
        block_uuid: the block whose module was loaded, when known.
        pipeline_uuid: the pipeline being run, when known.
        pipeline_run_id: the run's id in the metadata database, when known; `get_variable`
            then reads outputs of this run first.
    """

    project_root: Path
    block_uuid: str | None = None
    pipeline_uuid: str | None = None
    pipeline_run_id: int | None = None


_CURRENT: ContextVar[BlockContext | None] = ContextVar("weir_compat_block", default=None)
_BOUND_ROOTS: set[Path] = set()
_ROOTS_LOCK = threading.Lock()


def enter_block_context(
    project_root: Path,
    *,
    block_uuid: str | None = None,
    pipeline_uuid: str | None = None,
    pipeline_run_id: int | None = None,
) -> None:
    """Prepare the current thread to import and run a block's code.

    Installs the `mage_ai` stand-ins (unless Mage itself is importable) and binds the block's
    context in the current `contextvars` context, where it stays until the next call: each block
    attempt runs on a fresh thread, whose context starts empty.

    Args:
        project_root: the block's project folder.
        block_uuid: the block's uuid.
        pipeline_uuid: the pipeline being run.
        pipeline_run_id: the run's id in the metadata database.
    """
    install_mage_compat()
    context = BlockContext(Path(project_root).resolve(), block_uuid, pipeline_uuid, pipeline_run_id)
    _remember(context.project_root)
    _CURRENT.set(context)


@contextmanager
def block_context(context: BlockContext) -> Iterator[BlockContext]:
    """Bind `context` for the duration of a `with` block, then restore the previous one.

    Args:
        context: what Mage-style helpers should see inside the block.

    Yields:
        The bound context.
    """
    _remember(context.project_root)
    token = _CURRENT.set(context)
    try:
        yield context
    finally:
        _CURRENT.reset(token)


def current_block_context() -> BlockContext | None:
    """The context bound in the current `contextvars` context, or None."""
    return _CURRENT.get()


def current_project_root() -> Path:
    """The project folder of the code running now (see the module notes for the fallbacks).

    Returns:
        An absolute path; never raises (as Mage's `get_repo_path`).
    """
    context = _CURRENT.get()
    if context is not None:
        return context.project_root
    with _ROOTS_LOCK:
        only = next(iter(_BOUND_ROOTS)) if len(_BOUND_ROOTS) == 1 else None
    if only is not None:
        return only
    from_env = os.environ.get(MAGE_REPO_PATH_ENV, "").strip()
    return Path(from_env).resolve() if from_env else Path.cwd()


def _remember(root: Path) -> None:
    with _ROOTS_LOCK:
        _BOUND_ROOTS.add(root)
