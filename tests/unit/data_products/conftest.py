"""Fixtures for the data product tests: a store in a temporary folder, one per table format."""

from __future__ import annotations

from pathlib import Path

import pytest

from weir.data_products import DataProductStore


@pytest.fixture(params=["parquet", "arrow"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> DataProductStore:
    """A store under `tmp_path/pipeline_runs`, once writing Parquet and once Arrow IPC."""
    return DataProductStore(tmp_path / "pipeline_runs", table_format=request.param)


@pytest.fixture
def parquet_store(tmp_path: Path) -> DataProductStore:
    """A store writing Parquet (run outputs default to Arrow IPC)."""
    return DataProductStore(tmp_path / "pipeline_runs", table_format="parquet")
