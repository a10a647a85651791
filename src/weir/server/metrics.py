"""`/metrics`: the metadata database's state in the Prometheus text exposition format 0.0.4.

Computed from the database at each scrape (a few grouped queries), not from counters kept in
this process, so every server and scheduler pointed at one database reports the same numbers
and a restart loses nothing. Metrics:

- `weir_pipeline_runs{pipeline_uuid, status}` (gauge): runs in each status, every status listed
  for every pipeline that has runs.
- `weir_block_run_duration_seconds{pipeline_uuid}` (histogram): durations of finished block
  runs (buckets `weir.server.queries.DURATION_BUCKETS`). Deleting old runs lowers it; Prometheus
  reads a decrease as a counter reset.
- `weir_run_queue_depth` (gauge): pipeline runs waiting in status `queued`.
- `weir_scheduler_heartbeat_age_seconds` (gauge): seconds since any scheduler on this database
  (`weir start`'s, a bare `weir scheduler`, on any machine) last beat, from its
  `scheduler_heartbeat` row; absent when no scheduler ever ran against this database.
"""

from __future__ import annotations

import math
from datetime import datetime

from sqlalchemy import Engine

from weir.runs.status import RunStatus
from weir.server.queries import block_duration_histograms, count_runs_by_status

__all__ = ["CONTENT_TYPE", "render_metrics"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _number(value: float) -> str:
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value)) if not float(value).is_integer() else str(int(value))


def _header(lines: list[str], name: str, kind: str, help_text: str) -> None:
    lines.append(f"# HELP {name} {help_text}")
    lines.append(f"# TYPE {name} {kind}")


def _runs(lines: list[str], counts: dict[tuple[str, str], int]) -> None:
    _header(lines, "weir_pipeline_runs", "gauge", "Pipeline runs by pipeline and status.")
    for pipeline in sorted({pipeline for pipeline, _status in counts}):
        for status in RunStatus:
            value = counts.get((pipeline, status.value), 0)
            lines.append(
                f'weir_pipeline_runs{{pipeline_uuid="{_label(pipeline)}",status="{status.value}"}} '
                f"{value}"
            )


def _durations(lines: list[str], engine: Engine) -> None:
    name = "weir_block_run_duration_seconds"
    _header(lines, name, "histogram", "Durations of finished block runs, in seconds.")
    for histogram in block_duration_histograms(engine):
        pipeline = f'pipeline_uuid="{_label(histogram.pipeline_uuid)}"'
        for bound, count in histogram.buckets:
            lines.append(f'{name}_bucket{{{pipeline},le="{_number(bound)}"}} {count}')
        lines.append(f'{name}_bucket{{{pipeline},le="+Inf"}} {histogram.count}')
        lines.append(f"{name}_sum{{{pipeline}}} {_number(histogram.total_seconds)}")
        lines.append(f"{name}_count{{{pipeline}}} {histogram.count}")


def render_metrics(engine: Engine, *, now: datetime, scheduler_heartbeat: datetime | None) -> str:
    """The metrics page.

    Args:
        engine: the metadata database.
        now: the current time (aware), for the heartbeat's age.
        scheduler_heartbeat: when a scheduler last beat (aware), or None if none ever did.

    Returns:
        The exposition text, ending in a newline.
    """
    lines: list[str] = []
    counts = count_runs_by_status(engine)
    _runs(lines, counts)
    _durations(lines, engine)
    queued = sum(n for (_pipeline, status), n in counts.items() if status == RunStatus.QUEUED)
    _header(lines, "weir_run_queue_depth", "gauge", "Pipeline runs waiting in status queued.")
    lines.append(f"weir_run_queue_depth {queued}")
    if scheduler_heartbeat is not None:
        age = max(0.0, (now - scheduler_heartbeat).total_seconds())
        _header(
            lines,
            "weir_scheduler_heartbeat_age_seconds",
            "gauge",
            "Seconds since a scheduler last recorded a heartbeat.",
        )
        lines.append(f"weir_scheduler_heartbeat_age_seconds {_number(round(age, 3))}")
    return "\n".join(lines) + "\n"
