"""Benchmark of the scheduler; prints its figures.

Run: `uv run python bench/bench_scheduler.py [--workers N] [--runs N]`.

Measures, with `weir scheduler` as a real process on real time and the project's SQLite metadata
database (set WEIR_DATABASE_URL to measure on PostgreSQL):
  - trigger-to-start latency for 100 due runs: 100 `@once` triggers of a one-block pipeline, due
    10 per second (so worker capacity is not what is measured); latency = the run's `started_at`
    (the engine's `running` transition, in the worker) minus its execution date;
  - the same 100 runs all due at one instant (a burst: the later ones wait for a free worker, so
    this shows capacity, not the scheduler's reaction time);
  - throughput: runs of a 10-block chain of trivial Python blocks completed per minute, with
    `--runs` runs queued up front and `--workers` worker processes, and the CPU time per run of
    the scheduler and its workers (this machine is shared: the load average is printed).
Targets (issue 4): latency p99 <= 1 s; >= 600 runs/min.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
WORK = HERE / ".work" / "scheduler"
sys.path.insert(0, str(HERE))

from bench_engine import chain_project  # noqa: E402
from weir.orchestration import TriggerSpec, TriggerStore, enqueue_run  # noqa: E402
from weir.pipeline.pipeline import load_pipeline  # noqa: E402
from weir.project.project import load_project  # noqa: E402
from weir.runs.records import PipelineRunRecord  # noqa: E402
from weir.runs.status import RunStatus  # noqa: E402
from weir.runs.store import RunStore  # noqa: E402


def fresh_project(name: str, blocks: int) -> tuple[Path, str]:
    root = chain_project(WORK / name, blocks)
    url = os.environ.get("WEIR_DATABASE_URL") or f"sqlite:///{root / '.weir' / 'weir.db'}"
    (root / ".weir").mkdir(exist_ok=True)
    if url.startswith("postgres"):
        reset_postgres(url)
    return root, url


def reset_postgres(url: str) -> None:
    from sqlalchemy import text

    from weir.runs.database import connect

    engine = connect(url)
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM block_run"))
        connection.execute(text("DELETE FROM pipeline_run"))
        connection.execute(text("DELETE FROM pipeline_schedule"))
    engine.dispose()


def start_scheduler(root: Path, url: str, workers: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "weir.cli", "scheduler", str(root), "--workers", str(workers)],
        env={**os.environ, "WEIR_DATABASE_URL": url},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def stop(process: subprocess.Popen[bytes]) -> float:
    """SIGTERM the scheduler; returns the CPU seconds it and its workers used."""
    process.send_signal(signal.SIGTERM)
    _, _, usage = os.wait4(process.pid, 0)  # workers are its children, waited for at its exit
    process.returncode = 0
    return usage.ru_utime + usage.ru_stime


def wait_for(runs: RunStore, count: int, timeout: float) -> list[PipelineRunRecord]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done = runs.list_pipeline_runs(status=RunStatus.COMPLETED, limit=count + 10)
        if len(done) >= count:
            return done
        time.sleep(0.2)
    raise SystemExit(f"only {len(done)} of {count} runs completed within {timeout:g} s")


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def latency(workers: int, *, per_second: float, label: str) -> None:
    root, url = fresh_project(f"latency-{label}", blocks=1)
    scheduler = start_scheduler(root, url, workers)
    time.sleep(2.0)  # let it start and sync (no triggers yet)
    first_due = datetime.now(UTC) + timedelta(seconds=3)
    with TriggerStore(url) as triggers:
        for index in range(100):
            due = first_due + timedelta(seconds=index / per_second if per_second else 0)
            triggers.create(
                TriggerSpec(
                    name=f"once{index}",
                    pipeline_uuid="chain",
                    schedule_interval="@once",
                    start_time=due,
                )
            )
    with RunStore(url) as runs:
        done = wait_for(runs, 100, 180)
    stop(scheduler)
    delays = [(r.started_at - r.execution_date).total_seconds() for r in done if r.started_at]
    print(
        f"trigger-to-start latency, 100 runs {label}: median {statistics.median(delays):.3f} s, "
        f"p99 {percentile(delays, 0.99):.3f} s, max {max(delays):.3f} s "
        f"({workers} workers)"
    )


def throughput(workers: int, count: int) -> None:
    root, url = fresh_project("throughput", blocks=10)
    pipeline = load_pipeline(load_project(root), "chain")
    with RunStore(url) as runs:
        for _ in range(count):
            enqueue_run(runs, None, datetime.now(UTC), pipeline=pipeline)
    scheduler = start_scheduler(root, url, workers)
    with RunStore(url) as runs:
        done = wait_for(runs, count, 600)
    cpu = stop(scheduler)
    first = min(r.started_at for r in done if r.started_at)
    last = max(r.completed_at for r in done if r.completed_at)
    seconds = (last - first).total_seconds()
    print(
        f"throughput, 10-block pipeline: {count} runs in {seconds:.1f} s = "
        f"{count / seconds * 60:.0f} runs/min ({workers} workers, {os.cpu_count()} CPUs); "
        f"CPU per run (scheduler + workers) {cpu / count * 1000:.0f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--runs", type=int, default=300)
    args = parser.parse_args()
    shutil.rmtree(WORK, ignore_errors=True)
    print(f"load average before: {os.getloadavg()[0]:.1f} (other processes share these CPUs)")
    latency(args.workers, per_second=10, label="due 10 per second")
    latency(args.workers, per_second=0, label="due at one instant")
    throughput(args.workers, args.runs)


if __name__ == "__main__":
    main()
