"""Block outputs on disk: one folder per output of each block run, written atomically.

Layout under the store's root (the engine passes `<data_dir>/pipeline_runs`):

```
<root>/<pipeline_run_id>/<block_uuid>/output_<n>/data.arrow  (or .parquet, .json, .pickle)
                                                /meta.json
```

`meta.json` is `{"kind", "format", "file", "rows", "columns", "bytes", "schema"}` (see
`OutputInfo`). A block uuid is percent-encoded into one folder name, so Mage's nested block uuids
(`folder/name`) never nest one block's folder inside another's.

A block's outputs are written into a hidden sibling folder (`.<block>.<random>.tmp`) and renamed
into place, so a folder named after a block is always complete; an earlier output of the same run
and block is moved aside (`.<block>.<random>.old`) first and deleted after. A crash between the two
renames leaves no output for that block (the block must run again), never a partial one.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Final
from urllib.parse import quote
from uuid import uuid4

import orjson

from weir.data_products._codecs import CODECS, CannotEncodeError
from weir.data_products.formats import DEFAULT_TABLE_FORMAT, TableFormat
from weir.errors import DataProductError

__all__ = ["DataProductStore", "OutputInfo"]

META_FILE: Final = "meta.json"
_FORMATS: Final = frozenset({"parquet", "arrow", "json", "pickle"})
_OUTPUT_DIR: Final = re.compile(r"output_(\d+)")


@dataclass(frozen=True, slots=True)
class OutputInfo:
    """One persisted output of a block run, as described by its `meta.json`.

    Attributes:
        index: position among the block's outputs (`output_<index>`), from 0.
        kind: `pandas`, `series`, `polars`, `arrow`, `json` or `pickle` (what `read` returns).
        format: `parquet`, `arrow` (Arrow IPC file), `json` or `pickle`.
        path: absolute path of the data file (`.../output_<index>/data.parquet`).
        rows: number of rows (length of a JSON list or dict; first dimension of a pickled object
            with a `shape`), or None when unknown.
        columns: number of columns (a frame's index not counted), or None.
        bytes: size of the data file in bytes.
        schema: `((column, type), ...)` with types in the object's own library's terms (pandas
            dtype, polars dtype or Arrow type names), or None for JSON and pickle.
    """

    index: int
    kind: str
    format: str
    path: Path
    rows: int | None
    columns: int | None
    bytes: int
    schema: tuple[tuple[str, str], ...] | None


def _rerun_hint(block_uuid: str) -> str:
    return f"Run the upstream block first: weir run PROJECT PIPELINE --block {block_uuid}"


def _error(run_id: int, block_uuid: str, problem: str, hint: str) -> DataProductError:
    return DataProductError(f"run {run_id}, block '{block_uuid}': {problem}. {hint}")


class DataProductStore:
    """Writes and reads the outputs of block runs under one root folder.

    Safe for concurrent use by threads or processes as long as each (run, block) pair has one
    writer at a time, which the engine guarantees.

    Args:
        root: the folder holding one folder per pipeline run; created on first write.
        table_format: how table-like outputs (pandas, polars, pyarrow) are written: `parquet`
            (zstd level 1, smaller) or `arrow` (uncompressed Arrow IPC, ~10x faster to write and
            memory-mapped when read).

    Raises:
        DataProductError: `table_format` is neither `parquet` nor `arrow`.
    """

    def __init__(self, root: Path, *, table_format: TableFormat = DEFAULT_TABLE_FORMAT) -> None:
        if table_format not in ("parquet", "arrow"):
            raise DataProductError(
                f"table_format must be 'parquet' or 'arrow', not {table_format!r}"
            )
        self._root = Path(root)
        self._table_format: TableFormat = table_format

    @property
    def root(self) -> Path:
        """The folder holding one folder per pipeline run."""
        return self._root

    @property
    def table_format(self) -> TableFormat:
        """The format table-like outputs are written in."""
        return self._table_format

    def block_dir(self, run_id: int, block_uuid: str) -> Path:
        """The folder of one block's outputs in one run: `<root>/<run_id>/<block_uuid>`.

        Args:
            run_id: the pipeline run's id (an integer >= 0).
            block_uuid: the block's uuid; `/` and other characters unsafe in a file name are
                percent-encoded (`folder/name` -> `folder%2Fname`).

        Raises:
            DataProductError: the run id is not a non-negative integer, or the uuid is empty or
                starts with `.` (those names are reserved for the store's temporary folders).
        """
        if not block_uuid or block_uuid.startswith("."):
            raise DataProductError(
                f"block uuid {block_uuid!r} cannot name a data product folder: it must be "
                "non-empty and not start with '.'; rename the block"
            )
        return self._run_dir(run_id) / quote(block_uuid, safe="")

    def _run_dir(self, run_id: int) -> Path:
        if isinstance(run_id, bool) or not isinstance(run_id, int) or run_id < 0:
            raise DataProductError(f"run id must be an integer >= 0, not {run_id!r}")
        return self._root / str(run_id)

    def write(
        self, run_id: int, block_uuid: str, outputs: Sequence[object]
    ) -> tuple[OutputInfo, ...]:
        """Persist all outputs of one block run, replacing any earlier ones of that run and block.

        Args:
            run_id: the pipeline run's id.
            block_uuid: the block's uuid.
            outputs: the block's return values in order (`output_0`, `output_1`, ...); may be
                empty, which records that the block ran and returned nothing.

        Returns:
            One `OutputInfo` per output, in order, with paths at their final place.

        Raises:
            DataProductError: an output cannot be encoded even by pickle (the message names its
                index and type), or the disk refused the write. Earlier outputs stay untouched.
        """
        final = self.block_dir(run_id, block_uuid)
        staging = final.with_name(f".{final.name}.{uuid4().hex}.tmp")
        try:
            staging.mkdir(parents=True)
            infos = tuple(
                self._write_output(staging, index, value, run_id, block_uuid)
                for index, value in enumerate(outputs)
            )
            _replace_dir(staging, final)
        except OSError as exc:
            raise _error(
                run_id,
                block_uuid,
                f"could not write its outputs under {final.parent} ({exc})",
                f"Check free disk space and the permissions of {self._root}.",
            ) from exc
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return tuple(replace(i, path=final / i.path.relative_to(staging)) for i in infos)

    def _write_output(
        self, staging: Path, index: int, value: object, run_id: int, block_uuid: str
    ) -> OutputInfo:
        folder = staging / f"output_{index}"
        folder.mkdir()
        try:
            kind, encoded = CODECS.encode(value, folder, self._table_format)
        except CannotEncodeError as exc:
            raise _error(
                run_id,
                block_uuid,
                f"output {index} ({type(value).__qualname__}) cannot be persisted: {exc}",
                "Return a DataFrame, a pyarrow Table, JSON-serialisable values or a picklable "
                "object.",
            ) from exc
        path = folder / encoded.file
        info = OutputInfo(
            index=index,
            kind=kind,
            format=encoded.format,
            path=path,
            rows=encoded.rows,
            columns=encoded.columns,
            bytes=path.stat().st_size,
            schema=encoded.schema,
        )
        (folder / META_FILE).write_bytes(orjson.dumps(_meta_dict(info), option=orjson.OPT_INDENT_2))
        return info

    def info(self, run_id: int, block_uuid: str) -> tuple[OutputInfo, ...]:
        """Describe one block run's outputs from their `meta.json` files, without reading data.

        Returns:
            One `OutputInfo` per output, in order; empty if the block returned nothing.

        Raises:
            DataProductError: nothing was written for this run and block, or an output folder
                is malformed (missing or invalid `meta.json`, missing data file, gaps in the
                numbering). The message names the path and what to do.
        """
        folder = self.block_dir(run_id, block_uuid)
        if not folder.is_dir():
            raise _error(
                run_id, block_uuid, f"no data product at {folder}", _rerun_hint(block_uuid)
            )
        matches = (_OUTPUT_DIR.fullmatch(p.name) for p in folder.iterdir())
        indexes = sorted(int(m.group(1)) for m in matches if m)
        if indexes != list(range(len(indexes))):
            raise _error(
                run_id,
                block_uuid,
                f"output folders {indexes} under {folder} are not numbered 0..n-1",
                f"Delete {folder} and re-run the block.",
            )
        return tuple(self._load_info(folder, i, run_id, block_uuid) for i in indexes)

    def _load_info(self, folder: Path, index: int, run_id: int, block_uuid: str) -> OutputInfo:
        meta_path = folder / f"output_{index}" / META_FILE
        try:
            info = _parse_meta(meta_path.read_bytes(), index, meta_path.parent)
            if not info.path.is_file():
                raise ValueError(f"its data file {info.path.name} is missing")
        except (OSError, ValueError) as exc:
            raise _error(
                run_id,
                block_uuid,
                f"output {index} is corrupt: {exc} ({meta_path})",
                f"Re-run the block to rewrite it: weir run PROJECT PIPELINE --block {block_uuid}",
            ) from exc
        return info

    def read(self, run_id: int, block_uuid: str) -> tuple[object, ...]:
        """Read every output of one block run, in order.

        Returns:
            The objects, each of the type its `kind` names (see `OutputInfo.kind`).

        Raises:
            DataProductError: as `info`, or a data file cannot be decoded.
        """
        return tuple(self._load(i, run_id, block_uuid) for i in self.info(run_id, block_uuid))

    def read_output(self, run_id: int, block_uuid: str, index: int = 0) -> object:
        """Read one output of one block run.

        Args:
            run_id: the pipeline run's id.
            block_uuid: the block's uuid.
            index: which output (`output_<index>`), from 0.

        Raises:
            DataProductError: as `read`, or the block has no output at `index`.
        """
        infos = self.info(run_id, block_uuid)
        if not 0 <= index < len(infos):
            raise _error(
                run_id,
                block_uuid,
                f"no output {index}: the block has {len(infos)} output(s) at "
                f"{self.block_dir(run_id, block_uuid)}",
                "Use an index between 0 and the number of values the block returns, minus 1.",
            )
        return self._load(infos[index], run_id, block_uuid)

    def _load(self, info: OutputInfo, run_id: int, block_uuid: str) -> object:
        codec = CODECS.for_kind(info.kind)
        assert codec is not None, "kinds are checked when meta.json is parsed"
        try:
            return codec.read(info.path, info.format)
        # Any failure of the decoder means the same to the user: this file cannot be used.
        except Exception as exc:
            raise _error(
                run_id,
                block_uuid,
                f"output {info.index} could not be read as {info.kind} "
                f"({type(exc).__name__}: {exc}) from {info.path}",
                "If a module is missing, install it; if the file is damaged, re-run the block: "
                f"weir run PROJECT PIPELINE --block {block_uuid}",
            ) from exc

    def exists(self, run_id: int, block_uuid: str) -> bool:
        """Whether outputs of this block in this run were written (completely, by construction)."""
        return self.block_dir(run_id, block_uuid).is_dir()

    def delete_run(self, run_id: int) -> None:
        """Delete every output of one pipeline run, leftovers of crashed writes included.

        Does nothing if the run has no outputs.

        Raises:
            DataProductError: the folder could not be deleted (permissions, busy file system).
        """
        folder = self._run_dir(run_id)
        try:
            shutil.rmtree(folder)
        except FileNotFoundError:
            return
        except OSError as exc:
            raise DataProductError(
                f"run {run_id}: could not delete its data products at {folder} ({exc}). "
                "Check the folder's permissions and delete it by hand."
            ) from exc


def _replace_dir(staging: Path, final: Path) -> None:
    """Move `staging` to `final`, moving an existing `final` aside first and deleting it after."""
    old: Path | None = None
    if final.exists():
        old = final.with_name(f".{final.name}.{uuid4().hex}.old")
        os.rename(final, old)
    os.rename(staging, final)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _meta_dict(info: OutputInfo) -> dict[str, Any]:
    """The `meta.json` content of an output."""
    return {
        "kind": info.kind,
        "format": info.format,
        "file": info.path.name,
        "rows": info.rows,
        "columns": info.columns,
        "bytes": info.bytes,
        "schema": None if info.schema is None else [list(pair) for pair in info.schema],
    }


def _field(meta: dict[str, Any], key: str, *types: type) -> Any:
    """`meta[key]` if present and of one of `types` (bool is not accepted as int)."""
    if key not in meta:
        raise ValueError(f"meta.json has no {key!r}")
    value = meta[key]
    if (isinstance(value, bool) and bool not in types) or not isinstance(value, types):
        expected = " or ".join(t.__name__ for t in types)
        raise ValueError(f"meta.json {key!r} is {value!r}, not {expected}")
    return value


def _parse_meta(raw: bytes, index: int, folder: Path) -> OutputInfo:
    """An `OutputInfo` from `meta.json` bytes, checking every field.

    Raises:
        ValueError: not JSON, or a field is missing, of the wrong type or unknown.
    """
    meta = orjson.loads(raw)
    if not isinstance(meta, dict):
        raise ValueError("meta.json is not a JSON object")
    kind = _field(meta, "kind", str)
    if CODECS.for_kind(kind) is None:
        raise ValueError(f"meta.json kind {kind!r} is unknown")
    file_format = _field(meta, "format", str)
    if file_format not in _FORMATS:
        raise ValueError(f"meta.json format {file_format!r} is unknown")
    file = _field(meta, "file", str)
    if not file or Path(file).name != file or file.startswith("."):
        raise ValueError(f"meta.json file {file!r} is not a file name")
    schema = _field(meta, "schema", list, type(None))
    if schema is not None and not all(
        isinstance(p, list) and len(p) == 2 and all(isinstance(s, str) for s in p) for p in schema
    ):
        raise ValueError("meta.json schema is not a list of [name, type] pairs")
    return OutputInfo(
        index=index,
        kind=kind,
        format=file_format,
        path=folder / file,
        rows=_field(meta, "rows", int, type(None)),
        columns=_field(meta, "columns", int, type(None)),
        bytes=_field(meta, "bytes", int),
        schema=None if schema is None else tuple((p[0], p[1]) for p in schema),
    )
