"""Small helpers on SQL text: count statements, strip the trailing `;`, quote names, show errors.

The scanner knows quoted strings (`'..'`, `".."`, backticks), PostgreSQL dollar quotes
(`$tag$..$tag$`) and comments (`-- ..`, `/* .. */`), enough to split a block's text into statements
without being fooled by a `;` inside a string. The database still parses every statement itself.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from weir.errors import BlockExecutionError

__all__ = [
    "SqlPosition",
    "excerpt",
    "position_at_offset",
    "quote_backtick",
    "quote_double",
    "single_statement",
    "split_statements",
    "sql_failure",
    "sql_literal",
]

EXCERPT_LINES = 8
_DOLLAR_TAG = re.compile(r"\$[A-Za-z_0-9]*\$")


@dataclass(frozen=True, slots=True)
class SqlPosition:
    """A place in the rendered SQL: 1-based line, and 1-based column when known."""

    line: int
    column: int | None = None


def split_statements(sql: str, *, backslash_escapes: bool = False) -> list[str]:
    r"""Split SQL text at top-level `;`, dropping empty and comment-only pieces.

    Args:
        sql: one or more statements.
        backslash_escapes: `\'` does not end a string (MySQL); PostgreSQL and DuckDB say no.

    Returns:
        The statements' text without the separating `;`, in order.
    """
    return [sql[start:end] for start, end in _statement_spans(sql, backslash_escapes)]


def single_statement(sql: str, *, backslash_escapes: bool = False) -> str | None:
    """Return `sql` up to the end of its one statement, or None if it has several or none.

    Args:
        sql: rendered SQL of a block.
        backslash_escapes: as for `split_statements`.

    Returns:
        The text from its start (so line numbers stay those of the block) to the end of the
        statement, without the trailing `;`, comments and whitespace; None when the text holds
        more than one statement or none.
    """
    spans = _statement_spans(sql, backslash_escapes)
    if len(spans) != 1:
        return None
    return sql[: spans[0][1]].rstrip()


def _statement_spans(sql: str, backslash_escapes: bool) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    start = index = 0
    while index < len(sql):
        end = _skip_token(sql, index, backslash_escapes)
        if end == index + 1 and sql[index] == ";":
            spans.append((start, index))
            start = end
        index = end
    spans.append((start, len(sql)))
    return [span for span in spans if _has_code(sql[span[0] : span[1]])]


def _skip_token(sql: str, index: int, backslash_escapes: bool = False) -> int:
    """Index just past the quoted string, comment or single character starting at `index`."""
    char = sql[index]
    if char in "'\"`":
        return _skip_quoted(sql, index, char, backslash_escapes)
    if sql.startswith("--", index):
        newline = sql.find("\n", index)
        return len(sql) if newline < 0 else newline
    if sql.startswith("/*", index):
        close = sql.find("*/", index + 2)
        return len(sql) if close < 0 else close + 2
    if char == "$":
        match = _DOLLAR_TAG.match(sql, index)
        if match:
            close = sql.find(match.group(), match.end())
            return len(sql) if close < 0 else close + len(match.group())
    return index + 1


def _skip_quoted(sql: str, index: int, quote: str, backslash_escapes: bool) -> int:
    position = index + 1
    while position < len(sql):
        if backslash_escapes and sql[position] == "\\" and quote in "'\"":
            position += 2
            continue
        if sql[position] == quote:
            if sql.startswith(quote * 2, position):
                position += 2
                continue
            return position + 1
        position += 1
    return len(sql)


def _has_code(piece: str) -> bool:
    index = 0
    while index < len(piece):
        end = _skip_token(piece, index, backslash_escapes=True)
        if end == index + 1 and not piece[index].isspace():
            return True
        if end > index + 1 and not piece.startswith(("--", "/*"), index):
            return True
        index = end
    return False


def quote_double(name: str) -> str:
    """Quote an identifier for PostgreSQL or DuckDB: `"name"`, doubling inner quotes."""
    return '"' + name.replace('"', '""') + '"'


def quote_backtick(name: str) -> str:
    """Quote an identifier for MySQL/MariaDB: `` `name` ``, doubling inner backticks."""
    return "`" + name.replace("`", "``") + "`"


def sql_literal(text: str) -> str:
    """Quote a string constant: `'text'`, doubling inner single quotes."""
    return "'" + text.replace("'", "''") + "'"


def position_at_offset(sql: str, offset: int) -> SqlPosition | None:
    """Turn a 0-based character offset into a line and column, or None if out of range."""
    if offset < 0 or offset > len(sql):
        return None
    before = sql[:offset]
    line = before.count("\n") + 1
    return SqlPosition(line=line, column=offset - (before.rfind("\n") + 1) + 1)


def excerpt(sql: str, position: SqlPosition | None = None) -> str:
    """Show the first lines of SQL, numbered, with the error line marked when known.

    Args:
        sql: the rendered SQL of the block.
        position: where the database says the error is, if it says.

    Returns:
        Up to `EXCERPT_LINES` numbered lines (plus the lines around the error when it is further
        down), `>` marking the error line and `^` under its column.
    """
    lines = sql.splitlines() or [""]
    shown = set(range(min(len(lines), EXCERPT_LINES)))
    if position is not None and 1 <= position.line <= len(lines):
        shown |= set(range(max(0, position.line - 3), min(len(lines), position.line + 2)))
    width = len(str(max(shown) + 1))
    out: list[str] = []
    previous = -1
    for index in sorted(shown):
        if index != previous + 1:
            out.append(f"  {'.' * width} | ...")
        is_error = position is not None and index + 1 == position.line
        out.append(f"{'>' if is_error else ' '} {index + 1:>{width}} | {lines[index]}")
        if is_error and position is not None and position.column:
            out.append(f"  {' ' * width} | {' ' * (position.column - 1)}^")
        previous = index
    if max(shown) + 1 < len(lines):
        out.append(f"  {'.' * width} | ... ({len(lines)} lines in all)")
    return "\n".join(out)


def sql_failure(
    block_uuid: str,
    *,
    provider: str,
    database: str,
    sql: str,
    error: BaseException,
    position: SqlPosition | None = None,
) -> BlockExecutionError:
    """Build the error raised when the database rejects a block's SQL.

    Args:
        block_uuid: the failing block.
        provider: `duckdb`, `postgres` or `mysql`.
        database: the database as `describe()` names it (no secrets).
        sql: the rendered SQL of the block (not the wrapper Weir sent around it).
        error: the driver's exception.
        position: where in `sql` the error is, when the driver says.

    Returns:
        A `BlockExecutionError` naming provider, database, error, and showing the SQL; raise it
        `from error` so the driver's exception stays as `__cause__`.
    """
    where = f" at line {position.line}" if position is not None else ""
    if position is not None and position.column:
        where += f", column {position.column}"
    message = (
        f"{provider} SQL failed on {database}{where}: {type(error).__name__}: "
        f"{str(error).strip()}\nrendered SQL:\n{excerpt(sql, position)}"
    )
    return BlockExecutionError(block_uuid, message)
