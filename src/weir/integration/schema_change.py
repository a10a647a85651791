"""Plan how an existing destination table follows its source: add columns, widen types.

Destinations read their table's columns, map the types they know to `Column`s, and ask
`plan_table_change` what to do. The plan is made before anything is altered, so an
incompatible change raises with the table untouched.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

from weir.integration.columns import Column, widen
from weir.integration.errors import SchemaChangeError

__all__ = ["TableChange", "plan_table_change"]


@dataclass(frozen=True, slots=True)
class TableChange:
    """What to alter before writing.

    Attributes:
        add: columns the table lacks, to add (nullable).
        widen: existing columns to change to the wider type given.
    """

    add: tuple[Column, ...] = ()
    widen: tuple[Column, ...] = ()

    @property
    def empty(self) -> bool:
        """True when the table needs no change."""
        return not self.add and not self.widen


def plan_table_change(
    existing: Mapping[str, Column],
    unmapped: Collection[str],
    wanted: Sequence[Column],
    *,
    stream: str,
    table: str,
) -> TableChange:
    """Compare a destination table with the columns about to be written.

    Args:
        existing: the table's columns whose types the destination maps to a column kind.
        unmapped: names of the table's other columns (types Weir does not map, e.g. `inet`);
            they are written as they are and the database casts the values.
        wanted: the stream's columns.
        stream: the stream name, for the error message.
        table: the table's qualified name, for the error message.

    Returns:
        The columns to add and to widen. Columns the table has and the stream does not are
        left alone (new rows get NULL there).

    Raises:
        SchemaChangeError: a column's new type cannot be stored in the old one, nor the old
            one widened to hold it (e.g. TEXT became BIGINT). Names every such column.
    """
    add: list[Column] = []
    wider: list[Column] = []
    clashes: list[str] = []
    for column in wanted:
        if column.name in unmapped:
            continue
        old = existing.get(column.name)
        if old is None:
            add.append(Column(column.name, column.kind, True, column.precision, column.scale))
            continue
        new = widen(old, column)
        if new is None:
            clashes.append(f"'{column.name}' {_describe(old)} -> {_describe(column)}")
        elif new != old:
            wider.append(new)
    if clashes:
        raise SchemaChangeError(
            f"table {table} cannot take the new column types ({', '.join(clashes)}). The table "
            "was left as it was. Convert the column yourself, rename or drop the table, or "
            "switch the stream to FULL_TABLE to rebuild it",
            stream=stream,
        )
    return TableChange(add=tuple(add), widen=tuple(wider))


def _describe(column: Column) -> str:
    if column.precision is not None:
        return f"{column.kind.value}({column.precision},{column.scale})"
    return column.kind.value
