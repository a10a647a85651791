from __future__ import annotations

import subprocess
import sys

import weir.runs


def test_curated_all() -> None:
    assert sorted(weir.runs.__all__) == sorted(
        [
            "HEAD_REVISION",
            "TERMINAL_STATUSES",
            "BlockRunRecord",
            "PipelineRunRecord",
            "RecordKind",
            "RunStatus",
            "RunStore",
            "check_transition",
            "connect",
            "default_database_url",
        ]
    )
    for name in weir.runs.__all__:
        assert getattr(weir.runs, name) is not None


def test_importing_the_package_does_not_import_alembic_or_postgres() -> None:
    # Both cost start-up time that a `weir run` on SQLite at schema head must not pay.
    heavy = ("alembic", "sqlalchemy.dialects.postgresql")
    probe = f"import sys, weir.runs; print(sorted(m for m in {heavy!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
