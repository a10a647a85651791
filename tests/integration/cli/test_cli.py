"""The `weir` command line on real projects (SQLite metadata, files, DuckDB)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from tests.project_builder import BlockDef, write_project
from weir.cli.app import app

runner = CliRunner()


def invoke(*args: str):  # type: ignore[no-untyped-def]
    return runner.invoke(app, list(args), catch_exceptions=False)


def test_init_creates_mage_layout_and_example_runs(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    result = invoke("init", str(root))
    assert result.exit_code == 0, result.output
    for name in ("metadata.yaml", "io_config.yaml", "requirements.txt"):
        assert (root / name).is_file()
    for folder in (
        "data_loaders",
        "transformers",
        "data_exporters",
        "custom",
        "sensors",
        "callbacks",
        "conditionals",
        "utils",
        "pipelines",
    ):
        assert (root / folder).is_dir()
    run = invoke("run", str(root), "example_pipeline", "--no-live", "--vars", "count=4")
    assert run.exit_code == 0, run.output
    assert "completed" in run.output
    shown = invoke("output", "show", str(root), "example_pipeline", "summarize_numbers")
    assert shown.exit_code == 0, shown.output
    assert "total_of_squares" in shown.output
    assert "30" in shown.output  # 1 + 4 + 9 + 16


def test_init_refuses_a_non_empty_folder(tmp_path: Path) -> None:
    (tmp_path / "x.txt").write_text("keep me")
    result = runner.invoke(app, ["init", str(tmp_path)])
    assert result.exit_code == 2
    assert "not empty" in result.output
    assert (tmp_path / "x.txt").read_text() == "keep me"


def test_failed_run_exits_1_and_runs_show_has_the_error(tmp_path: Path) -> None:
    root = write_project(
        tmp_path / "proj",
        "p",
        [
            BlockDef(
                "boom",
                "@data_loader\ndef f(*a, **k):\n    print('about to fail')\n    raise KeyError('col_x')\n",
                type="data_loader",
            )
        ],
    )
    result = invoke("run", str(root), "p", "--no-live")
    assert result.exit_code == 1
    assert "boom failed" in result.output
    listed = invoke("runs", "list", "--project", str(root))
    assert listed.exit_code == 0
    assert "failed" in listed.output
    shown = invoke("runs", "show", "1", "--project", str(root))
    assert shown.exit_code == 0
    assert "KeyError" in shown.output
    assert "about to fail" in shown.output  # the log tail
    assert "block_attempt.py" not in shown.output  # Weir's own frames only on request
    full = invoke("runs", "show", "1", "--project", str(root), "--full-traceback")
    assert "block_attempt.py" in full.output


def test_configuration_errors_exit_2_naming_the_file(tmp_path: Path) -> None:
    root = write_project(tmp_path / "proj", "p", [BlockDef("a", "x = 1\n", upstream=["a"])])
    result = runner.invoke(app, ["run", str(root), "p"])
    assert result.exit_code == 2
    assert "metadata.yaml" in result.output
    assert "cycle" in result.output


def test_unknown_run_id(tmp_path: Path) -> None:
    root = write_project(tmp_path / "proj", "p", [BlockDef("a", "x = 1\n")])
    result = runner.invoke(app, ["runs", "show", "99", "--project", str(root)])
    assert result.exit_code == 2
    assert "99" in result.output


def test_console_script_help_runs() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "weir.cli", "--help"], capture_output=True, text=True, check=True
    )
    assert "run" in result.stdout
    assert "init" in result.stdout
