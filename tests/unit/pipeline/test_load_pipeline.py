from pathlib import Path

import pytest
import yaml

from tests.project_builder import BlockDef, write_project
from weir.errors import ConfigError, PipelineValidationError, ProjectNotFoundError
from weir.pipeline import RetryConfig, load_pipeline
from weir.project import load_project

CODE = "@transformer\ndef f(*args, **kwargs):\n    return 1\n"


def _metadata_path(root: Path) -> Path:
    return root / "pipelines" / "p" / "metadata.yaml"


def _edit(root: Path, change) -> None:  # type: ignore[no-untyped-def]
    path = _metadata_path(root)
    data = yaml.safe_load(path.read_text())
    change(data)
    path.write_text(yaml.safe_dump(data))


def test_loads_blocks_dag_and_files(tmp_path: Path) -> None:
    root = write_project(
        tmp_path / "proj",
        "p",
        [
            BlockDef("load", CODE, type="data_loader"),
            BlockDef(
                "t", CODE, upstream=["load"], extra={"retry_config": {"retries": 3}, "timeout": 5}
            ),
        ],
        variables={"x": 1},
        concurrency_config={"block_run_limit": 3},
    )
    pipeline = load_pipeline(load_project(root), "p")
    assert pipeline.dag.blocks == ("load", "t")
    assert pipeline.block_files["t"] == root / "transformers" / "t.py"
    block = pipeline.block("t")
    assert block.retry_config == RetryConfig(retries=3)
    assert block.timeout == 5
    assert pipeline.spec.concurrency_config.block_run_limit == 3
    assert pipeline.spec.variables == {"x": 1}


def test_project_found_from_a_subfolder(tmp_path: Path) -> None:
    root = write_project(tmp_path / "proj", "p", [BlockDef("a", CODE)])
    assert load_project(root / "transformers").root == root.resolve()


def test_missing_project_says_how_to_create_one(tmp_path: Path) -> None:
    with pytest.raises(ProjectNotFoundError, match="weir init"):
        load_project(tmp_path)


def test_unknown_pipeline_lists_known_ones(tmp_path: Path) -> None:
    root = write_project(tmp_path / "proj", "p", [BlockDef("a", CODE)])
    with pytest.raises(PipelineValidationError, match=r"no pipeline 'nope'.*pipelines: p"):
        load_pipeline(load_project(root), "nope")


def test_cycle_names_the_file_and_loop(tmp_path: Path) -> None:
    root = write_project(
        tmp_path / "proj",
        "p",
        [BlockDef("a", CODE, upstream=["b"]), BlockDef("b", CODE, upstream=["a"])],
    )
    with pytest.raises(PipelineValidationError, match=r"metadata.yaml: the blocks form a cycle: "):
        load_pipeline(load_project(root), "p")


def test_unknown_upstream(tmp_path: Path) -> None:
    root = write_project(tmp_path / "proj", "p", [BlockDef("a", CODE, upstream=["ghost"])])
    with pytest.raises(PipelineValidationError, match="upstream block 'ghost'"):
        load_pipeline(load_project(root), "p")


def test_missing_block_file(tmp_path: Path) -> None:
    root = write_project(tmp_path / "proj", "p", [BlockDef("a", CODE)])
    (root / "transformers" / "a.py").unlink()
    with pytest.raises(
        PipelineValidationError, match=r"block 'a' .*transformers/a.py does not exist"
    ):
        load_pipeline(load_project(root), "p")


def test_duplicate_uuid(tmp_path: Path) -> None:
    root = write_project(tmp_path / "proj", "p", [BlockDef("a", CODE)])
    _edit(root, lambda d: d["blocks"].append(dict(d["blocks"][0])))
    with pytest.raises(PipelineValidationError, match="'a' appears more than once"):
        load_pipeline(load_project(root), "p")


def test_wrong_key_type_names_file_key_and_block(tmp_path: Path) -> None:
    root = write_project(tmp_path / "proj", "p", [BlockDef("a", CODE)])
    _edit(root, lambda d: d["blocks"][0].update(timeout="soon"))
    with pytest.raises(PipelineValidationError) as caught:
        load_pipeline(load_project(root), "p")
    message = str(caught.value)
    assert "metadata.yaml" in message
    assert "blocks[0] (uuid 'a').timeout" in message


def test_wrong_upstream_type(tmp_path: Path) -> None:
    root = write_project(tmp_path / "proj", "p", [BlockDef("a", CODE)])
    _edit(root, lambda d: d["blocks"][0].update(upstream_blocks=5))
    with pytest.raises(PipelineValidationError, match="upstream_blocks"):
        load_pipeline(load_project(root), "p")


def test_malformed_yaml_names_file_and_line(tmp_path: Path) -> None:
    root = write_project(tmp_path / "proj", "p", [BlockDef("a", CODE)])
    _metadata_path(root).write_text("uuid: p\nblocks: [\n  - x: : :\n")
    with pytest.raises(ConfigError, match=r"malformed YAML in .*metadata.yaml at line \d+"):
        load_pipeline(load_project(root), "p")


def test_unknown_pipeline_type(tmp_path: Path) -> None:
    root = write_project(tmp_path / "proj", "p", [BlockDef("a", CODE)])
    _edit(root, lambda d: d.update(type="bogus"))
    with pytest.raises(PipelineValidationError, match="key 'type' is 'bogus'"):
        load_pipeline(load_project(root), "p")


def test_unknown_mage_keys_are_kept(tmp_path: Path) -> None:
    root = write_project(tmp_path / "proj", "p", [BlockDef("a", CODE, extra={"color": "teal"})])
    _edit(root, lambda d: d.update(widgets=[], cache_block_output_in_memory=False))
    pipeline = load_pipeline(load_project(root), "p")
    assert pipeline.block("a").model_dump()["color"] == "teal"


def test_markdown_blocks_do_not_run(tmp_path: Path) -> None:
    root = write_project(tmp_path / "proj", "p", [BlockDef("a", CODE)])
    _edit(
        root,
        lambda d: d["blocks"].append({"uuid": "notes", "type": "markdown", "language": "markdown"}),
    )
    assert load_pipeline(load_project(root), "p").dag.blocks == ("a",)


def test_retry_delays_follow_mage_backoff() -> None:
    config = RetryConfig(retries=5, delay=2, max_delay=10, exponential_backoff=True)
    assert [config.delay_seconds(n) for n in (1, 2, 3, 4)] == [2, 4, 8, 10]
    assert RetryConfig(delay=3, exponential_backoff=False).delay_seconds(4) == 3


def test_data_dir_follows_mage_variables_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = write_project(tmp_path / "proj", "p", [BlockDef("a", CODE)])
    monkeypatch.delenv("WEIR_DATA_DIR", raising=False)
    assert load_project(root).data_dir == root.resolve() / ".weir"
    (root / "metadata.yaml").write_text(f"variables_dir: {tmp_path / 'vars'}\n")
    assert load_project(root).data_dir == (tmp_path / "vars" / "proj").resolve()
    monkeypatch.setenv("WEIR_DATA_DIR", str(tmp_path / "env"))
    assert load_project(root).data_dir == (tmp_path / "env").resolve()
