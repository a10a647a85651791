"""Build `BlockRequest`s for SQL block tests."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from weir.blocks.base import BlockRequest, UpstreamInput


def sql_request(
    root: Path,
    sql: str,
    *,
    upstream: tuple[UpstreamInput, ...] = (),
    variables: Mapping[str, Any] | None = None,
    configuration: Mapping[str, Any] | None = None,
    block_uuid: str = "report",
    pipeline_uuid: str = "etl",
) -> BlockRequest:
    path = root / "transformers" / f"{block_uuid}.sql"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(sql, encoding="utf-8")
    return BlockRequest(
        project_root=root,
        pipeline_uuid=pipeline_uuid,
        block_uuid=block_uuid,
        block_type="transformer",
        language="sql",
        file_path=path,
        upstream=upstream,
        variables=dict(variables or {}),
        configuration=dict(configuration or {}),
        pipeline_run_id=1,
        execution_date=datetime(2024, 3, 9, 6, 30, tzinfo=UTC),
        logger=logging.getLogger(f"weir.test.{block_uuid}"),
    )
