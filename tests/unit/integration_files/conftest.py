"""Fixtures for the SQLite, DuckDB and file sources and the Parquet destination (no services)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

# The shared datasets live next to the repository (`../shared/data`).
DATA = Path(__file__).resolve().parents[4] / "shared" / "data"
CHINOOK = DATA / "chinook" / "Chinook_Sqlite.sqlite"
TITANIC = DATA / "titanic.csv"


def _require(path: Path) -> None:
    """Skip when a dataset is missing; under CI=true fail instead."""
    if path.is_file():
        return
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI=true and {path} is missing")
    pytest.skip(f"{path} is missing")


@pytest.fixture
def chinook(tmp_path: Path) -> Path:
    """A private, writable copy of the Chinook SQLite database (11 tables)."""
    _require(CHINOOK)
    path = tmp_path / "chinook.sqlite"
    shutil.copyfile(CHINOOK, path)
    return path


@pytest.fixture
def titanic(tmp_path: Path) -> Path:
    """A private copy of the Titanic passenger list (891 rows, 12 columns)."""
    _require(TITANIC)
    folder = tmp_path / "csv"
    folder.mkdir()
    path = folder / "titanic.csv"
    shutil.copyfile(TITANIC, path)
    return path
