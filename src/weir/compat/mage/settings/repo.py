"""Stand-in for `mage_ai.settings.repo` (and the older `mage_ai.data_preparation.repo_manager`).

`get_repo_path()` is the folder of the project the calling block belongs to (see
`weir.compat.context`), not Mage's process-wide `MAGE_REPO_PATH`, so blocks of different projects
running at once each get their own. Weir has no multi-project platform: `root_project`, `user`
and `file_path` are accepted and do not change the answer.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from weir.compat.context import current_project_root
from weir.project.project import PROJECT_METADATA_FILE, load_project

__all__ = ["get_metadata_path", "get_repo_name", "get_repo_path", "get_variables_dir"]


def get_repo_path(
    file_path: str | None = None,
    root_project: bool = False,
    absolute_path: bool = True,
    user: Any = None,
) -> str:
    """The running block's project folder, as Mage's `get_repo_path`.

    Args:
        file_path: accepted for Mage's signature (multi-project lookup); ignored.
        root_project: accepted for Mage's signature; Weir has one project per run.
        absolute_path: True for the absolute path; False for the path relative to the
            project's parent folder, i.e. the project folder's name (Mage's relative form).
        user: accepted for Mage's signature; ignored.

    Returns:
        The project folder as a string (Mage returns `str`).
    """
    root = current_project_root()
    return str(root) if absolute_path else root.name


def get_repo_name(repo_path: str | None = None, root_project: bool = False) -> str:
    """The project's name: its folder's name.

    Args:
        repo_path: a project folder; default the running block's project.
        root_project: accepted for Mage's signature; ignored.

    Returns:
        The folder's name.
    """
    return Path(repo_path).name if repo_path else current_project_root().name


def get_metadata_path(root_project: bool = False) -> str:
    """Path of the running block's project `metadata.yaml`.

    Args:
        root_project: accepted for Mage's signature; ignored.

    Returns:
        `<project>/metadata.yaml`.
    """
    return str(current_project_root() / PROJECT_METADATA_FILE)


def get_variables_dir(
    repo_path: str | None = None,
    repo_config: dict[str, Any] | None = None,
    root_project: bool = False,
) -> str:
    """Where the project keeps run data: Weir's data directory (Mage's "variables dir").

    Weir resolves it as `weir.project.project.resolve_data_dir` does: `WEIR_DATA_DIR`, else
    Mage's `variables_dir` from metadata.yaml plus the project name, else `<project>/.weir`.
    Weir's layout inside it differs from Mage's; read block outputs with `get_variable`.

    Args:
        repo_path: a project folder; default the running block's project.
        repo_config: accepted for Mage's signature; the project's metadata.yaml is read instead.
        root_project: accepted for Mage's signature; ignored.

    Returns:
        The data directory's absolute path.

    Raises:
        ProjectNotFoundError: the folder holds no project.
        ConfigError: the project's metadata.yaml is malformed.
    """
    root = Path(repo_path) if repo_path else current_project_root()
    return str(load_project(root).data_dir)
