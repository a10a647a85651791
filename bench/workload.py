"""The 1M-row workload shared by the plain pandas script and the Weir pipeline in bench_engine.py.

Both sides run exactly these functions, so the comparison measures the engine, not the work.
"""

import numpy as np
import pandas as pd

ROWS = 1_000_000


def make_frame(rows: int = ROWS) -> pd.DataFrame:
    """Six columns: int64 id, int64 quantity, float64 price, string category, timestamp, bool."""
    rng = np.random.default_rng(42)
    return pd.DataFrame(
        {
            "id": np.arange(rows, dtype="int64"),
            "quantity": rng.integers(1, 10, rows),
            "price": rng.random(rows) * 100,
            "category": rng.choice(np.array(["books", "music", "games", "films"]), rows),
            "sold_at": pd.Timestamp("2026-01-01")
            + pd.to_timedelta(rng.integers(0, 86400 * 365, rows), unit="s"),
            "returned": rng.random(rows) < 0.05,
        }
    )


def add_total(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.assign(total=frame["price"] * frame["quantity"])


def add_day(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.assign(day=frame["sold_at"].dt.floor("D"))


def keep_kept_sales(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[~frame["returned"]]
