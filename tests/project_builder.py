"""Build small Mage-format projects on disk for tests."""

from __future__ import annotations

import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

FOLDERS = {
    "data_loader": "data_loaders",
    "transformer": "transformers",
    "data_exporter": "data_exporters",
    "custom": "custom",
    "sensor": "sensors",
}


@dataclass
class BlockDef:
    uuid: str
    code: str
    type: str = "transformer"
    language: str = "python"
    upstream: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)


def write_project(
    root: Path, pipeline_uuid: str, blocks: list[BlockDef], **pipeline_keys: Any
) -> Path:
    """Write a project with one pipeline; returns the project root."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "metadata.yaml").write_text("project_type: standalone\n")
    for folder in (*FOLDERS.values(), "utils", "pipelines"):
        (root / folder).mkdir(exist_ok=True)
    entries = []
    for block in blocks:
        extension = {"python": "py", "sql": "sql"}[block.language]
        path = root / FOLDERS[block.type] / f"{block.uuid}.{extension}"
        path.write_text(textwrap.dedent(block.code))
        downstream = [b.uuid for b in blocks if block.uuid in b.upstream]
        entries.append(
            {
                "uuid": block.uuid,
                "type": block.type,
                "language": block.language,
                "upstream_blocks": block.upstream,
                "downstream_blocks": downstream,
                **block.extra,
            }
        )
    metadata = {"uuid": pipeline_uuid, "type": "python", "blocks": entries, **pipeline_keys}
    pipeline_dir = root / "pipelines" / pipeline_uuid
    pipeline_dir.mkdir(parents=True, exist_ok=True)
    (pipeline_dir / "metadata.yaml").write_text(yaml.safe_dump(metadata, sort_keys=False))
    return root
