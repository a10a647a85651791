import pytest
import typer

from weir.cli.run_command import parse_variables


def test_pairs_are_json_when_they_can_be() -> None:
    assert parse_variables(["n=3", "flag=true", "name=ann", "items=[1,2]"], None) == {
        "n": 3,
        "flag": True,
        "name": "ann",
        "items": [1, 2],
    }


def test_pairs_win_over_runtime_json() -> None:
    assert parse_variables(["a=2"], '{"a": 1, "b": 1}') == {"a": 2, "b": 1}


@pytest.mark.parametrize(("pairs", "runtime"), [(["novalue"], None), ([], "[1]"), ([], "{bad")])
def test_bad_input_is_a_clear_error(pairs: list[str], runtime: str | None) -> None:
    with pytest.raises(typer.BadParameter):
        parse_variables(pairs, runtime)
