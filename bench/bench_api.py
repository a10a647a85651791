"""Benchmark of the HTTP API; prints its figures.

Run: `uv run python bench/bench_api.py` (about 40 s).

Measures, against a real `weir start` (uvicorn, no scheduler) on a free loopback port, with a
SQLite metadata database holding 10,000 pipeline runs (3 block runs each):
  - start time: from launching the process to the first answered request (best of 3), and the
    CPU it took (Weir's modules byte-compiled first, as `make setup` does);
  - RSS of the server process after the load (and its peak, VmHWM);
  - list-runs latency under 50 concurrent clients (httpx async, one connection each) for a fixed
    duration, twice: saturating (each client sends its next request as soon as the last is
    answered) and paced (each sends one a second, as a UI polling would): median, p99, and
    requests/s; and the CPU each request costs the server and the client. Requests vary the
    page (offset), and one in four filters by status.
Targets (issue 4): list p99 <= 100 ms; start <= 2 s; <= 200 MB.
"""

from __future__ import annotations

import argparse
import asyncio
import compileall
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import yaml
from sqlalchemy import insert

HERE = Path(__file__).resolve().parent
WORK = HERE / ".work" / "api"
RUNS = 10_000
BLOCKS = ("load", "clean", "export")


def make_project(root: Path) -> Path:
    """A project with one 3-block pipeline `etl`."""
    shutil.rmtree(root, ignore_errors=True)
    (root / "pipelines" / "etl").mkdir(parents=True)
    (root / "transformers").mkdir()
    (root / "metadata.yaml").write_text("project_type: standalone\n")
    entries = []
    for index, uuid in enumerate(BLOCKS):
        code = "@transformer\ndef f(*args, **kwargs):\n    return 1\n"
        (root / "transformers" / f"{uuid}.py").write_text(code)
        upstream = [BLOCKS[index - 1]] if index else []
        entries.append({"uuid": uuid, "type": "transformer", "upstream_blocks": upstream})
    (root / "pipelines" / "etl" / "metadata.yaml").write_text(
        yaml.safe_dump({"uuid": "etl", "type": "python", "blocks": entries})
    )
    return root


def fill_database(url: str) -> str:
    """Insert RUNS runs (bulk, as the engine would have recorded them); returns an API key."""
    from weir.runs.database import connect
    from weir.runs.models import BlockRun, PipelineRun
    from weir.server.auth import AuthStore, Role
    from weir.server.models import User  # noqa: F401  (registers the auth tables)

    engine = connect(url)
    start = datetime(2025, 1, 1, tzinfo=UTC)
    statuses = ("completed",) * 8 + ("failed", "cancelled")
    runs, block_runs = [], []
    for index in range(RUNS):
        when = start + timedelta(minutes=10 * index)
        status = statuses[index % len(statuses)]
        runs.append(
            {
                "id": index + 1,
                "pipeline_uuid": "etl",
                "pipeline_schedule_id": index % 3 or None,
                "status": status,
                "execution_date": when,
                "variables": {"day": when.date().isoformat()},
                "created_at": when,
                "started_at": when,
                "completed_at": when + timedelta(seconds=30),
                "metrics": {},
            }
        )
        for offset, uuid in enumerate(BLOCKS):
            block_runs.append(
                {
                    "pipeline_run_id": index + 1,
                    "block_uuid": uuid,
                    "status": status,
                    "started_at": when + timedelta(seconds=10 * offset),
                    "completed_at": when + timedelta(seconds=10 * offset + 9),
                    "attempts": 1,
                    "metrics": {"rows": 100},
                }
            )
    with engine.begin() as connection:
        connection.execute(insert(PipelineRun), runs)
        connection.execute(insert(BlockRun), block_runs)
    auth = AuthStore(engine)
    owner = auth.create_user("bench", "bench-password", Role.OWNER)
    key, _record = auth.create_api_key(owner.id, "bench")
    engine.dispose()
    return key


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def start_server(project: Path, url: str, port: int) -> tuple[subprocess.Popen[bytes], float]:
    """Launch `weir start` and wait until it answers; returns the process and seconds taken."""
    environment = {**os.environ, "WEIR_DATABASE_URL": url}
    command = [sys.executable, "-m", "weir.cli", "start", str(project), "--port", str(port)]
    started = time.perf_counter()
    process = subprocess.Popen(
        [*command, "--no-scheduler"], env=environment, stdout=subprocess.DEVNULL
    )
    while True:
        if process.poll() is not None:
            raise SystemExit(f"the server exited with code {process.returncode}")
        try:
            # Any answer means it serves (401: this probe sends no credentials).
            httpx.get(f"http://127.0.0.1:{port}/api/sessions/current", timeout=1.0)
            return process, time.perf_counter() - started
        except httpx.TransportError:
            time.sleep(0.01)


def best_start(project: Path, url: str, *, repeat: int) -> tuple[float, float]:
    """The fastest of `repeat` starts: (seconds to the first answer, CPU seconds by then)."""
    best = (float("inf"), 0.0)
    for _ in range(repeat):
        process, seconds = start_server(project, url, free_port())
        cpu = cpu_seconds(process.pid)
        process.terminate()
        process.wait(30)
        best = min(best, (seconds, cpu))
    return best


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a process has used, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def memory_mib(pid: int) -> tuple[float, float]:
    """(VmRSS, VmHWM) of a process in MiB, from /proc."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        fields[key] = value.strip()
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


async def client(
    base_url: str,
    key: str,
    number: int,
    deadline: float,
    latencies: list[float],
    interval: float | None = None,
) -> None:
    """One client on its own connection: the next request as soon as the last is answered, or,
    with `interval`, one request every `interval` seconds (started at a random phase)."""
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(base_url=base_url, headers=headers, timeout=60) as http:
        request = 0
        next_at = time.perf_counter() + (random.random() * interval if interval else 0.0)
        while time.perf_counter() < deadline:
            if interval:
                await asyncio.sleep(max(0.0, next_at - time.perf_counter()))
                next_at += interval
            request += 1
            offset = ((number * 7 + request) % 200) * 50
            params: dict[str, str | int] = {"limit": 50, "offset": offset}
            if request % 4 == 0:
                params["status"] = "failed"
            sent = time.perf_counter()
            response = await http.get("/api/pipeline_runs", params=params)
            latencies.append(time.perf_counter() - sent)
            if response.status_code != 200:
                raise SystemExit(
                    f"list runs answered {response.status_code}: {response.text[:200]}"
                )


async def load(
    port: int, key: str, clients: int, seconds: float, interval: float | None = None
) -> list[float]:
    """Run `clients` clients for `seconds` (after a 2 s warm-up); returns latencies in s."""
    base_url = f"http://127.0.0.1:{port}"
    first = httpx.get(
        f"{base_url}/api/pipeline_runs",
        params={"limit": 1},
        headers={"Authorization": f"Bearer {key}"},
    )
    if first.json()["total"] != RUNS:
        raise SystemExit(f"expected {RUNS} runs, the API lists {first.json()['total']}")
    warm_up = time.perf_counter() + 2
    await asyncio.gather(*(client(base_url, key, n, warm_up, []) for n in range(clients)))
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds
    await asyncio.gather(
        *(client(base_url, key, n, deadline, latencies, interval) for n in range(clients))
    )
    return latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument(
        "--interval", type=float, default=1.0, help="seconds between a paced client's requests"
    )
    args = parser.parse_args()

    project = make_project(WORK / "project")
    database = WORK / "weir.db"
    for leftover in WORK.glob("weir.db*"):
        leftover.unlink()
    url = f"sqlite:///{database}"
    key = fill_database(url)
    # As `make setup` does: PYTHONDONTWRITEBYTECODE would leave Weir's modules uncompiled, and
    # every start would compile them again.
    compileall.compile_dir(HERE.parent / "src", quiet=1)
    start_seconds, start_cpu = best_start(project, url, repeat=3)
    port = free_port()
    process, _seconds = start_server(project, url, port)
    try:
        cpu_before, own_before = cpu_seconds(process.pid), time.process_time()
        saturated = asyncio.run(load(port, key, args.clients, args.seconds))
        server_cpu = cpu_seconds(process.pid) - cpu_before
        client_cpu = time.process_time() - own_before
        paced = asyncio.run(load(port, key, args.clients, args.seconds, args.interval))
        rss, peak = memory_mib(process.pid)
    finally:
        process.terminate()
        process.wait(30)
    # The saturating phase also ran a 2 s warm-up; CPU per request counts both.
    requests = len(saturated) * (args.seconds + 2) / args.seconds
    print(
        f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at the end "
        "(other processes share the CPUs: compare CPU per request across runs)"
    )
    print(
        f"server start (process launch to first answer, best of 3): {start_seconds:.2f} s, "
        f"{start_cpu:.2f} s of CPU  (target <= 2 s)"
    )
    print(f"server memory: RSS {rss:.0f} MiB, peak {peak:.0f} MiB  (target <= 200 MB)")
    print(
        f"CPU per list request: server {server_cpu / requests * 1000:.1f} ms, "
        f"client (httpx) {client_cpu / requests * 1000:.1f} ms"
    )
    print(
        f"list runs ({RUNS:,} runs, pages of 50), {args.clients} clients, {args.seconds:.0f} s each "
        "(target p99 <= 100 ms):"
    )
    print(f"  saturating (next request at once):   {summary(saturated, args.seconds)}")
    print(f"  paced (1 request / {args.interval:g} s per client): {summary(paced, args.seconds)}")


def summary(latencies: list[float], seconds: float) -> str:
    ordered = sorted(latencies)
    median = statistics.median(ordered) * 1000
    p99 = ordered[max(0, int(len(ordered) * 0.99) - 1)] * 1000
    return f"median {median:.1f} ms, p99 {p99:.1f} ms, {len(ordered) / seconds:.0f} requests/s"


if __name__ == "__main__":
    main()
