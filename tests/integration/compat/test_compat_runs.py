"""The compat layer inside real runs: refusals, a real `mage_ai` winning, variables, repo path."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.project_builder import BlockDef, write_project
from weir.compat import uninstall_mage_compat
from weir.data_products.store import DataProductStore
from weir.engine.runner import run_pipeline
from weir.project import load_project
from weir.runs.status import RunStatus


@pytest.fixture(autouse=True)
def no_mage_finder() -> Iterator[None]:
    # Blocks run in a forked worker that inherits this process's import state.
    uninstall_mage_compat()
    yield
    uninstall_mage_compat()


def output(root: Path, run_id: int, block_uuid: str) -> object:
    return DataProductStore(load_project(root).data_dir / "pipeline_runs").read_output(
        run_id, block_uuid
    )


REPO_PATH = """
from mage_ai.settings.repo import get_repo_path

@data_loader
def where(*args, **kwargs):
    return get_repo_path()
"""


def test_get_repo_path_is_the_blocks_project(tmp_path: Path) -> None:
    root = write_project(tmp_path / "proj", "p", [BlockDef("where", REPO_PATH, type="data_loader")])
    record = run_pipeline(root, "p")
    assert record.status is RunStatus.COMPLETED
    assert output(root, record.id, "where") == str(root.resolve())


UNSUPPORTED = """
from mage_ai.io.bigquery import BigQuery

@data_loader
def load(*args, **kwargs):
    return 1
"""


def test_an_unsupported_module_fails_the_block_naming_it(tmp_path: Path) -> None:
    root = write_project(tmp_path / "proj", "p", [BlockDef("bq", UNSUPPORTED, type="data_loader")])
    record = run_pipeline(root, "p")
    assert record.status is RunStatus.FAILED
    (block_run,) = record.block_runs
    assert block_run.error is not None
    assert "No module named 'mage_ai.io.bigquery'" in block_run.error
    assert "Weir supports only these mage_ai modules" in block_run.error


REAL_MAGE = """
import mage_ai
from weir.compat import mage_compat_installed

@data_loader
def which(*args, **kwargs):
    return {'mage_ai': mage_ai.FAKE, 'weir_finder': mage_compat_installed()}
"""


def test_a_real_mage_ai_is_used_instead(tmp_path: Path) -> None:
    root = write_project(tmp_path / "proj", "p", [BlockDef("which", REAL_MAGE, type="data_loader")])
    # A `mage_ai` package in the project folder is importable by its blocks, as an installed one.
    (root / "mage_ai").mkdir()
    (root / "mage_ai" / "__init__.py").write_text("FAKE = 'the real one'\n")
    record = run_pipeline(root, "p")
    assert record.status is RunStatus.COMPLETED
    assert output(root, record.id, "which") == {"mage_ai": "the real one", "weir_finder": False}


PRODUCER = """
import pandas as pd

@data_loader
def make(*args, **kwargs):
    return pd.DataFrame({'n': [1, 2, 3]}), [kwargs['pipeline_run_id']]
"""

CONSUMER = """
from mage_ai.data_preparation.variable_manager import get_global_variable, get_variable

@custom
def read(*args, **kwargs):
    frame = get_variable('producer', 'make', 'output_0')
    run_ids = get_variable('producer', 'make', 'output_1')
    return {
        'sum': int(frame['n'].sum()),
        'df_is_output_0': get_variable('producer', 'make', 'df').equals(frame),
        'run_ids': run_ids,
        'threshold': get_global_variable('producer', 'threshold'),
    }
"""


def test_get_variable_reads_the_latest_completed_run(tmp_path: Path) -> None:
    root = write_project(
        tmp_path / "proj",
        "producer",
        [BlockDef("make", PRODUCER, type="data_loader")],
        variables={"threshold": 5},
    )
    write_project(root, "consumer", [BlockDef("read", CONSUMER, type="custom")])
    failed = run_pipeline(root, "consumer")
    assert failed.status is RunStatus.FAILED
    assert "has no completed run" in (failed.block_runs[0].error or "")
    first = run_pipeline(root, "producer")
    second = run_pipeline(root, "producer")
    record = run_pipeline(root, "consumer")
    assert record.status is RunStatus.COMPLETED, record.block_runs[0].error
    assert first.id != second.id
    assert output(root, record.id, "read") == {
        "sum": 6,
        "df_is_output_0": True,
        "run_ids": [second.id],
        "threshold": 5,
    }
