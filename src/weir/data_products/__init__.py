"""Data products: the persisted outputs of block runs, and previews of them.

```python
store = DataProductStore(project_root / ".weir" / "pipeline_runs")
infos = store.write(run_id, "load_data", [frame])      # output_0/data.parquet + meta.json
frame = store.read_output(run_id, "load_data")        # the same DataFrame, dtypes and index kept
console.print(render_preview(preview_output(infos[0]), "load_data · output_0"))
```

How each kind of value is stored is in `weir.data_products._codecs`; file options in `_arrow_io`.
"""

from weir.data_products._arrow_io import TableFormat
from weir.data_products.preview import Preview, preview_output, preview_value, render_preview
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
