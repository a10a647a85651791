"""The RunStore contract on a SQLite file."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.unit.runs.contract import RunStoreContract


class TestSQLiteRunStore(RunStoreContract):
    @pytest.fixture
    def database_url(self, tmp_path: Path) -> str:
        return f"sqlite:///{tmp_path / 'weir.db'}"
