"""Python blocks: load a block file as a module and call its decorated function.

Calling convention (Mage's): the main function receives one positional argument per upstream block,
in `upstream_blocks` order, and keyword arguments with the run's variables and context
(`execution_date`, `ds`, `hr`, `pipeline_uuid`, `block_uuid`, `pipeline_run_id`, `configuration`,
`logger`). A function without `**kwargs` gets only the keywords it names.

Return values: `None` gives no output; a tuple gives one output per item (`output_0`, `output_1`,
...); anything else is `output_0`. A downstream block receives a one-output upstream's value as is, and
a several-output upstream's outputs as one tuple (still one positional argument per upstream).

`@test` functions run after the main function with the outputs as positional arguments; a failing
assertion fails the block run with the assertion's message.
"""

from __future__ import annotations

import importlib.util
import inspect
import sys
import threading
import traceback
from collections.abc import Callable, Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

from weir.blocks.base import BlockRequest, BlockResult
from weir.blocks.decorators import BLOCK_GLOBALS, MAIN_ROLES, MARKER
from weir.compat import enter_block_context
from weir.errors import BlockExecutionError, BlockLoadError, BlockTestError


def execute_python_block(request: BlockRequest) -> BlockResult:
    """Run a Python block once and return its outputs.

    Raises:
        BlockLoadError: the file is missing, fails to import, or has no decorated main function.
        BlockExecutionError: the main function raised (the original is `__cause__`, its traceback
            is in the message's tail).
        BlockTestError: a `@test` function failed.
    """
    module = load_block_module(
        request.block_uuid,
        request.file_path,
        request.project_root,
        pipeline_uuid=request.pipeline_uuid,
        pipeline_run_id=request.pipeline_run_id,
    )
    main, tests = find_block_functions(module, request.block_uuid, request.file_path)
    arguments = [upstream.value for upstream in request.upstream]
    keywords = block_keywords(request)
    outputs = normalize_outputs(call_user_function(main, request.block_uuid, arguments, keywords))
    run_block_tests(tests, request.block_uuid, outputs, keywords)
    return BlockResult(outputs=outputs)


def load_block_module(
    block_uuid: str,
    file_path: Path,
    project_root: Path,
    *,
    pipeline_uuid: str | None = None,
    pipeline_run_id: int | None = None,
) -> ModuleType:
    """Import a block file as a fresh module with the decorators pre-bound.

    The project root is put on `sys.path` so `from utils.x import y` and Mage's
    `from default_repo.utils...` style imports of the project's own code work (modules of another
    project loaded earlier in this process are forgotten first, so two projects' `utils` never
    mix), and the thread is bound to the block's project, pipeline and run (`weir.compat`) so
    Mage's `mage_ai...` imports, `get_repo_path()` and `get_variable()` work.
    """
    if not file_path.is_file():
        raise BlockLoadError(block_uuid, f"code file not found: {file_path}")
    _ensure_importable(project_root)
    enter_block_context(
        project_root,
        block_uuid=block_uuid,
        pipeline_uuid=pipeline_uuid,
        pipeline_run_id=pipeline_run_id,
    )
    name = f"weir_block_{block_uuid.replace('/', '_').replace('-', '_')}"
    spec = importlib.util.spec_from_file_location(name, file_path)
    if spec is None or spec.loader is None:
        raise BlockLoadError(block_uuid, f"cannot load {file_path} as a Python module")
    module = importlib.util.module_from_spec(spec)
    module.__dict__.update(BLOCK_GLOBALS)
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        raise BlockLoadError(
            block_uuid, f"importing {file_path} raised {_summary(exc)}\n{_user_traceback(exc)}"
        ) from exc
    return module


def find_block_functions(
    module: ModuleType, block_uuid: str, file_path: Path
) -> tuple[Callable[..., Any], list[Callable[..., Any]]]:
    """Return the block's main function and its `@test` functions, in file order.

    Raises:
        BlockLoadError: no function carries a main decorator.
    """
    marked = [
        value
        for value in vars(module).values()
        if callable(value)
        and getattr(value, MARKER, None) is not None
        and getattr(value, "__module__", None) == module.__name__
    ]
    marked.sort(key=lambda function: function.__code__.co_firstlineno)
    mains = [f for f in marked if getattr(f, MARKER) in MAIN_ROLES]
    if not mains:
        roles = ", ".join(f"@{role}" for role in sorted(MAIN_ROLES))
        raise BlockLoadError(
            block_uuid, f"{file_path} has no function decorated with one of {roles}"
        )
    tests = [f for f in marked if getattr(f, MARKER) == "test"]
    return mains[0], tests


def block_keywords(request: BlockRequest) -> dict[str, Any]:
    """The keyword arguments a block function receives: variables, then the run's context."""
    execution_date = request.execution_date
    keywords: dict[str, Any] = dict(request.variables)
    keywords.update(
        execution_date=execution_date,
        ds=execution_date.strftime("%Y-%m-%d"),
        hr=execution_date.strftime("%H"),
        pipeline_uuid=request.pipeline_uuid,
        block_uuid=request.block_uuid,
        pipeline_run_id=request.pipeline_run_id,
        configuration=dict(request.configuration),
        logger=request.logger,
    )
    return keywords


def call_user_function(
    function: Callable[..., Any],
    block_uuid: str,
    arguments: list[Any],
    keywords: Mapping[str, Any],
) -> Any:
    """Call user code inside the error boundary: anything it raises becomes a BlockExecutionError.

    Weir's own errors pass through unchanged; `SystemExit` is caught too, since a block that
    calls `sys.exit()` must fail its block run, not end the engine.
    """
    positional, accepted = _fit_signature(function, block_uuid, arguments, keywords)
    try:
        return function(*positional, **accepted)
    except (BlockTestError, BlockLoadError):
        raise
    except (Exception, SystemExit) as exc:
        raise BlockExecutionError(
            block_uuid,
            f"{function.__name__}() raised {_summary(exc)}\n{_user_traceback(exc)}",
        ) from exc


def normalize_outputs(value: Any) -> tuple[Any, ...]:
    """Mage's rule: None -> no output, tuple -> one output per item, else one output."""
    if value is None:
        return ()
    if isinstance(value, tuple):
        return value
    return (value,)


def run_block_tests(
    tests: list[Callable[..., Any]],
    block_uuid: str,
    outputs: tuple[Any, ...],
    keywords: Mapping[str, Any],
) -> None:
    """Run each `@test` function with the outputs; the first failure fails the block.

    Raises:
        BlockTestError: with the test's name and assertion message.
    """
    for test_function in tests:
        positional, accepted = _fit_signature(test_function, block_uuid, list(outputs), keywords)
        try:
            test_function(*positional, **accepted)
        except AssertionError as exc:
            message = str(exc) or "assertion failed"
            raise BlockTestError(
                block_uuid, f"test {test_function.__name__}() failed: {message}"
            ) from exc
        except Exception as exc:
            raise BlockTestError(
                block_uuid, f"test {test_function.__name__}() raised {_summary(exc)}"
            ) from exc


def _fit_signature(
    function: Callable[..., Any],
    block_uuid: str,
    arguments: list[Any],
    keywords: Mapping[str, Any],
) -> tuple[list[Any], dict[str, Any]]:
    signature = inspect.signature(function)
    parameters = list(signature.parameters.values())
    takes_var_positional = any(p.kind is p.VAR_POSITIONAL for p in parameters)
    takes_var_keyword = any(p.kind is p.VAR_KEYWORD for p in parameters)
    positional_slots = [
        p for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
    ]
    if not takes_var_positional and len(arguments) > len(positional_slots):
        raise BlockExecutionError(
            block_uuid,
            f"{function.__name__}() takes {len(positional_slots)} positional argument(s) but gets "
            f"{len(arguments)} (one per upstream block); add parameters or *args",
        )
    if takes_var_keyword:
        return arguments, dict(keywords)
    named = {p.name for p in parameters[len(arguments) :] if p.kind is not p.VAR_POSITIONAL}
    return arguments, {key: value for key, value in keywords.items() if key in named}


_importable_roots: list[Path] = []
_importable_lock = threading.Lock()


def _ensure_importable(project_root: Path) -> None:
    # The root makes `utils.*` importable; its parent makes `<project_name>.utils.*` importable,
    # which is how Mage's generated code imports project modules.
    root = project_root.resolve()
    with _importable_lock:
        for other in [r for r in _importable_roots if r != root]:
            _forget_project(other)
        if root not in _importable_roots:
            _importable_roots.append(root)
        for folder in (str(root), str(root.parent)):
            if folder in sys.path:
                sys.path.remove(folder)
            sys.path.insert(0, folder)


def _forget_project(root: Path) -> None:
    """Drop another project's folders from sys.path and its modules from sys.modules."""
    _importable_roots.remove(root)
    for folder in (str(root), str(root.parent)):
        while folder in sys.path:
            sys.path.remove(folder)
    for name, module in list(sys.modules.items()):
        location = getattr(module, "__file__", None)
        if location and Path(location).is_relative_to(root):
            del sys.modules[name]


def _summary(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _user_traceback(exc: BaseException) -> str:
    # Drop the frames of this module so the traceback starts in the user's file.
    frames = traceback.extract_tb(exc.__traceback__)
    user_frames = [frame for frame in frames if frame.filename != __file__]
    lines = traceback.format_list(user_frames or frames)
    return "Traceback (most recent call last):\n" + "".join(lines) + _summary(exc)
