"""Benchmark of the batch engine; prints its figures.

Run: `make bench`, or `uv run python bench/bench_engine.py`.

Measures, each as a whole process (python start-up included), best of N runs:
  - `weir --help`;
  - `weir run` of a 2-block pipeline, and of chains of 10 and 50 trivial blocks (per-block overhead
    is the difference between the 50- and 10-block chains divided by 40);
  - a 1,000,000-row, 6-column DataFrame through 3 transformer blocks, against a plain pandas script
    doing the same work (bench/workload.py), with time and peak RSS of the process tree.
Targets (issue 2): --help < 0.3 s; 2-block run <= 1.0 s; per-block overhead <= 5 ms; the 1M-row
pipeline within 1.5x the plain script's time and 2x its peak memory.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
WORK = HERE / ".work"
WEIR = [sys.executable, "-m", "weir.cli"]


def measure(command: list[str], *, repeat: int) -> tuple[float, float]:
    """Best wall seconds and the peak RSS (MiB) of the process tree over `repeat` runs."""
    best, peak = float("inf"), 0.0
    for _ in range(repeat):
        started = time.perf_counter()
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        _, status, usage = os.wait4(process.pid, 0)
        elapsed = time.perf_counter() - started
        if os.waitstatus_to_exitcode(status) != 0:
            raise SystemExit(
                f"failed: {' '.join(command)}\n{process.stderr.read().decode() if process.stderr else ''}"
            )
        best = min(best, elapsed)
        peak = max(peak, usage.ru_maxrss / 1024)  # Linux: KiB; includes waited-for children
    return best, peak


def chain_project(root: Path, blocks: int) -> Path:
    """A project with one pipeline `chain` of `blocks` trivial Python blocks in a line."""
    shutil.rmtree(root, ignore_errors=True)
    (root / "pipelines" / "chain").mkdir(parents=True)
    (root / "transformers").mkdir()
    (root / "metadata.yaml").write_text("project_type: standalone\n")
    entries = []
    for index in range(blocks):
        uuid = f"b{index}"
        upstream = [f"b{index - 1}"] if index else []
        code = "@transformer\ndef f(*args, **kwargs):\n    return (args[0] + 1) if args else 0\n"
        (root / "transformers" / f"{uuid}.py").write_text(code)
        entries.append(
            {"uuid": uuid, "type": "transformer", "language": "python", "upstream_blocks": upstream}
        )
    (root / "pipelines" / "chain" / "metadata.yaml").write_text(
        yaml.safe_dump({"uuid": "chain", "type": "python", "blocks": entries})
    )
    return root


def dataframe_project(root: Path) -> Path:
    """A loader making the 1M-row frame and three transformers applying bench/workload.py."""
    shutil.rmtree(root, ignore_errors=True)
    for folder in ("pipelines/frame", "data_loaders", "transformers", "utils"):
        (root / folder).mkdir(parents=True)
    (root / "metadata.yaml").write_text("project_type: standalone\n")
    shutil.copy(HERE / "workload.py", root / "utils" / "workload.py")
    (root / "utils" / "__init__.py").write_text("")
    (root / "data_loaders" / "make.py").write_text(
        "from utils.workload import make_frame\n@data_loader\ndef f(*a, **k):\n    return make_frame()\n"
    )
    steps = ["add_total", "add_day", "keep_kept_sales"]
    entries = [{"uuid": "make", "type": "data_loader", "language": "python", "upstream_blocks": []}]
    previous = "make"
    for step in steps:
        (root / "transformers" / f"{step}.py").write_text(
            f"from utils.workload import {step}\n"
            f"@transformer\ndef f(frame, *a, **k):\n    return {step}(frame)\n"
        )
        entries.append(
            {
                "uuid": step,
                "type": "transformer",
                "language": "python",
                "upstream_blocks": [previous],
            }
        )
        previous = step
    (root / "pipelines" / "frame" / "metadata.yaml").write_text(
        yaml.safe_dump({"uuid": "frame", "type": "python", "blocks": entries})
    )
    return root


PLAIN_SCRIPT = textwrap.dedent(
    """
    import sys
    sys.path.insert(0, {bench!r})
    from workload import add_day, add_total, keep_kept_sales, make_frame
    frame = keep_kept_sales(add_day(add_total(make_frame())))
    print(len(frame))
    """
)


IN_PROCESS_SCRIPT = textwrap.dedent(
    """
    import sys, time
    sys.path.insert(0, {bench!r})
    import pandas, pyarrow  # warm: measure the run, not the imports
    from weir.engine.runner import run_pipeline
    from workload import add_day, add_total, keep_kept_sales, make_frame
    started = time.perf_counter()
    keep_kept_sales(add_day(add_total(make_frame())))
    plain = time.perf_counter() - started
    started = time.perf_counter()
    record = run_pipeline({project!r}, "frame")
    engine = time.perf_counter() - started
    assert record.status.value == "completed", record.error
    print(plain, engine)
    """
)


def in_process(project: Path) -> tuple[float, float]:
    """Best (plain work, weir run) seconds inside one warm interpreter, start-up excluded."""
    script = IN_PROCESS_SCRIPT.format(bench=str(HERE), project=str(project))
    best_plain, best_engine = float("inf"), float("inf")
    for _ in range(3):
        output = subprocess.run(
            [sys.executable, "-c", script], capture_output=True, text=True, check=True
        ).stdout
        plain, engine = (float(x) for x in output.split())
        best_plain, best_engine = min(best_plain, plain), min(best_engine, engine)
    return best_plain, best_engine


def main() -> None:
    WORK.mkdir(exist_ok=True)
    env_note = f"python {sys.version.split()[0]}, {os.cpu_count()} cores"
    print(f"Weir engine benchmark ({env_note}); whole-process wall time, best of runs")

    help_seconds, _ = measure([*WEIR, "--help"], repeat=5)
    print(
        f"weir --help                           {help_seconds * 1000:8.0f} ms   (target < 300 ms)"
    )

    two = chain_project(WORK / "chain2", 2)
    two_seconds, _ = measure([*WEIR, "run", str(two), "chain", "--no-live"], repeat=5)
    print(
        f"weir run, 2 trivial blocks            {two_seconds * 1000:8.0f} ms   (target <= 1000 ms)"
    )

    ten = chain_project(WORK / "chain10", 10)
    fifty = chain_project(WORK / "chain50", 50)
    ten_seconds, _ = measure([*WEIR, "run", str(ten), "chain", "--no-live"], repeat=3)
    fifty_seconds, _ = measure([*WEIR, "run", str(fifty), "chain", "--no-live"], repeat=3)
    per_block_ms = (fifty_seconds - ten_seconds) / 40 * 1000
    print(f"weir run, chain of 10 blocks          {ten_seconds * 1000:8.0f} ms")
    print(f"weir run, chain of 50 blocks          {fifty_seconds * 1000:8.0f} ms")
    print(f"per-block overhead                    {per_block_ms:8.1f} ms   (target <= 5 ms)")

    plain = WORK / "plain_pandas.py"
    plain.write_text(PLAIN_SCRIPT.format(bench=str(HERE)))
    plain_seconds, plain_mib = measure([sys.executable, str(plain)], repeat=3)
    frame = dataframe_project(WORK / "frame")
    weir_seconds, weir_mib = measure([*WEIR, "run", str(frame), "frame", "--no-live"], repeat=3)
    print(
        f"1M rows x 6 cols, plain pandas        {plain_seconds:8.2f} s  {plain_mib:7.0f} MiB peak"
    )
    print(
        f"1M rows x 6 cols, weir (3 transforms) {weir_seconds:8.2f} s  {weir_mib:7.0f} MiB peak"
        f"   = {weir_seconds / plain_seconds:.2f}x time, {weir_mib / plain_mib:.2f}x memory"
        "   (targets <= 1.5x, <= 2x)"
    )
    plain_work, engine_work = in_process(frame)
    print(
        f"same, inside a warm process            plain {plain_work:.2f} s, weir run {engine_work:.2f} s"
        f"   = {engine_work / plain_work:.2f}x (engine cost without interpreter start-up)"
    )


if __name__ == "__main__":
    main()
