"""Mage's project layout: which folder holds which block type, and file extensions per language.

Source: Mage's `BLOCK_TYPE_DIRECTORY_NAME` and `BLOCK_LANGUAGE_TO_FILE_EXTENSION` (mage_ai.data_preparation
.models.constants). A block of type `transformer` and language `python` with uuid `clean` lives in
`transformers/clean.py`; a block uuid may contain `/` to point into a sub-folder.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

BLOCK_TYPE_FOLDERS: dict[str, str] = {
    "data_loader": "data_loaders",
    "transformer": "transformers",
    "data_exporter": "data_exporters",
    "custom": "custom",
    "sensor": "sensors",
    "callback": "callbacks",
    "conditional": "conditionals",
    "scratchpad": "scratchpads",
    "markdown": "markdowns",
    "dbt": "dbt",
    "extension": "extensions",
    "global_data_product": "global_data_products",
}

LANGUAGE_EXTENSIONS: dict[str, str] = {
    "python": "py",
    "sql": "sql",
    "r": "r",
    "yaml": "yaml",
    "markdown": "md",
}

PROJECT_FOLDERS: tuple[str, ...] = (
    "data_loaders",
    "transformers",
    "data_exporters",
    "custom",
    "sensors",
    "callbacks",
    "conditionals",
    "utils",
    "pipelines",
)

#: Block types that hold documentation or notebook scratch code and never run in a pipeline.
NON_EXECUTABLE_BLOCK_TYPES: frozenset[str] = frozenset({"markdown", "scratchpad"})


def block_file_path(
    project_root: Path,
    block_type: str,
    block_uuid: str,
    language: str,
    configuration: dict[str, Any] | None = None,
) -> Path:
    """Return where a block's code lives, following Mage's rules.

    Args:
        project_root: the project's folder.
        block_type: Mage block type, e.g. `transformer`.
        block_uuid: the block's uuid; may contain `/` for a sub-folder.
        language: `python`, `sql`, `r`, `yaml` or `markdown`.
        configuration: the block's `configuration`; Mage's `file_path` or `file_source.path` keys,
            relative to the project root, override the default location.

    Returns:
        The absolute path (the file may not exist).

    Raises:
        KeyError: the block type or language is unknown (callers turn it into a ConfigError).
    """
    configuration = configuration or {}
    file_source = configuration.get("file_source")
    explicit = configuration.get("file_path") or (
        file_source.get("path") if isinstance(file_source, dict) else None
    )
    if isinstance(explicit, str) and explicit:
        return _under_project(project_root, explicit)
    folder = BLOCK_TYPE_FOLDERS[block_type]
    extension = LANGUAGE_EXTENSIONS[language]
    return project_root / folder / f"{block_uuid}.{extension}"


def _under_project(project_root: Path, relative: str) -> Path:
    # Mage stores file_path either relative to the project or prefixed with the project's name.
    candidate = project_root / relative
    if candidate.exists():
        return candidate
    parts = Path(relative).parts
    if len(parts) > 1 and parts[0] == project_root.name:
        return project_root.joinpath(*parts[1:])
    return candidate
