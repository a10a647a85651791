"""Reading YAML project files with errors that name the file and line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from weir.errors import ConfigError


def read_yaml_mapping(path: Path, *, what: str) -> dict[str, Any]:
    """Read a YAML file whose top level must be a mapping.

    Args:
        path: the file.
        what: a few words saying what the file is, for error messages ("pipeline metadata").

    Returns:
        The parsed mapping; an empty file gives `{}`.

    Raises:
        ConfigError: the file is missing, unreadable, not valid YAML (with line and column), or its
            top level is not a mapping.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{what} file not found: {path}") from None
    except OSError as exc:
        raise ConfigError(f"cannot read {what} file {path}: {exc}") from exc
    try:
        data = yaml.load(text, Loader=_loader())
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"malformed YAML in {path}{where}: {problem}") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(
            f"{path}: the top level must be a mapping of keys, got {type(data).__name__}"
        )
    return data


def write_yaml_mapping(path: Path, data: dict[str, Any]) -> None:
    """Write a mapping as block-style YAML in key order, atomically (temp file then rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(
        yaml.safe_dump(data, sort_keys=False, default_flow_style=False, allow_unicode=True),
        encoding="utf-8",
    )
    temporary.replace(path)


def _loader() -> type[yaml.SafeLoader]:
    # libyaml's C loader is ~10x faster where available.
    return getattr(yaml, "CSafeLoader", yaml.SafeLoader)
