"""A Weir project: a folder in Mage's layout holding the code and configuration of many pipelines."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from weir.errors import ProjectNotFoundError
from weir.project.yaml_files import read_yaml_mapping

PROJECT_METADATA_FILE = "metadata.yaml"
IO_CONFIG_FILE = "io_config.yaml"
DATA_DIR_ENV = "WEIR_DATA_DIR"
DEFAULT_DATA_DIR_NAME = ".weir"


@dataclass(frozen=True, slots=True)
class Project:
    """A loaded project.

    Attributes:
        root: the project folder (absolute).
        settings: the project's `metadata.yaml` (Mage keys such as `project_uuid`, `variables_dir`).
        data_dir: where run records, data products and logs go (see `resolve_data_dir`).
    """

    root: Path
    settings: dict[str, Any] = field(default_factory=dict)
    data_dir: Path = Path()

    @property
    def name(self) -> str:
        """The project's name: its folder's name, as in Mage."""
        return self.root.name

    @property
    def pipelines_dir(self) -> Path:
        """The `pipelines/` folder."""
        return self.root / "pipelines"

    @property
    def io_config_path(self) -> Path:
        """The `io_config.yaml` file of connection profiles."""
        return self.root / IO_CONFIG_FILE

    def pipeline_dir(self, pipeline_uuid: str) -> Path:
        """The folder of one pipeline: `pipelines/<uuid>/`."""
        return self.pipelines_dir / pipeline_uuid

    def pipeline_uuids(self) -> list[str]:
        """Uuids of the pipelines in the project (folders with a metadata.yaml), sorted."""
        if not self.pipelines_dir.is_dir():
            return []
        return sorted(
            entry.name
            for entry in self.pipelines_dir.iterdir()
            if (entry / PROJECT_METADATA_FILE).is_file()
        )


def load_project(path: str | Path) -> Project:
    """Load the project at `path`.

    Args:
        path: the project folder, or any folder inside it (the nearest ancestor with a
            `metadata.yaml` next to a `pipelines/` folder is taken, as `git` finds its repository).

    Returns:
        The project with its settings and data directory resolved.

    Raises:
        ProjectNotFoundError: no project at or above `path`; says how to create one.
        ConfigError: the project's `metadata.yaml` is malformed.
    """
    start = Path(path).expanduser().resolve()
    root = _find_root(start)
    settings = read_yaml_mapping(root / PROJECT_METADATA_FILE, what="project metadata")
    return Project(root=root, settings=settings, data_dir=resolve_data_dir(root, settings))


def resolve_data_dir(root: Path, settings: dict[str, Any]) -> Path:
    """Where a project's runs, data products and logs are kept.

    Order: the `WEIR_DATA_DIR` environment variable; else Mage's `variables_dir` from the project's
    metadata.yaml, to which the project name is appended as Mage does (`~/.mage_data/<project>`);
    else `<project>/.weir`.
    """
    from_env = os.environ.get(DATA_DIR_ENV)
    if from_env:
        return Path(from_env).expanduser().resolve()
    variables_dir = settings.get("variables_dir")
    if isinstance(variables_dir, str) and variables_dir.strip():
        base = Path(os.path.expandvars(variables_dir)).expanduser()
        if not base.is_absolute():
            base = root / base
        return (base / root.name).resolve()
    return root / DEFAULT_DATA_DIR_NAME


def _find_root(start: Path) -> Path:
    for candidate in (start, *start.parents):
        if (candidate / PROJECT_METADATA_FILE).is_file() and (candidate / "pipelines").is_dir():
            return candidate
    if not start.exists():
        raise ProjectNotFoundError(f"no such folder: {start}")
    raise ProjectNotFoundError(
        f"no Weir/Mage project at {start} or above it (a project has a metadata.yaml and a "
        f"pipelines/ folder); create one with: weir init {start}"
    )
