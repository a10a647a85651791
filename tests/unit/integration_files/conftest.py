"""Fixtures for the SQLite, DuckDB and file sources and the Parquet destination (no services)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

DATA = Path("/work/shared/data")
CHINOOK = DATA / "chinook" / "Chinook_Sqlite.sqlite"
TITANIC = DATA / "titanic.csv"


@pytest.fixture
def chinook(tmp_path: Path) -> Path:
    """A private, writable copy of the Chinook SQLite database (11 tables)."""
    if not CHINOOK.is_file():
        pytest.skip(f"{CHINOOK} is missing")
    path = tmp_path / "chinook.sqlite"
    shutil.copyfile(CHINOOK, path)
    return path


@pytest.fixture
def titanic(tmp_path: Path) -> Path:
    """A private copy of the Titanic passenger list (891 rows, 12 columns)."""
    if not TITANIC.is_file():
        pytest.skip(f"{TITANIC} is missing")
    folder = tmp_path / "csv"
    folder.mkdir()
    path = folder / "titanic.csv"
    shutil.copyfile(TITANIC, path)
    return path
