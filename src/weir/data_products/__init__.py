"""Data products: the persisted outputs of block runs, and previews of them.

```python
store = DataProductStore(project_root / ".weir" / "pipeline_runs")
infos = store.write(run_id, "load_data", [frame])      # output_0/data.arrow + meta.json
frame = store.read_output(run_id, "load_data")        # the same DataFrame, dtypes and index kept
console.print(render_preview(preview_output(infos[0]), "load_data · output_0"))
```

Run outputs are Arrow IPC files by default (`formats.DEFAULT_TABLE_FORMAT`), Parquet on request.
How each kind of value is stored is in `_codecs` and `_table_codecs`; file options in `_arrow_io`.
Importing this package does not import pandas or pyarrow: the codecs load them when a table
is written or read, and the preview names below load on first use.
"""

from typing import Any

from weir.data_products.formats import TableFormat
from weir.data_products.store import DataProductStore, OutputInfo

__all__ = [
    "DataProductStore",
    "OutputInfo",
    "Preview",
    "TableFormat",
    "preview_output",
    "preview_value",
    "render_preview",
]

_PREVIEW_NAMES = frozenset({"Preview", "preview_output", "preview_value", "render_preview"})


def __getattr__(name: str) -> Any:
    if name in _PREVIEW_NAMES:
        from weir.data_products import preview

        return getattr(preview, name)
    raise AttributeError(f"module 'weir.data_products' has no attribute {name!r}")
