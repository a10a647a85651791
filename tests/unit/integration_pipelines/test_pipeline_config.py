"""Integration pipelines' files: YAML blocks rendered with Jinja, structure checks, the catalog."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from tests.unit.integration_pipelines.builder import Transformer, write_integration_project
from weir.errors import ConfigError, PipelineValidationError
from weir.integration import Catalog, CatalogEntry, ReplicationMethod, UniqueConflictMethod
from weir.integration.pipeline_config import (
    load_integration_config,
    load_pipeline_catalog,
    merge_discovered,
    read_catalog_file,
    render_block_file,
    write_catalog_file,
)
from weir.integration.singer import MetadataEntry
from weir.integration.sync import DEFAULT_BATCH_SIZE_ROWS
from weir.pipeline import load_pipeline
from weir.project import load_project

LOADER = """
source: postgresql
config:
  host: "{{ env_var('WEIR_TEST_PG_HOST') }}"
  port: {{ env_var('WEIR_TEST_PG_PORT', 5433) }}
  database: "{{ variables('db') }}"
  schema: "{{ variables('schema', 'public') }}"
  since: 2024-01-02
  batch_fetch_limit: 500
"""
EXPORTER = "destination: duckdb\nconfig:\n  database: w.duckdb\n"
NOOP = "@transformer\ndef t(df, *args, **kwargs):\n    return df\n"


def _load(root: Path, variables: dict | None = None):  # type: ignore[no-untyped-def]
    project = load_project(root)
    return load_integration_config(project, load_pipeline(project, "p"), variables or {})


def test_renders_env_vars_variables_and_keeps_dates_as_text(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WEIR_TEST_PG_HOST", "db.internal")
    monkeypatch.delenv("WEIR_TEST_PG_PORT", raising=False)
    root = write_integration_project(
        tmp_path / "proj", "p", source=("", LOADER), destination=("", EXPORTER)
    )
    config = _load(root, {"db": "sales"})
    assert config.source.name == "postgresql"
    assert config.source.config == {
        "host": "db.internal",
        "port": 5433,
        "database": "sales",
        "schema": "public",
        "since": "2024-01-02",
    }
    assert config.batch_size_rows == 500
    assert config.destination.name == "duckdb"
    assert config.block_order == ("source", "destination")


def test_a_missing_environment_variable_names_it_and_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("WEIR_TEST_PG_HOST", raising=False)
    root = write_integration_project(
        tmp_path / "proj", "p", source=("", LOADER), destination=("", EXPORTER)
    )
    with pytest.raises(ConfigError, match="WEIR_TEST_PG_HOST") as caught:
        _load(root, {"db": "x"})
    assert "data_loaders/source.yaml" in str(caught.value)


def test_a_missing_variable_says_how_to_pass_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WEIR_TEST_PG_HOST", "h")
    root = write_integration_project(
        tmp_path / "proj", "p", source=("", LOADER), destination=("", EXPORTER)
    )
    with pytest.raises(ConfigError, match=r"variable 'db' is not set.*--vars db="):
        _load(root)


def test_n_days_ago_renders_a_utc_date(tmp_path: Path) -> None:
    path = tmp_path / "b.yaml"
    path.write_text("source: x\nconfig:\n  start: '{{ n_days_ago(3) }}'\n")
    expected = (datetime.now(UTC) - timedelta(days=3)).strftime("%Y-%m-%d")
    assert render_block_file(path, {})["config"]["start"] == expected


def test_bad_jinja_and_bad_yaml_name_the_file(tmp_path: Path) -> None:
    path = tmp_path / "b.yaml"
    path.write_text("source: x\nconfig: {{ oops(\n")
    with pytest.raises(ConfigError, match=r"b\.yaml, line 2: bad Jinja"):
        render_block_file(path, {})
    path.write_text("source: [x\n")
    with pytest.raises(ConfigError, match=r"malformed YAML in .*b\.yaml"):
        render_block_file(path, {})


@pytest.mark.parametrize("value", [0, -5, "many", True])
def test_batch_fetch_limit_must_be_a_positive_integer(tmp_path: Path, value: object) -> None:
    root = write_integration_project(
        tmp_path / "proj",
        "p",
        source=("postgresql", {"host": "h", "batch_fetch_limit": value}),
        destination=("", EXPORTER),
    )
    with pytest.raises(ConfigError, match="batch_fetch_limit"):
        _load(root)


def test_batch_size_defaults_to_the_engine_default(tmp_path: Path) -> None:
    root = write_integration_project(
        tmp_path / "proj", "p", source=("postgresql", {"host": "h"}), destination=("", EXPORTER)
    )
    assert _load(root).batch_size_rows == DEFAULT_BATCH_SIZE_ROWS


def test_transformers_come_in_pipeline_order(tmp_path: Path) -> None:
    root = write_integration_project(
        tmp_path / "proj",
        "p",
        source=("postgresql", {}),
        destination=("", EXPORTER),
        transformers=[Transformer("first", NOOP), Transformer("second", NOOP)],
    )
    config = _load(root)
    assert config.transformers == ("first", "second")
    assert config.block_order == ("source", "first", "second", "destination")


def test_a_yaml_block_file_must_exist(tmp_path: Path) -> None:
    root = write_integration_project(
        tmp_path / "proj", "p", source=("postgresql", {}), destination=("", EXPORTER)
    )
    (root / "data_exporters" / "destination.yaml").unlink()
    with pytest.raises(PipelineValidationError, match=r"destination\.yaml does not exist"):
        load_pipeline(load_project(root), "p")


def _rewrite_metadata(root: Path, change) -> None:  # type: ignore[no-untyped-def]
    path = root / "pipelines" / "p" / "metadata.yaml"
    data = yaml.safe_load(path.read_text())
    change(data)
    path.write_text(yaml.safe_dump(data))


def test_only_integration_pipelines_are_accepted(tmp_path: Path) -> None:
    root = write_integration_project(
        tmp_path / "proj", "p", source=("postgresql", {}), destination=("", EXPORTER)
    )
    _rewrite_metadata(root, lambda d: d.update(type="python"))
    with pytest.raises(PipelineValidationError, match="needs 'type: integration'"):
        _load(root)


def test_blocks_other_than_yaml_connectors_and_python_transformers_are_refused(
    tmp_path: Path,
) -> None:
    root = write_integration_project(
        tmp_path / "proj",
        "p",
        source=("postgresql", {}),
        destination=("", EXPORTER),
        transformers=[Transformer("t", NOOP)],
    )
    (root / "transformers" / "t.sql").write_text("select 1")
    _rewrite_metadata(root, lambda d: d["blocks"][1].update(language="sql"))
    with pytest.raises(PipelineValidationError, match="block 't' is a sql transformer"):
        _load(root)


def test_exactly_one_source_block_is_needed(tmp_path: Path) -> None:
    root = write_integration_project(
        tmp_path / "proj", "p", source=("postgresql", {}), destination=("", EXPORTER)
    )
    (root / "data_loaders" / "other.yaml").write_text("source: mysql\n")

    def add(data: dict) -> None:
        data["blocks"].append(
            {"uuid": "other", "type": "data_loader", "language": "yaml", "upstream_blocks": []}
        )

    _rewrite_metadata(root, add)
    with pytest.raises(PipelineValidationError, match=r"exactly one yaml data_loader.*found 2"):
        _load(root)


def test_a_block_without_source_key_is_a_config_error(tmp_path: Path) -> None:
    root = write_integration_project(
        tmp_path / "proj", "p", source=("", "config: {}\n"), destination=("", EXPORTER)
    )
    with pytest.raises(ConfigError, match="key 'source' is missing"):
        _load(root)


# -- the catalog ----------------------------------------------------------------------------------
STREAM = {
    "tap_stream_id": "users",
    "stream": "users",
    "schema": {"type": "object", "properties": {"id": {"type": "integer"}}},
    "metadata": [{"breadcrumb": [], "metadata": {"selected": True}}],
    "key_properties": ["id"],
}


def test_reads_mages_wrapped_catalog_and_the_bare_singer_shape(tmp_path: Path) -> None:
    wrapped, bare = tmp_path / "a.json", tmp_path / "b.json"
    wrapped.write_text(json.dumps({"catalog": {"streams": [STREAM]}}))
    bare.write_text(json.dumps({"streams": [STREAM]}))
    for path in (wrapped, bare):
        catalog = read_catalog_file(path)
        assert catalog is not None
        assert [e.tap_stream_id for e in catalog.selected] == ["users"]
    assert read_catalog_file(tmp_path / "missing.json") is None


def test_a_broken_catalog_file_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    path.write_text("{not json")
    with pytest.raises(ConfigError, match=r"c\.json: not valid JSON"):
        read_catalog_file(path)
    path.write_text(json.dumps({"catalog": {"tables": []}}))
    with pytest.raises(ConfigError, match=r"c\.json: not a valid catalog"):
        read_catalog_file(path)


def test_writes_mages_shape_and_keeps_other_top_level_keys(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    path.write_text(json.dumps({"catalog": {"streams": []}, "mage_extra": 1}))
    write_catalog_file(path, Catalog.from_dict({"streams": [STREAM]}))
    document = json.loads(path.read_text())
    assert document["mage_extra"] == 1
    assert document["catalog"]["streams"][0]["tap_stream_id"] == "users"


def test_an_inline_catalog_in_the_loader_wins_over_the_file(tmp_path: Path) -> None:
    inline = yaml.safe_dump(
        {"source": "postgresql", "config": {}, "catalog": {"streams": [STREAM]}}
    )
    other = {**STREAM, "tap_stream_id": "other", "stream": "other"}
    root = write_integration_project(
        tmp_path / "proj",
        "p",
        source=("", inline),
        destination=("", EXPORTER),
        catalog={"streams": [other]},
    )
    assert [e.stream for e in load_pipeline_catalog(_load(root)).streams] == ["users"]


def test_a_missing_catalog_says_how_to_discover_it(tmp_path: Path) -> None:
    root = write_integration_project(
        tmp_path / "proj", "p", source=("postgresql", {}), destination=("", EXPORTER)
    )
    with pytest.raises(ConfigError, match=r"weir integration discover .*proj p"):
        load_pipeline_catalog(_load(root))


def _entry(name: str, fields: list[str], **keys) -> CatalogEntry:  # type: ignore[no-untyped-def]
    props = {f: {"type": ["null", "integer"]} for f in fields}
    crumbs = [MetadataEntry((), {"table-key-properties": ["id"], "row-count": 10})] + [
        MetadataEntry(("properties", f), {"inclusion": "available"}) for f in fields
    ]
    return CatalogEntry(
        tap_stream_id=name,
        stream=name,
        schema={"type": "object", "properties": props},
        metadata=tuple(crumbs),
        key_properties=("id",),
        **keys,
    )


def test_merge_keeps_selection_and_replication_settings_of_known_streams() -> None:
    old = (
        _entry(
            "users",
            ["id", "updated_at", "secret"],
            replication_method=ReplicationMethod.INCREMENTAL,
            replication_key="updated_at",
            unique_conflict_method=UniqueConflictMethod.IGNORE,
            extra={"destination_table": "dim_users"},
        )
        .with_selected(True)
        .with_field_selected("secret", False)
    )
    untouched = _entry("audit", ["id"]).with_selected(True)
    existing = Catalog((old, untouched))
    live = Catalog(
        (_entry("users", ["id", "updated_at", "secret", "email"]), _entry("new", ["id"]))
    )

    merged = merge_discovered(existing, live)

    users = merged.get("users")
    assert users.is_selected
    assert users.replication_method is ReplicationMethod.INCREMENTAL
    assert users.replication_key == "updated_at"
    assert users.unique_conflict_method is UniqueConflictMethod.IGNORE
    assert users.extra == {"destination_table": "dim_users"}
    assert "email" in users.properties
    assert users.selected_fields == ("id", "updated_at")  # secret stays off; email is new
    assert merged.get("audit") == untouched
    assert not merged.get("new").is_selected
    assert [e.tap_stream_id for e in merged.streams] == ["users", "audit", "new"]


def test_merge_selects_new_fields_when_the_stream_auto_adds_them() -> None:
    old = _entry("users", ["id"], auto_add_new_fields=True).with_selected(True)
    merged = merge_discovered(Catalog((old,)), Catalog((_entry("users", ["id", "email"]),)))
    assert merged.get("users").selected_fields == ("id", "email")


def test_merge_into_nothing_is_the_discovery() -> None:
    live = Catalog((_entry("a", ["id"]),))
    assert merge_discovered(None, live) == live
