"""The demo project: Chinook (SQLite) and Titanic (CSV) through Python and SQL blocks into DuckDB."""

from __future__ import annotations

import shutil
from pathlib import Path

from weir.errors import ConfigError

DEMO_TEMPLATE = Path(__file__).parent / "project"
DEMO_PIPELINE = "chinook_titanic"
DEMO_MARKER = "project_uuid: weir_demo"


def create_demo_project(path: str | Path) -> Path:
    """Copy the demo project to `path` (refreshing its code if it is already a demo project).

    Returns:
        The project's absolute root.

    Raises:
        ConfigError: `path` exists, is not empty and is not a Weir demo project.
    """
    root = Path(path).expanduser().resolve()
    metadata = root / "metadata.yaml"
    is_demo = metadata.is_file() and DEMO_MARKER in metadata.read_text(encoding="utf-8")
    if root.exists() and any(root.iterdir()) and not is_demo:
        raise ConfigError(
            f"cannot build the demo at {root}: the folder is not empty and not a demo project"
        )
    shutil.copytree(DEMO_TEMPLATE, root, dirs_exist_ok=True)
    return root
