"""Run one INCREMENTAL sync of `items` into DuckDB, reporting each committed batch on stdout.

The resume-after-kill test SIGKILLs this process after it reported some batches.

Usage: python -m tests.integration.source_conformance.resume_child KIND CONFIG WAREHOUSE ROWS

KIND and CONFIG (JSON) are a fixture's `source_kind` and `config()`; WAREHOUSE is the DuckDB
destination file; ROWS is `batch_size_rows`.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from weir.integration import SyncProgress, run_sync

from .fixtures import make_source
from .helpers import incremental_catalog, warehouse


def main(kind: str, config: str, path: str, batch_size_rows: str) -> None:
    source = make_source(kind, json.loads(config))

    def report(progress: SyncProgress) -> None:
        print(f"batch {progress.batches} rows {progress.rows}", flush=True)

    run_sync(
        source,
        warehouse(Path(path)),
        incremental_catalog(source),
        batch_size_rows=int(batch_size_rows),
        on_progress=report,
    )
    print("done", flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:])
