"""The parametrised `source_fixture`: each test runs once per source connector.

`KNOWN_FAILURES` lists the checks a connector fails today, each with the reason, as strict
xfails: the suite stays green, and a connector that gets fixed turns its entry into a failure
(XPASS) until the entry is removed.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from .fixtures import ALL_FIXTURES, FIXTURES, SERVER_FIXTURES, SourceFixture

KNOWN_FAILURES: dict[tuple[str, str], str] = {}
"""(fixture, test function) -> why that connector fails that check today."""


@pytest.fixture(params=ALL_FIXTURES)
def source_fixture(request: pytest.FixtureRequest, tmp_path: Path) -> SourceFixture:
    """A source's store with no `items` table yet.

    Server fixtures get a fresh database from `tests/services.py` (skipped when the server is
    down, failed under CI=true); the others a folder in tmp_path.
    """
    name: str = request.param
    reason = KNOWN_FAILURES.get((name, request.function.__name__))
    if reason is not None:
        request.applymarker(pytest.mark.xfail(reason=reason, strict=True, raises=AssertionError))
    if name in SERVER_FIXTURES:
        database_fixture, kind = SERVER_FIXTURES[name]
        return kind(request.getfixturevalue(database_fixture))
    folder = tmp_path / "source"
    folder.mkdir()
    return FIXTURES[name](folder)
