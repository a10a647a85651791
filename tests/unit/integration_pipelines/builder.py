"""Write integration pipelines in Mage's format for tests."""

from __future__ import annotations

import json
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml


@dataclass
class Transformer:
    uuid: str
    code: str
    configuration: dict[str, Any] = field(default_factory=dict)


def _block_text(kind: str, name: str, config: dict[str, Any] | str) -> str:
    if isinstance(config, str):
        return textwrap.dedent(config)
    return yaml.safe_dump({kind: name, "config": config}, sort_keys=False)


def write_integration_project(
    root: Path,
    pipeline_uuid: str,
    *,
    source: tuple[str, dict[str, Any] | str],
    destination: tuple[str, dict[str, Any] | str],
    transformers: list[Transformer] | None = None,
    catalog: dict[str, Any] | None = None,
    loader_uuid: str = "source",
    exporter_uuid: str = "destination",
    pipeline_keys: dict[str, Any] | None = None,
) -> Path:
    """A project with one `type: integration` pipeline: loader -> transformers -> exporter.

    `source`/`destination` are (name, config mapping) or (ignored, whole YAML text).
    `catalog` is written as the catalog file in Mage's shape when given.
    """
    transformers = transformers or []
    root.mkdir(parents=True, exist_ok=True)
    (root / "metadata.yaml").write_text("project_type: standalone\n")
    for folder in ("data_loaders", "transformers", "data_exporters", "pipelines"):
        (root / folder).mkdir(exist_ok=True)
    (root / "data_loaders" / f"{loader_uuid}.yaml").write_text(_block_text("source", *source))
    (root / "data_exporters" / f"{exporter_uuid}.yaml").write_text(
        _block_text("destination", *destination)
    )
    chain = [loader_uuid, *(t.uuid for t in transformers), exporter_uuid]
    blocks = []
    for index, uuid in enumerate(chain):
        kind = (
            "data_loader"
            if index == 0
            else "data_exporter"
            if index == len(chain) - 1
            else "transformer"
        )
        block: dict[str, Any] = {
            "uuid": uuid,
            "type": kind,
            "language": "python" if kind == "transformer" else "yaml",
            "upstream_blocks": chain[index - 1 : index],
            "downstream_blocks": chain[index + 1 : index + 2],
        }
        if kind == "transformer":
            spec = transformers[index - 1]
            (root / "transformers" / f"{uuid}.py").write_text(textwrap.dedent(spec.code))
            block["configuration"] = spec.configuration
        blocks.append(block)
    pipeline_dir = root / "pipelines" / pipeline_uuid
    pipeline_dir.mkdir(parents=True, exist_ok=True)
    metadata = {"uuid": pipeline_uuid, "type": "integration", "blocks": blocks}
    metadata.update(pipeline_keys or {})
    (pipeline_dir / "metadata.yaml").write_text(yaml.safe_dump(metadata, sort_keys=False))
    if catalog is not None:
        (pipeline_dir / "data_integration_catalog.json").write_text(
            json.dumps({"catalog": catalog}, indent=2)
        )
    return root


def catalog_file(root: Path, pipeline_uuid: str) -> Path:
    return root / "pipelines" / pipeline_uuid / "data_integration_catalog.json"


def read_catalog(root: Path, pipeline_uuid: str) -> dict[str, Any]:
    return json.loads(catalog_file(root, pipeline_uuid).read_text())["catalog"]


def edit_stream(root: Path, pipeline_uuid: str, stream: str, **keys: Any) -> None:
    """Set top-level keys of one stream in the catalog file (e.g. replication settings)."""
    path = catalog_file(root, pipeline_uuid)
    document = json.loads(path.read_text())
    for entry in document["catalog"]["streams"]:
        if entry["tap_stream_id"] == stream:
            entry.update(keys)
            break
    else:
        raise KeyError(stream)
    path.write_text(json.dumps(document, indent=2))
