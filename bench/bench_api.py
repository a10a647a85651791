"""Benchmark of the HTTP API; prints its figures.

Run: `uv run python bench/bench_api.py` (about 70 s). Needs `wrk` (`apt-get install -y wrk`)
for the latency figures; without it the bench says so and falls back to an httpx client, whose
own CPU (about 2 ms a request) competes with the server's on a small machine.

Measures, against a real `weir start` (uvicorn, no scheduler) on a free loopback port, with a
SQLite metadata database holding 10,000 pipeline runs (3 block runs each; set WEIR_DATABASE_URL
to an empty PostgreSQL database to measure on it: its runs, users and keys are deleted first):
  - start time: from launching the process to the first answered request (best of 3), and the
    CPU it took (Weir's modules byte-compiled first, as `make setup` does);
  - RSS of the server process after the load (and its peak, VmHWM);
  - list-runs latency under 50 concurrent clients (one connection each) for a fixed duration,
    in three workloads: the default page (`GET /api/pipeline_runs`, the 50 newest) saturating
    (each client sends its next request as soon as the last is answered); mixed pages
    saturating (offsets over all 10,000 runs, one request in four filtered by status); and
    mixed pages paced (each client about one request a second, as a UI polling would).
    For each: median, p99, requests/s, and the CPU each request costs the server and the
    load generator.
Targets (issue 4): list p99 <= 100 ms; start <= 2 s; <= 200 MB.
"""

from __future__ import annotations

import argparse
import asyncio
import compileall
import json
import os
import random
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import yaml
from sqlalchemy import insert, text

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
    if engine.dialect.name == "postgresql":
        with engine.begin() as connection:
            for table in ("block_run", "pipeline_run", "user_session", "api_key", "user_account"):
                connection.execute(text(f"DELETE FROM {table}"))
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
    if engine.dialect.name == "postgresql":
        # As autovacuum would soon: planner statistics for the freshly filled tables.
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("ANALYZE pipeline_run, block_run"))
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


WORKLOADS = {
    "default": "default page (GET /api/pipeline_runs), saturating",
    "mixed": "mixed pages (offsets to 9,950; 1 in 4 by status), saturating",
    "paced": "mixed pages, paced (~1 request / s per client)",
}
PACE_SECONDS = 1.0

WRK_SCRIPT = r"""
-- Written by bench/bench_api.py. WEIR_BENCH_KEY: the API key; WEIR_BENCH_WORKLOAD: a workload.
local key = os.getenv("WEIR_BENCH_KEY")
local workload = os.getenv("WEIR_BENCH_WORKLOAD")
local counter = 0
wrk.headers["Authorization"] = "Bearer " .. key

request = function()
  counter = counter + 1
  if workload == "default" then
    return wrk.format("GET", "/api/pipeline_runs")
  end
  local path = "/api/pipeline_runs?limit=50&offset=" .. ((counter * 7) % 200) * 50
  if counter % 4 == 0 then
    path = path .. "&status=failed"
  end
  return wrk.format("GET", path)
end

if workload == "paced" then
  -- Milliseconds before a connection's next request: one a second on average, at random phases.
  delay = function() return math.random(500, 1500) end
end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "RESULT {\"requests\": %d, \"seconds\": %f, \"p50_us\": %d, \"p99_us\": %d, "
      .. "\"errors\": %d}\n",
    summary.requests, summary.duration / 1e6, latency:percentile(50), latency:percentile(99),
    e.connect + e.read + e.write + e.status + e.timeout))
end
"""


@dataclass(frozen=True)
class Figures:
    """One workload's figures: latencies in ms, CPU in ms per request."""

    requests: int
    seconds: float
    median_ms: float
    p99_ms: float
    server_cpu_ms: float
    client_cpu_ms: float

    def line(self) -> str:
        return (
            f"median {self.median_ms:.1f} ms, p99 {self.p99_ms:.1f} ms, "
            f"{self.requests / self.seconds:.0f} requests/s; CPU per request: server "
            f"{self.server_cpu_ms:.2f} ms, load generator {self.client_cpu_ms:.2f} ms"
        )


def run_wrk(
    port: int, key: str, workload: str, clients: int, seconds: float
) -> tuple[int, float, float, float]:
    """Run wrk (one thread): (requests, seconds, median s, p99 s)."""
    script = WORK / "list_runs.lua"
    script.write_text(WRK_SCRIPT)
    environment = {**os.environ, "WEIR_BENCH_KEY": key, "WEIR_BENCH_WORKLOAD": workload}
    command = ["wrk", "-t1", f"-c{clients}", f"-d{seconds:g}s", "--timeout", "60s"]
    command += ["-s", str(script), f"http://127.0.0.1:{port}"]
    finished = subprocess.run(command, env=environment, capture_output=True, text=True, check=True)
    lines = [line for line in finished.stdout.splitlines() if line.startswith("RESULT ")]
    if not lines:
        raise SystemExit(f"wrk printed no result:\n{finished.stdout}\n{finished.stderr}")
    result = json.loads(lines[0].removeprefix("RESULT "))
    if result["errors"]:
        raise SystemExit(f"wrk counted {result['errors']} errors:\n{finished.stdout}")
    return result["requests"], result["seconds"], result["p50_us"] / 1e6, result["p99_us"] / 1e6


def children_cpu() -> float:
    """CPU seconds of this process's children that have ended (wrk runs)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def measure(
    server: int, port: int, key: str, workload: str, clients: int, seconds: float, *, wrk: bool
) -> Figures:
    """Warm up for 2 s, then load the server for `seconds` and take its figures."""
    if wrk:
        run_wrk(port, key, workload, clients, 2)
        server_before, client_before = cpu_seconds(server), children_cpu()
        requests, elapsed, median, p99 = run_wrk(port, key, workload, clients, seconds)
        client_cpu = children_cpu() - client_before
    else:
        asyncio.run(load(port, key, workload, clients, 2))
        server_before, client_before = cpu_seconds(server), time.process_time()
        started = time.perf_counter()
        latencies = sorted(asyncio.run(load(port, key, workload, clients, seconds)))
        elapsed = time.perf_counter() - started
        client_cpu = time.process_time() - client_before
        requests, median = len(latencies), statistics.median(latencies)
        p99 = latencies[max(0, int(len(latencies) * 0.99) - 1)]
    server_cpu = cpu_seconds(server) - server_before
    return Figures(
        requests,
        elapsed,
        median * 1000,
        p99 * 1000,
        server_cpu / requests * 1000,
        client_cpu / requests * 1000,
    )


def query_params(workload: str, request: int) -> dict[str, str | int]:
    """The httpx client's query for its `request`-th call (as the wrk script's)."""
    if workload == "default":
        return {}
    params: dict[str, str | int] = {"limit": 50, "offset": ((request * 7) % 200) * 50}
    if request % 4 == 0:
        params["status"] = "failed"
    return params


async def client(
    base_url: str, key: str, workload: str, deadline: float, latencies: list[float]
) -> None:
    """One httpx client on its own connection (the fallback without wrk)."""
    headers = {"Authorization": f"Bearer {key}"}
    paced = workload == "paced"
    async with httpx.AsyncClient(base_url=base_url, headers=headers, timeout=60) as http:
        request = random.randrange(200)
        next_at = time.perf_counter() + (random.random() * PACE_SECONDS if paced else 0.0)
        while time.perf_counter() < deadline:
            if paced:
                await asyncio.sleep(max(0.0, next_at - time.perf_counter()))
                next_at += PACE_SECONDS
            request += 1
            sent = time.perf_counter()
            response = await http.get("/api/pipeline_runs", params=query_params(workload, request))
            latencies.append(time.perf_counter() - sent)
            if response.status_code != 200:
                raise SystemExit(
                    f"list runs answered {response.status_code}: {response.text[:200]}"
                )


async def load(port: int, key: str, workload: str, clients: int, seconds: float) -> list[float]:
    """Run `clients` httpx clients for `seconds`; returns their latencies in seconds."""
    base_url = f"http://127.0.0.1:{port}"
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds
    await asyncio.gather(
        *(client(base_url, key, workload, deadline, latencies) for _ in range(clients))
    )
    return latencies


def check_listing(port: int, key: str) -> None:
    """Fail unless the API lists all RUNS runs (so the load measures the real page)."""
    first = httpx.get(
        f"http://127.0.0.1:{port}/api/pipeline_runs",
        params={"limit": 1},
        headers={"Authorization": f"Bearer {key}"},
    )
    if first.json()["total"] != RUNS:
        raise SystemExit(f"expected {RUNS} runs, the API lists {first.json()['total']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--workload", choices=sorted(WORKLOADS), action="append")
    args = parser.parse_args()
    wrk = shutil.which("wrk") is not None
    if not wrk:
        print(
            "note: wrk is not installed (apt-get install -y wrk); falling back to an httpx "
            "client, whose own CPU competes with the server's: latencies will read higher"
        )

    project = make_project(WORK / "project")
    for leftover in WORK.glob("weir.db*"):
        leftover.unlink()
    url = os.environ.get("WEIR_DATABASE_URL") or f"sqlite:///{WORK / 'weir.db'}"
    key = fill_database(url)
    # As `make setup` does: PYTHONDONTWRITEBYTECODE would leave Weir's modules uncompiled, and
    # every start would compile them again.
    compileall.compile_dir(HERE.parent / "src", quiet=1)
    start_seconds, start_cpu = best_start(project, url, repeat=3)
    port = free_port()
    process, _seconds = start_server(project, url, port)
    figures = {}
    try:
        check_listing(port, key)
        for workload in args.workload or list(WORKLOADS):
            figures[workload] = measure(
                process.pid, port, key, workload, args.clients, args.seconds, wrk=wrk
            )
        rss, peak = memory_mib(process.pid)
    finally:
        process.terminate()
        process.wait(30)
    print(
        f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at the end "
        "(other processes share the CPUs: compare CPU per request across runs)"
    )
    print(
        f"server start (process launch to first answer, best of 3): {start_seconds:.2f} s, "
        f"{start_cpu:.2f} s of CPU  (target <= 2 s)"
    )
    print(f"server memory: RSS {rss:.0f} MiB, peak {peak:.0f} MiB  (target <= 200 MB)")
    generator = "wrk, 1 thread" if wrk else "httpx (wrk not installed)"
    print(
        f"list runs ({RUNS:,} runs, pages of 50), {args.clients} clients ({generator}), "
        f"{args.seconds:g} s each (target p99 <= 100 ms):"
    )
    for workload, result in figures.items():
        print(f"  {WORKLOADS[workload]}:\n    {result.line()}")


if __name__ == "__main__":
    main()
