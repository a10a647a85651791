"""Each compat test starts and ends without Weir's `mage_ai` finder or modules loaded."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from weir.compat import BlockContext, block_context, uninstall_mage_compat


@pytest.fixture(autouse=True)
def no_mage_finder() -> Iterator[None]:
    uninstall_mage_compat()
    yield
    uninstall_mage_compat()


@pytest.fixture
def project(tmp_path: Path) -> Iterator[Path]:
    """A project folder bound as the running block's project."""
    root = tmp_path / "proj"
    (root / "pipelines").mkdir(parents=True)
    (root / "metadata.yaml").write_text("project_type: standalone\n")
    with block_context(BlockContext(root.resolve())):
        yield root.resolve()
