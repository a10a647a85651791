"""Stand-in for `mage_ai.io.file`: read and write local files as DataFrames.

```python
df = FileIO().load('data/input.csv')
FileIO().export(df, 'data/output.parquet')
```

The format comes from the extension (`csv`, `json`, `parquet`, `hdf5`) unless `format` is given;
extra keyword arguments go to the pandas reader or writer, as in Mage. Mage's quirk kept: pandas'
own defaults apply, so `export` to CSV writes the index as a first column unless `index=False`.

Differences from Mage: a relative path is taken from the project folder (Mage resolves it from
its working directory, which is the project folder); `export` creates missing folders and writes
to a temporary file renamed into place, so a reader never sees half a file.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from weir.compat.context import current_project_root
from weir.compat.mage.io.base import BaseIO, FileFormat

__all__ = ["FileIO"]

_EXTENSIONS = {"csv": "csv", "json": "json", "parquet": "parquet", "hdf5": "hdf5", "h5": "hdf5"}


class FileIO(BaseIO):
    """The local file system (Mage's `mage_ai.io.file.FileIO`).

    Args:
        verbose: print what is read and written (off by default, as in Mage).
    """

    def __init__(self, verbose: bool = False) -> None:
        super().__init__(verbose=verbose)

    def load(
        self,
        filepath: str | os.PathLike[str] | None = None,
        format: str | FileFormat | None = None,
        file_directories: Sequence[str | os.PathLike[str]] | None = None,
        **kwargs: Any,
    ) -> pd.DataFrame:
        """Read a file, or every file of some folders (concatenated), as a DataFrame.

        Args:
            filepath: the file (relative: from the project folder).
            format: `csv`, `json`, `parquet` or `hdf5`; default from the file's extension.
            file_directories: read every file in these folders (recursively) instead.
            **kwargs: passed to `pandas.read_<format>`.

        Returns:
            The rows.

        Raises:
            ValueError: neither `filepath` nor `file_directories`, or an unknown format.
            FileNotFoundError: the file does not exist.
        """
        if file_directories:
            paths = [p for folder in file_directories for p in _files_in(_absolute(folder))]
            frames = [_reader(_format_of(p, format))(p, **kwargs) for p in paths]
            folders = ", ".join(map(str, file_directories))
            self._say(True, f"loaded {len(paths)} file(s) from {folders}")
            return pd.concat(frames, axis=0, ignore_index=True) if frames else pd.DataFrame()
        if filepath is None:
            raise ValueError("FileIO.load() needs a filepath or file_directories")
        path = _absolute(filepath)
        frame: pd.DataFrame = _reader(_format_of(path, format))(path, **kwargs)
        self._say(True, f"loaded {len(frame)} rows from {path}")
        return frame

    def export(
        self,
        df: Any,
        filepath: str | os.PathLike[str],
        format: str | FileFormat | None = None,
        **kwargs: Any,
    ) -> None:
        """Write a DataFrame to a file, replacing it atomically.

        Args:
            df: a pandas DataFrame (or anything `pandas.DataFrame()` accepts).
            filepath: the file (relative: from the project folder); folders are created.
            format: `csv`, `json`, `parquet` or `hdf5`; default from the file's extension.
            **kwargs: passed to `DataFrame.to_<format>`.

        Raises:
            ValueError: an unknown format.
        """
        frame = df if isinstance(df, pd.DataFrame) else pd.DataFrame(df)
        path = _absolute(filepath)
        kind = _format_of(path, format)
        path.parent.mkdir(parents=True, exist_ok=True)
        # Hidden, and ending like the file, so pandas infers the same compression (`.csv.gz`).
        partial = path.with_name(f".{secrets.token_hex(4)}.{path.name}")
        if kind == "hdf5":
            kwargs.setdefault("key", path.stem)  # Mage's default key: the file's stem
        try:
            getattr(frame, f"to_{_WRITERS[kind]}")(partial, **kwargs)
            partial.replace(path)
        finally:
            partial.unlink(missing_ok=True)
        self._say(True, f"exported {len(frame)} rows to {path}")

    def exists(self, filepath: str | os.PathLike[str]) -> bool:
        """Whether the file exists (relative: from the project folder)."""
        return _absolute(filepath).exists()


_COMPRESSIONS = frozenset({"gz", "bz2", "zip", "xz", "zst", "tar"})
_WRITERS = {"csv": "csv", "json": "json", "parquet": "parquet", "hdf5": "hdf"}


def _reader(kind: str) -> Callable[..., Any]:
    readers: dict[str, Callable[..., Any]] = {
        "csv": pd.read_csv,
        "json": pd.read_json,
        "parquet": pd.read_parquet,
        "hdf5": pd.read_hdf,
    }
    return readers[kind]


def _format_of(path: Path, given: str | FileFormat | None) -> str:
    suffixes = [s[1:].lower() for s in path.suffixes]
    if len(suffixes) > 1 and suffixes[-1] in _COMPRESSIONS:
        suffixes.pop()  # data.csv.gz is CSV, compressed (pandas infers the compression)
    name = str(given.value if isinstance(given, FileFormat) else given or (suffixes or [""])[-1])
    kind = _EXTENSIONS.get(name.lower())
    if kind is None:
        raise ValueError(
            f"cannot tell the format of {path} ({name!r}); name it with format= one of "
            "'csv', 'json', 'parquet', 'hdf5'"
        )
    return kind


def _absolute(path: str | os.PathLike[str]) -> Path:
    candidate = Path(path).expanduser()
    return candidate if candidate.is_absolute() else current_project_root() / candidate


def _files_in(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and not p.name.startswith("."))
