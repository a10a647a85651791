from __future__ import annotations

import pytest

from weir.blocks.sql.sqltext import (
    SqlPosition,
    excerpt,
    position_at_offset,
    single_statement,
    split_statements,
    sql_failure,
)


def test_split_ignores_semicolons_in_strings_comments_and_dollar_quotes() -> None:
    sql = (
        "SELECT 'a;b', \"c;d\" -- e;f\n;"
        "CREATE FUNCTION f() RETURNS int AS $body$ SELECT 1; $body$ LANGUAGE sql;"
        "/* g; */ SELECT 2;\n-- trailing; comment\n"
    )
    assert [s.strip() for s in split_statements(sql)] == [
        "SELECT 'a;b', \"c;d\" -- e;f",
        "CREATE FUNCTION f() RETURNS int AS $body$ SELECT 1; $body$ LANGUAGE sql",
        "/* g; */ SELECT 2",
    ]


def test_backslash_escapes_only_when_asked() -> None:
    sql = r"SELECT 'it\'s; here'; SELECT 2"
    assert len(split_statements(sql, backslash_escapes=True)) == 2
    # Standard SQL: the string ends at the quote after the backslash.
    assert len(split_statements(r"SELECT 'C:\'; SELECT 2")) == 2


def test_single_statement_keeps_the_start_and_drops_the_tail() -> None:
    assert single_statement("\n\nSELECT 1 -- note\n;  -- done\n") == "\n\nSELECT 1 -- note"
    assert single_statement("SELECT 1; SELECT 2") is None
    assert single_statement("-- nothing\n") is None


def test_position_at_offset() -> None:
    sql = "SELECT a,\n  nocol\nFROM t"
    assert position_at_offset(sql, sql.index("nocol")) == SqlPosition(line=2, column=3)
    assert position_at_offset(sql, 10_000) is None


def test_excerpt_marks_the_error_line_and_column() -> None:
    sql = "\n".join(f"line{n}" for n in range(1, 21))
    shown = excerpt(sql, SqlPosition(line=15, column=3))
    lines = shown.splitlines()
    assert lines[0] == "   1 | line1"
    assert "> 15 | line15" in lines
    assert lines[lines.index("> 15 | line15") + 1] == "     |   ^"
    assert "   9 | line9" not in lines
    assert "  9 | line9" not in lines
    assert lines[-1].endswith("(20 lines in all)")


@pytest.mark.parametrize("position", [None, SqlPosition(line=1, column=8)])
def test_sql_failure_names_provider_database_and_shows_sql(position: SqlPosition | None) -> None:
    error = sql_failure(
        "b1",
        provider="postgres",
        database="h:5432/db",
        sql="SELECT nocol FROM t",
        error=ValueError("column nocol does not exist"),
        position=position,
    )
    message = str(error)
    assert message.startswith("block 'b1': postgres SQL failed on h:5432/db")
    assert "ValueError: column nocol does not exist" in message
    assert "1 | SELECT nocol FROM t" in message
    assert ("at line 1, column 8" in message) == (position is not None)
