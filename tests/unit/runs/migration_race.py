"""Start several processes that open the same fresh database at the same instant."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

# Each child imports everything first (Alembic included), then waits for the go file, so the
# processes reach the database together rather than one import time apart.
CHILD = """
import sys, time, pathlib
import weir.runs.migrate
from weir.runs.database import connect, current_revision
go = pathlib.Path(sys.argv[2])
while not go.exists():
    time.sleep(0.001)
engine = connect(sys.argv[1])
print(current_revision(engine))
engine.dispose()
"""


def race_to_migrate(url: str, go_file: Path, processes: int = 3) -> list[tuple[int, str, str]]:
    """Run `connect(url)` in `processes` processes at once; (returncode, stdout, stderr) each."""
    children = [
        subprocess.Popen(
            [sys.executable, "-c", CHILD, url, str(go_file)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(processes)
    ]
    time.sleep(1.5)  # let every child finish importing
    go_file.touch()
    results = []
    for child in children:
        out, err = child.communicate(timeout=90)
        results.append((child.returncode, out.strip(), err))
    return results
