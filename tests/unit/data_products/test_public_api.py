"""The package's public surface is deliberate: exactly these names, all importable."""

from __future__ import annotations

import subprocess
import sys

import pytest

import weir.data_products as data_products
from weir.data_products import preview, store


def test_curated_all() -> None:
    assert sorted(data_products.__all__) == [
        "DataProductStore",
        "OutputInfo",
        "Preview",
        "TableFormat",
        "preview_output",
        "preview_value",
        "render_preview",
    ]
    for name in data_products.__all__:
        assert getattr(data_products, name) is not None
    assert store.__all__ == ["DataProductStore", "OutputInfo"]
    assert preview.__all__ == ["Preview", "preview_output", "preview_value", "render_preview"]


def test_polars_is_not_imported_unless_a_polars_output_is_read() -> None:
    script = (
        "import sys, tempfile, pathlib, pandas as pd\n"
        "from weir.data_products import DataProductStore, preview_value\n"
        "store = DataProductStore(pathlib.Path(tempfile.mkdtemp()))\n"
        "store.write(1, 'b', [pd.DataFrame({'a': [1]}), {'k': 1}])\n"
        "store.read(1, 'b')\n"
        "preview_value(pd.DataFrame({'a': [1]}))\n"
        "print('polars' in sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "False"


def test_polars_frames_are_recognised_by_module_not_by_class_name() -> None:
    from weir.data_products._table_codecs import _is_polars_frame

    class DataFrame:  # the same class name in another module is not polars
        pass

    assert not _is_polars_frame(DataFrame())
    pl = pytest.importorskip("polars")
    assert _is_polars_frame(pl.DataFrame({"a": [1]}))
