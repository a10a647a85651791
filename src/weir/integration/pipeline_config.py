"""An integration pipeline in Mage's format: its YAML blocks, its catalog file, both rendered.

An integration pipeline is a pipeline whose `metadata.yaml` says `type: integration`. Its blocks:

- one `data_loader` block with `language: yaml`; its file `data_loaders/<uuid>.yaml` holds
  `source: <name>` and `config: {...}` (see `weir.integration.registry` for names and keys);
- one `data_exporter` block with `language: yaml`; `data_exporters/<uuid>.yaml` holds
  `destination: <name>` and `config: {...}`;
- any number of Python `transformer` blocks, applied to every batch of every stream in the
  pipeline's topological order (see `weir.integration.transform`).

Each YAML file is rendered with Jinja before it is parsed, as Mage does
(`mage_ai.data_integrations.utils.config.interpolate_variables`), with `{{ env_var('NAME') }}`,
`{{ variables('name') }}` (both take an optional fallback as a second argument) and
`{{ n_days_ago(n) }}` (the UTC date n days ago, `YYYY-MM-DD`). Where Weir differs, on purpose:
Mage renders a missing environment variable or variable as `None` and connects with it; Weir
fails, naming the variable and the file. YAML dates stay text, as with Mage's loader.

The source's `batch_fetch_limit` (Mage's key; rows per batch, Mage's default 50,000) sets the
sync's `batch_size_rows`, which also bounds the rows per committed transaction; without it Weir
uses `weir.integration.sync.DEFAULT_BATCH_SIZE_ROWS`.

The catalog lives in `pipelines/<uuid>/data_integration_catalog.json`. Mage writes that file as
the pipeline's `data_integration` value, `{"catalog": {"streams": [...]}}`; Weir reads that shape
and the bare `{"streams": [...]}`, and writes Mage's shape, other top-level keys kept (the
catalog model does both: `Catalog.load`, `Catalog.dump`). An
older Mage project may instead hold the catalog inline under `catalog:` in the data loader's
YAML file; as in Mage, an inline catalog wins over the file. Jinja in the catalog file is not
rendered (Mage renders it; Weir reads it as plain JSON).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jinja2
import yaml

from weir.errors import ConfigError, PipelineValidationError
from weir.integration.singer import Catalog, CatalogEntry, MetadataEntry
from weir.integration.sync import DEFAULT_BATCH_SIZE_ROWS
from weir.pipeline.pipeline import Pipeline
from weir.project.project import Project

__all__ = [
    "BATCH_FETCH_LIMIT_KEY",
    "CATALOG_FILE_NAME",
    "ConnectorBlock",
    "IntegrationPipelineConfig",
    "catalog_path",
    "load_integration_config",
    "load_pipeline_catalog",
    "merge_discovered",
    "read_catalog_file",
    "render_block_file",
    "write_catalog_file",
]

CATALOG_FILE_NAME = "data_integration_catalog.json"
BATCH_FETCH_LIMIT_KEY = "batch_fetch_limit"
_NOT_GIVEN: Any = object()


@dataclass(frozen=True, slots=True)
class ConnectorBlock:
    """A data loader or data exporter YAML block, rendered.

    Attributes:
        block_uuid: the block's uuid.
        file_path: its YAML file.
        name: the `source:` or `destination:` value, e.g. `postgresql`.
        config: the rendered `config:` mapping (without `batch_fetch_limit`).
        settings: the whole rendered file (e.g. an inline `catalog:`).
    """

    block_uuid: str
    file_path: Path
    name: str
    config: Mapping[str, Any]
    settings: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class IntegrationPipelineConfig:
    """Everything an integration run or a discovery needs from the project files.

    Attributes:
        project: the project.
        pipeline: the loaded pipeline.
        source: the data loader block.
        destination: the data exporter block.
        transformers: the transformer blocks' uuids, in the order they apply.
        batch_size_rows: rows per batch and per committed transaction (>= 1).
    """

    project: Project
    pipeline: Pipeline
    source: ConnectorBlock
    destination: ConnectorBlock
    transformers: tuple[str, ...]
    batch_size_rows: int

    @property
    def catalog_path(self) -> Path:
        """`pipelines/<uuid>/data_integration_catalog.json`."""
        return catalog_path(self.project, self.pipeline.uuid)

    @property
    def block_order(self) -> tuple[str, ...]:
        """Source, transformers, destination: the order data flows through the blocks."""
        return (self.source.block_uuid, *self.transformers, self.destination.block_uuid)


def catalog_path(project: Project, pipeline_uuid: str) -> Path:
    """Where a pipeline's catalog file is: `pipelines/<uuid>/data_integration_catalog.json`."""
    return project.pipeline_dir(pipeline_uuid) / CATALOG_FILE_NAME


def load_integration_config(
    project: Project, pipeline: Pipeline, variables: Mapping[str, Any]
) -> IntegrationPipelineConfig:
    """Check an integration pipeline's blocks and render its two YAML blocks.

    Args:
        project: the project.
        pipeline: the pipeline; its `type` must be `integration`.
        variables: the run's variables, for `{{ variables('name') }}`.

    Returns:
        The rendered configuration.

    Raises:
        PipelineValidationError: the pipeline is not of type integration, or its blocks are not
            one YAML data loader, one YAML data exporter and Python transformers.
        ConfigError: a YAML file is missing, its Jinja or YAML is malformed, a variable it
            uses is not set, or `source`/`destination`/`config`/`batch_fetch_limit` is wrong.
    """
    if pipeline.spec.type != "integration":
        raise PipelineValidationError(
            f"{pipeline.metadata_path}: key 'type' is '{pipeline.spec.type}'; an integration "
            "pipeline needs 'type: integration'"
        )
    loaders, transformers, exporters = _blocks_by_role(pipeline)
    source = _connector_block(pipeline, loaders[0], "source", variables)
    destination = _connector_block(pipeline, exporters[0], "destination", variables)
    config = dict(source.config)
    batch_size = _batch_size(config.pop(BATCH_FETCH_LIMIT_KEY, None), source.file_path)
    return IntegrationPipelineConfig(
        project=project,
        pipeline=pipeline,
        source=replace(source, config=config),
        destination=destination,
        transformers=tuple(transformers),
        batch_size_rows=batch_size,
    )


def _blocks_by_role(pipeline: Pipeline) -> tuple[list[str], list[str], list[str]]:
    roles: dict[str, list[str]] = {"data_loader": [], "transformer": [], "data_exporter": []}
    for uuid in pipeline.dag.blocks:
        spec = pipeline.block(uuid)
        expected = "python" if spec.type == "transformer" else "yaml"
        if spec.type not in roles or spec.language != expected:
            raise PipelineValidationError(
                f"{pipeline.metadata_path}: block '{uuid}' is a {spec.language} {spec.type}; an "
                "integration pipeline holds one yaml data_loader, one yaml data_exporter and "
                "python transformers"
            )
        roles[spec.type].append(uuid)
    for role in ("data_loader", "data_exporter"):
        if len(roles[role]) != 1:
            raise PipelineValidationError(
                f"{pipeline.metadata_path}: an integration pipeline needs exactly one yaml "
                f"{role} block, found {len(roles[role])} ({', '.join(roles[role]) or 'none'})"
            )
    return roles["data_loader"], roles["transformer"], roles["data_exporter"]


def _connector_block(
    pipeline: Pipeline, uuid: str, key: str, variables: Mapping[str, Any]
) -> ConnectorBlock:
    path = pipeline.block_files[uuid]
    settings = render_block_file(path, variables)
    name = settings.get(key)
    if not isinstance(name, str) or not name:
        raise ConfigError(f"{path}: key '{key}' is missing; name the {key}, e.g. 'postgresql'")
    config = settings.get("config") or {}
    if not isinstance(config, Mapping):
        raise ConfigError(f"{path}: key 'config' must be a mapping of settings")
    return ConnectorBlock(uuid, path, name, dict(config), settings)


def _batch_size(value: Any, path: Path) -> int:
    if value is None or value == "":
        return DEFAULT_BATCH_SIZE_ROWS
    try:
        size = int(value)
    except (TypeError, ValueError):
        size = 0
    if isinstance(value, bool) or size < 1:
        raise ConfigError(
            f"{path}: config key '{BATCH_FETCH_LIMIT_KEY}' must be a whole number >= 1, "
            f"got {value!r}"
        )
    return size


def render_block_file(path: Path, variables: Mapping[str, Any]) -> dict[str, Any]:
    """Render a YAML block file with Jinja, then parse it (see the module docstring).

    Args:
        path: the file.
        variables: values for `{{ variables('name') }}`.

    Returns:
        The parsed top-level mapping.

    Raises:
        ConfigError: the file is missing, the template is malformed or uses something unset,
            the YAML is malformed, or its top level is not a mapping. Messages name the file.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read block file {path}: {exc}") from exc
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    env.globals.update(_template_functions(path, variables))
    try:
        rendered = env.from_string(text).render()
    except jinja2.TemplateSyntaxError as exc:
        raise ConfigError(f"{path}, line {exc.lineno}: bad Jinja template: {exc}") from exc
    except _TemplateValueError as exc:
        raise ConfigError(f"{path}: {exc}") from exc
    except jinja2.UndefinedError as exc:
        raise ConfigError(
            f"{path}: {exc} (known: env_var, variables, n_days_ago); check the spelling"
        ) from exc
    try:
        data = yaml.load(rendered, Loader=_NoDatesLoader)  # a SafeLoader subclass
    except yaml.YAMLError as exc:
        raise ConfigError(f"malformed YAML in {path} (after Jinja rendering): {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of keys")
    return data


class _NoDatesLoader(yaml.SafeLoader):
    """SafeLoader that keeps dates and timestamps as text (Mage's NoDatesSafeLoader)."""


_NoDatesLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


class _TemplateValueError(jinja2.UndefinedError):
    """A template function was asked for something that is not set."""


def _template_functions(path: Path, variables: Mapping[str, Any]) -> dict[str, Any]:
    def env_var(name: str, default: Any = _NOT_GIVEN) -> Any:
        if name in os.environ:
            return os.environ[name]
        if default is not _NOT_GIVEN:
            return default
        raise _TemplateValueError(
            f"environment variable '{name}' is not set; set it or give a fallback: "
            f"env_var('{name}', 'value')"
        )

    def variables_(name: str, default: Any = _NOT_GIVEN) -> Any:
        if name in variables:
            return variables[name]
        if default is not _NOT_GIVEN:
            return default
        raise _TemplateValueError(
            f"variable '{name}' is not set for this run; pass --vars {name}=... or give a "
            f"fallback: variables('{name}', 'value')"
        )

    def n_days_ago(days: int) -> str:
        return (datetime.now(UTC) - timedelta(days=int(days))).strftime("%Y-%m-%d")

    return {"env_var": env_var, "variables": variables_, "n_days_ago": n_days_ago}


# -- the catalog ---------------------------------------------------------------------------------
def read_catalog_file(path: Path) -> Catalog | None:
    """Read a catalog file in Mage's shape or the bare Singer shape; None when it is absent.

    Raises:
        ConfigError: the file cannot be read, is not JSON, or not a catalog; the message names
            the file.
    """
    try:
        return Catalog.load(path)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ConfigError(f"cannot read catalog file {path}: {exc}") from exc
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc


def write_catalog_file(path: Path, catalog: Catalog) -> None:
    """Write a catalog file in Mage's shape, `{"catalog": {"streams": [...]}}`, atomically.

    Other top-level keys of an existing file in Mage's shape are kept (see `Catalog.dump`).

    Raises:
        ConfigError: the file cannot be written.
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        catalog.dump(path)
    except OSError as exc:
        raise ConfigError(f"cannot write catalog file {path}: {exc}") from exc


def load_pipeline_catalog(config: IntegrationPipelineConfig) -> Catalog:
    """The pipeline's catalog: the loader's inline `catalog:` if any (Mage's rule), else the file.

    Raises:
        ConfigError: there is no catalog (run discovery first), or it is malformed.
    """
    inline = config.source.settings.get("catalog")
    if inline is not None:
        try:
            return Catalog.from_dict(inline)
        except ValueError as exc:
            where = config.source.file_path
            raise ConfigError(f"{where}: key 'catalog' is not a valid catalog: {exc}") from exc
    catalog = read_catalog_file(config.catalog_path)
    if catalog is None:
        project, pipeline = config.project.root, config.pipeline.uuid
        raise ConfigError(
            f"pipeline '{pipeline}' has no catalog ({config.catalog_path} not found); create it "
            f"with: weir integration discover {project} {pipeline}"
        )
    return catalog


def merge_discovered(existing: Catalog | None, discovered: Catalog) -> Catalog:
    """Merge a fresh discovery into an existing catalog.

    Streams the discovery did not describe stay as they are. A discovered stream new to the
    catalog is added as discovered (not selected). For a stream already in the catalog, the
    schema and field metadata come from the discovery and the user's settings are kept: the
    stream's selection and root metadata keys the discovery does not set, each known field's
    `selected`, the top-level replication settings (`replication_method`, `replication_key`,
    `key_properties` when set, `unique_conflict_method`, `unique_constraints`,
    `bookmark_properties`, `auto_add_new_fields`) and every other key (e.g. Mage's
    `destination_table`). A field new to a known stream is selected only when the stream has
    `auto_add_new_fields: true`, so a discovery never silently widens a sync.

    Args:
        existing: the catalog in the file, or None.
        discovered: what the source describes now.

    Returns:
        The merged catalog: existing streams in their order, then new ones.
    """
    merged = existing or Catalog()
    for live in discovered.streams:
        try:
            old = merged.get(live.tap_stream_id)
        except KeyError:
            merged = merged.replace_entry(live)
            continue
        merged = merged.replace_entry(_merge_entry(old, live))
    return merged


def _merge_entry(old: CatalogEntry, live: CatalogEntry) -> CatalogEntry:
    root = {**old.field_metadata(), **live.field_metadata()}
    for key in ("selected", "replication-method", "replication-key"):
        if key in old.field_metadata():
            root[key] = old.field_metadata()[key]
    crumbs = [MetadataEntry((), root)]
    for name in live.properties:
        meta = dict(live.field_metadata(name))
        kept = old.field_metadata(name) if name in old.properties else None
        if kept is not None and "selected" in kept:
            meta["selected"] = kept["selected"]
        elif kept is None:
            meta["selected"] = old.auto_add_new_fields
        crumbs.append(MetadataEntry(("properties", name), meta))
    return replace(
        old,
        stream=old.stream,
        schema=live.schema,
        metadata=tuple(crumbs),
        key_properties=old.key_properties or live.key_properties,
    )
