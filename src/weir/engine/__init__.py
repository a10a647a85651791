"""Executing pipeline runs: planning, the ready-block loop, attempts, logs, process isolation.

Entry point: `weir.engine.runner.run_pipeline`. Imported lazily by the CLI, since it pulls in the
metadata database (SQLAlchemy).
"""
