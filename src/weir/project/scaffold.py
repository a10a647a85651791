"""`weir init`: create a project in Mage's layout from the packaged template."""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path

from weir.errors import ConfigError
from weir.project.layout import PROJECT_FOLDERS

TEMPLATE = Path(__file__).parent / "templates" / "new_project"


def create_project(path: str | Path) -> Path:
    """Create a project at `path` with an example pipeline, and return its absolute root.

    The layout is Mage's: `metadata.yaml`, `io_config.yaml` (Jinja-rendered connection profiles),
    `requirements.txt`, the block folders, `utils/` and `pipelines/example_pipeline/`.

    Raises:
        ConfigError: `path` exists and is not an empty folder (nothing is overwritten).
    """
    root = Path(path).expanduser().resolve()
    if root.exists() and (not root.is_dir() or any(root.iterdir())):
        raise ConfigError(f"cannot create a project at {root}: it exists and is not empty")
    shutil.copytree(TEMPLATE, root, dirs_exist_ok=True)
    for folder in PROJECT_FOLDERS:
        (root / folder).mkdir(exist_ok=True)
    metadata = root / "metadata.yaml"
    metadata.write_text(
        metadata.read_text(encoding="utf-8").replace("__PROJECT_UUID__", uuid.uuid4().hex),
        encoding="utf-8",
    )
    return root
