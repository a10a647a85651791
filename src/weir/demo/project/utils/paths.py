"""Where the demo's input files and outputs live, relative to the project folder."""

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DATA = PROJECT_ROOT / "data"
OUTPUT = PROJECT_ROOT / "output"
WAREHOUSE = PROJECT_ROOT / "warehouse.duckdb"
