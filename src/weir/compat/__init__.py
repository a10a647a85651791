"""Run Mage block files unchanged: the `mage_ai` names they import, implemented on Weir's parts.

```
enter_block_context(project_root)      # the engine, when it loads a block module:
                                       #   installs the finder, binds the block's project
import mage_ai.io.postgres             # -> weir.compat.mage.io.postgres (see finder.SUPPORTED_MODULES)
```

- `finder`: the `sys.meta_path` finder serving `mage_ai.*` from `weir.compat.mage`, installed
  only when no real `mage_ai` is importable; an unsupported `mage_ai.x` fails naming it.
- `context`: which project (and run) the running block belongs to, per thread/context, for
  `get_repo_path()` and relative paths.
- `mage`: the stand-ins (`settings.repo`, `io.config`, `io.postgres`, `io.mysql`, `io.duckdb`,
  `io.file`, `data_preparation.variable_manager`, ...). They are imported only when a block
  imports them; importing this package imports neither them nor any database driver.
"""

from weir.compat.context import (
    BlockContext,
    block_context,
    current_block_context,
    current_project_root,
    enter_block_context,
)
from weir.compat.finder import (
    SUPPORTED_MODULES,
    MageCompatFinder,
    install_mage_compat,
    mage_compat_installed,
    uninstall_mage_compat,
)

__all__ = [
    "SUPPORTED_MODULES",
    "BlockContext",
    "MageCompatFinder",
    "block_context",
    "current_block_context",
    "current_project_root",
    "enter_block_context",
    "install_mage_compat",
    "mage_compat_installed",
    "uninstall_mage_compat",
]
