"""The `mage_ai` import names, served by Weir's stand-ins without shipping a `mage_ai` package.

A Mage block file imports helpers unguarded (`from mage_ai.io.postgres import Postgres`), so it
could not run where Mage is not installed. `MageCompatFinder` sits at the end of `sys.meta_path`
and answers only for `mage_ai` and the modules in `SUPPORTED_MODULES`: each is built as a fresh
module named `mage_ai...` holding the public names (`__all__`) of the Weir module it maps to, so
`mage_ai.io.postgres.Postgres is weir.compat.mage.io.postgres.Postgres`.

- It is installed only when no real `mage_ai` is importable (`install_mage_compat`): with Mage
  installed, Mage's own modules are used. Being last on `sys.meta_path`, it also yields to a
  `mage_ai` that becomes importable later (unless a stand-in was already imported).
- Any other `mage_ai.x` raises `ModuleNotFoundError` naming the module and listing the supported
  ones, so a block using a part of Mage Weir does not implement fails at import with a clear reason.
- Targets are named, not imported, here: this module is imported by `weir.blocks` and must stay
  a leaf (stdlib only); the stand-ins are imported when a block first imports them.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys
import threading
from collections.abc import Mapping, Sequence
from types import MappingProxyType, ModuleType

__all__ = [
    "SUPPORTED_MODULES",
    "MageCompatFinder",
    "install_mage_compat",
    "mage_compat_installed",
    "uninstall_mage_compat",
]

_ROOT = "mage_ai"
_STAND_INS = "weir.compat.mage"

SUPPORTED_MODULES: Mapping[str, str] = MappingProxyType(
    {
        "mage_ai": f"{_STAND_INS}",
        "mage_ai.data_preparation": f"{_STAND_INS}.data_preparation",
        "mage_ai.data_preparation.decorators": f"{_STAND_INS}.data_preparation.decorators",
        "mage_ai.data_preparation.repo_manager": f"{_STAND_INS}.settings.repo",
        "mage_ai.data_preparation.variable_manager": (
            f"{_STAND_INS}.data_preparation.variable_manager"
        ),
        "mage_ai.io": f"{_STAND_INS}.io",
        "mage_ai.io.base": f"{_STAND_INS}.io.base",
        "mage_ai.io.config": f"{_STAND_INS}.io.config",
        "mage_ai.io.duckdb": f"{_STAND_INS}.io.duckdb",
        "mage_ai.io.file": f"{_STAND_INS}.io.file",
        "mage_ai.io.io_config": f"{_STAND_INS}.io.io_config",
        "mage_ai.io.mysql": f"{_STAND_INS}.io.mysql",
        "mage_ai.io.postgres": f"{_STAND_INS}.io.postgres",
        "mage_ai.io.sql": f"{_STAND_INS}.io.sql",
        "mage_ai.settings": f"{_STAND_INS}.settings",
        "mage_ai.settings.repo": f"{_STAND_INS}.settings.repo",
    }
)
"""`mage_ai` module name -> the Weir module whose `__all__` it exposes."""

_PACKAGES = frozenset({"mage_ai", "mage_ai.data_preparation", "mage_ai.io", "mage_ai.settings"})
_TARGET_ATTRIBUTE = "__weir_module__"


def unsupported_message(fullname: str) -> str:
    """The reason an unsupported `mage_ai` module cannot be imported.

    Args:
        fullname: the dotted module name asked for, e.g. `mage_ai.io.bigquery`.

    Returns:
        A message naming the module, the supported ones and what to do.
    """
    supported = ", ".join(name for name in sorted(SUPPORTED_MODULES) if name not in _PACKAGES)
    return (
        f"No module named '{fullname}': Mage is not installed, and Weir supports only these "
        f"mage_ai modules: {supported}. Replace the import, or install mage-ai next to Weir "
        "(Weir then leaves every mage_ai import to it)."
    )


class _StandInLoader(importlib.abc.Loader):
    """Fills a fresh `mage_ai...` module with the public names of one Weir module."""

    def __init__(self, target: str) -> None:
        self.target = target

    def exec_module(self, module: ModuleType) -> None:
        """Copy the target's `__all__` names into `module`.

        Raises:
            ImportError: the target module has no `__all__` (a Weir bug: every stand-in
                declares what it exposes).
        """
        target = importlib.import_module(self.target)
        names: Sequence[str] | None = getattr(target, "__all__", None)
        if names is None:
            raise ImportError(f"{self.target} declares no __all__", name=module.__name__)
        for name in names:
            setattr(module, name, getattr(target, name))
        module.__all__ = list(names)  # type: ignore[attr-defined]
        module.__doc__ = target.__doc__
        setattr(module, _TARGET_ATTRIBUTE, self.target)


class MageCompatFinder(importlib.abc.MetaPathFinder):
    """Serves `mage_ai` and `SUPPORTED_MODULES` from Weir; refuses other `mage_ai.*` names."""

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None,
        target: ModuleType | None = None,
    ) -> importlib.machinery.ModuleSpec | None:
        """Return a spec for a supported `mage_ai` module; None for every other package.

        Raises:
            ModuleNotFoundError: `fullname` is under `mage_ai` but not supported; the message
                names it and lists the supported modules.
        """
        if fullname != _ROOT and not fullname.startswith(_ROOT + "."):
            return None
        stand_in = SUPPORTED_MODULES.get(fullname)
        if stand_in is None:
            raise ModuleNotFoundError(unsupported_message(fullname), name=fullname)
        return importlib.util.spec_from_loader(
            fullname, _StandInLoader(stand_in), is_package=fullname in _PACKAGES
        )


_FINDER = MageCompatFinder()
_LOCK = threading.Lock()


def mage_compat_installed() -> bool:
    """Whether Weir's `mage_ai` finder is on `sys.meta_path` in this process."""
    return _FINDER in sys.meta_path


def install_mage_compat() -> bool:
    """Make `import mage_ai...` work with Weir's stand-ins, unless a real `mage_ai` exists.

    Idempotent and thread-safe; cheap once installed (the engine calls it for every block load).

    Returns:
        True when Weir's finder is installed (now or before), False when a real `mage_ai` is
        importable and is left to serve every `mage_ai` import.
    """
    if mage_compat_installed():
        return True
    with _LOCK:
        if mage_compat_installed():
            return True
        if _real_mage_importable():
            return False
        sys.meta_path.append(_FINDER)
        return True


def uninstall_mage_compat() -> None:
    """Remove the finder and forget the `mage_ai` modules it built (for tests and embedding)."""
    with _LOCK:
        while _FINDER in sys.meta_path:
            sys.meta_path.remove(_FINDER)
        for name, module in list(sys.modules.items()):
            if _is_root_or_child(name) and hasattr(module, _TARGET_ATTRIBUTE):
                del sys.modules[name]


def _is_root_or_child(name: str) -> bool:
    return name == _ROOT or name.startswith(_ROOT + ".")


def _real_mage_importable() -> bool:
    loaded = sys.modules.get(_ROOT)
    if loaded is not None:
        return not hasattr(loaded, _TARGET_ATTRIBUTE)
    try:
        return importlib.util.find_spec(_ROOT) is not None
    except (ImportError, ValueError):
        return False
