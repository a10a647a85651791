"""Benchmark: sync an N-row table PostgreSQL -> PostgreSQL and PostgreSQL -> DuckDB.

Creates two fresh PostgreSQL databases on 127.0.0.1:5432 (user postgres), fills a table with
N rows (bigint key, int, text, numeric(12,2), two timestamptz, bool, small jsonb), then times, in
the same run and interleaved when repeated:

- the `psql` pipe: `psql -c "\\copy (SELECT ...) TO STDOUT" | psql -c "\\copy ... FROM STDIN"`
  into a table created from the source's DDL (`pg_dump -s`), so it ends with the same primary
  key Weir's copy has (its peak RSS is the larger of the two psql processes);
- Weir, PostgreSQL -> PostgreSQL (FULL_TABLE: staging table, primary key, swap);
- Weir, PostgreSQL -> DuckDB (FULL_TABLE, a DuckDB file in a temporary folder).

Each Weir sync runs in a fresh process so its peak RSS (`ru_maxrss`) is its own. The times are
wall-clock seconds of the sync itself (the process's imports excluded; they are printed apart).
Row counts and checksums of both copies are compared with the source at the end.

Usage:
    python bench/bench_sync.py [--rows 1000000] [--repeat 1] [--batch-size-rows 100000]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import psycopg

ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
TABLE = "bench"
PIPE_TABLE = "pipe_copy"


def conninfo(database: str) -> str:
    return f"postgresql://postgres@127.0.0.1:5432/{database}"


def create_database(name: str) -> None:
    with psycopg.connect(ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')


def drop_database(name: str) -> None:
    with psycopg.connect(ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def fill_source(database: str, rows: int) -> float:
    start = time.perf_counter()
    with psycopg.connect(conninfo(database), autocommit=True) as conn:
        conn.execute(
            f"""
            CREATE TABLE {TABLE} (
                id bigint PRIMARY KEY, qty integer, name text, amount numeric(12, 2),
                created_at timestamptz, updated_at timestamptz, active boolean, attrs jsonb);
            INSERT INTO {TABLE}
            SELECT g, (g % 1000)::int, 'customer ' || g || ' ' || md5(g::text),
                   round((random() * 100000)::numeric, 2),
                   timestamptz '2024-01-01' + g * interval '1 second',
                   timestamptz '2024-06-01' + (g % 5000) * interval '1 minute',
                   g % 2 = 0, jsonb_build_object('k', g % 10, 'tag', 't' || (g % 7))
            FROM generate_series(1, {rows}) g;
            """
        )
        conn.execute(f"VACUUM ANALYZE {TABLE}")
    return time.perf_counter() - start


def psql_pipe(source_db: str, target_db: str) -> dict[str, float]:
    with psycopg.connect(conninfo(target_db), autocommit=True) as conn:
        conn.execute(f"DROP TABLE IF EXISTS {PIPE_TABLE}")
    ddl = subprocess.run(
        ["pg_dump", "-s", "-t", TABLE, conninfo(source_db)],
        check=True, capture_output=True, text=True,
    ).stdout.replace(f"public.{TABLE}", f"public.{PIPE_TABLE}")  # fmt: skip
    subprocess.run(["psql", "-q", conninfo(target_db)], input=ddl, check=True, text=True,
                   capture_output=True)  # fmt: skip
    start = time.perf_counter()
    out = subprocess.Popen(
        [
            "psql",
            "-X",
            "-q",
            conninfo(source_db),
            "-c",
            f"\\copy (SELECT * FROM {TABLE}) TO STDOUT",
        ],
        stdout=subprocess.PIPE,
    )
    into = subprocess.Popen(
        ["psql", "-X", "-q", conninfo(target_db), "-c", f"\\copy {PIPE_TABLE} FROM STDIN"],
        stdin=out.stdout,
    )
    assert out.stdout is not None
    out.stdout.close()
    peak = 0.0
    for process in (into, out):
        _pid, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
        if process.returncode:
            raise RuntimeError("the psql pipe failed")
        peak = max(peak, usage.ru_maxrss / 1024)
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "peak_rss_mb": peak}


def weir_child(kind: str, source_db: str, target: str, batch_size_rows: int) -> dict[str, float]:
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, __file__, "--child", kind, source_db, target, str(batch_size_rows)],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    figures: dict[str, float] = json.loads(result.stdout.strip().splitlines()[-1])
    figures["process_seconds"] = time.perf_counter() - started
    return figures


def child(kind: str, source_db: str, target: str, batch_size_rows: int) -> None:
    """Run one sync in this process and print its figures as JSON."""
    import_start = time.perf_counter()
    from weir.integration import DuckDBDestination, PostgresDestination, PostgresSource, run_sync

    imports = time.perf_counter() - import_start
    source = PostgresSource(conninfo(source_db))
    destination = (
        PostgresDestination(conninfo(target)) if kind == "pg" else DuckDBDestination(target)
    )
    start = time.perf_counter()
    catalog = source.discover(streams=[TABLE]).with_selected([TABLE])
    result = run_sync(source, destination, catalog, batch_size_rows=batch_size_rows)
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    figures = {"seconds": seconds, "rows": result.rows, "peak_rss_mb": peak, "imports": imports}
    print(json.dumps(figures))


def checksums_pg(database: str, table: str) -> tuple[object, ...]:
    query = (
        f"SELECT count(*), sum(id), sum(qty), sum(amount), count(DISTINCT name), "
        f"sum(extract(epoch FROM created_at)), sum(extract(epoch FROM updated_at)), "
        f"count(*) FILTER (WHERE active), sum((attrs->>'k')::int) FROM {table}"
    )
    with psycopg.connect(conninfo(database)) as conn:
        row = conn.execute(query).fetchone()
    assert row is not None
    return tuple(float(v) if v is not None else None for v in row)


def checksums_duckdb(path: str) -> tuple[object, ...]:
    import duckdb

    query = (
        f"SELECT count(*), sum(id), sum(qty), sum(amount), count(DISTINCT name), "
        f"sum(epoch(created_at)), sum(epoch(updated_at)), count(*) FILTER (WHERE active), "
        f"sum(CAST(json_extract_string(attrs, '$.k') AS INTEGER)) FROM {TABLE}"
    )
    with duckdb.connect(path) as conn:
        row = conn.execute(query).fetchone()
    assert row is not None
    return tuple(float(v) if v is not None else None for v in row)


def report(rows: int, runs: dict[str, list[dict[str, float]]]) -> None:
    pipe = statistics.median(r["seconds"] for r in runs["psql pipe"])
    print(f"\n{rows:,} rows; median of {len(runs['psql pipe'])} run(s); times in seconds")
    header = f"{'method':<26}{'seconds':>9}{'rows/s':>12}{'x pipe':>8}{'peak RSS MB':>13}  all runs"
    print(header)
    print("-" * len(header))
    for name, results in runs.items():
        seconds = statistics.median(r["seconds"] for r in results)
        peak = max(r["peak_rss_mb"] for r in results)
        every = ", ".join(f"{r['seconds']:.2f}" for r in results)
        print(
            f"{name:<26}{seconds:>9.2f}{rows / seconds:>12,.0f}{seconds / pipe:>8.2f}"
            f"{peak:>13.0f}  {every}"
        )
    weir = runs["weir pg -> pg"][0]
    print(f"(Weir process start-up and imports, not in the times: {weir['imports']:.2f} s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--batch-size-rows", type=int, default=100_000)
    parser.add_argument("--child", nargs=4, metavar=("KIND", "SOURCE", "TARGET", "BATCH"))
    args = parser.parse_args()
    if args.child:
        kind, source_db, target, batch = args.child
        child(kind, source_db, target, int(batch))
        return
    suffix = uuid.uuid4().hex[:8]
    source_db, target_db = f"weir_bench_src_{suffix}", f"weir_bench_dst_{suffix}"
    create_database(source_db)
    create_database(target_db)
    try:
        print(f"filling {args.rows:,} rows: {fill_source(source_db, args.rows):.1f} s")
        with tempfile.TemporaryDirectory() as folder:
            duck = str(Path(folder) / "bench.duckdb")
            runs: dict[str, list[dict[str, float]]] = {
                "psql pipe": [], "weir pg -> pg": [], "weir pg -> duckdb": [],
            }  # fmt: skip
            for _ in range(args.repeat):
                runs["psql pipe"].append(psql_pipe(source_db, target_db))
                runs["weir pg -> pg"].append(
                    weir_child("pg", source_db, target_db, args.batch_size_rows)
                )
                runs["weir pg -> duckdb"].append(
                    weir_child("duckdb", source_db, duck, args.batch_size_rows)
                )
            report(args.rows, runs)
            expected = checksums_pg(source_db, TABLE)
            same_pg = checksums_pg(target_db, TABLE) == expected
            same_pipe = checksums_pg(target_db, PIPE_TABLE) == expected
            same_duck = checksums_duckdb(duck) == expected
            print(f"checksums equal: pg {same_pg}, duckdb {same_duck}, psql pipe {same_pipe}")
            if not (same_pg and same_duck and same_pipe):
                raise SystemExit("checksum mismatch")
    finally:
        drop_database(source_db)
        drop_database(target_db)


if __name__ == "__main__":
    main()
