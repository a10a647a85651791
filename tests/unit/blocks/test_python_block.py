import logging
import textwrap
from datetime import UTC, datetime
from pathlib import Path

import pytest

from weir.blocks.base import BlockRequest, UpstreamInput
from weir.blocks.python_block import execute_python_block, normalize_outputs
from weir.errors import BlockExecutionError, BlockLoadError, BlockTestError

MAGE_STYLE = """
    if 'transformer' not in globals():
        from mage_ai.data_preparation.decorators import transformer
    if 'test' not in globals():
        from mage_ai.data_preparation.decorators import test


    @transformer
    def transform(data, *args, **kwargs):
        return [x * kwargs['factor'] for x in data]


    @test
    def test_output(output, *args) -> None:
        assert output is not None, 'The output is undefined'
"""


def _request(tmp_path: Path, code: str, *, upstream=(), variables=None, uuid="b") -> BlockRequest:  # type: ignore[no-untyped-def]
    path = tmp_path / f"{uuid}.py"
    path.write_text(textwrap.dedent(code))
    return BlockRequest(
        project_root=tmp_path,
        pipeline_uuid="p",
        block_uuid=uuid,
        block_type="transformer",
        language="python",
        file_path=path,
        upstream=tuple(UpstreamInput(f"u{i}", v) for i, v in enumerate(upstream)),
        variables=variables or {},
        configuration={"k": "v"},
        pipeline_run_id=7,
        execution_date=datetime(2026, 1, 2, 3, 4, tzinfo=UTC),
        logger=logging.getLogger("test"),
    )


def test_mage_block_with_guarded_imports_runs_unchanged(tmp_path: Path) -> None:
    result = execute_python_block(
        _request(tmp_path, MAGE_STYLE, upstream=[[1, 2]], variables={"factor": 3})
    )
    assert result.outputs == ([3, 6],)


def test_weir_imports_work_too(tmp_path: Path) -> None:
    code = """
        from weir import data_loader

        @data_loader
        def load():
            return {"a": 1}
    """
    assert execute_python_block(_request(tmp_path, code)).outputs == ({"a": 1},)


def test_upstream_outputs_arrive_in_order_and_context_kwargs(tmp_path: Path) -> None:
    code = """
        @transformer
        def t(first, second, **kwargs):
            return (first, second, kwargs['ds'], kwargs['hr'], kwargs['pipeline_run_id'],
                    kwargs['block_uuid'], kwargs['configuration'], kwargs['x'])
    """
    request = _request(tmp_path, code, upstream=["one", "two"], variables={"x": 9})
    assert execute_python_block(request).outputs == (
        "one",
        "two",
        "2026-01-02",
        "03",
        7,
        "b",
        {"k": "v"},
        9,
    )


def test_function_without_kwargs_gets_only_named_keywords(tmp_path: Path) -> None:
    code = """
        @transformer
        def t(data, x):
            return data + x
    """
    assert execute_python_block(
        _request(tmp_path, code, upstream=[1], variables={"x": 2, "y": 3})
    ).outputs == (3,)


def test_too_many_upstreams_is_a_clear_error(tmp_path: Path) -> None:
    code = """
        @transformer
        def t(data):
            return data
    """
    with pytest.raises(BlockExecutionError, match=r"takes 1 positional argument.*gets 2"):
        execute_python_block(_request(tmp_path, code, upstream=[1, 2]))


def test_raising_block_is_wrapped_with_its_name_and_traceback(tmp_path: Path) -> None:
    code = """
        @transformer
        def t(*args, **kwargs):
            raise ValueError('bad row 3')
    """
    with pytest.raises(BlockExecutionError) as caught:
        execute_python_block(_request(tmp_path, code, uuid="clean"))
    message = str(caught.value)
    assert message.startswith("block 'clean': t() raised ValueError: bad row 3")
    assert "clean.py" in message
    assert isinstance(caught.value.__cause__, ValueError)


def test_sys_exit_fails_the_block_not_the_engine(tmp_path: Path) -> None:
    code = """
        import sys

        @transformer
        def t(*args, **kwargs):
            sys.exit(3)
    """
    with pytest.raises(BlockExecutionError, match="SystemExit"):
        execute_python_block(_request(tmp_path, code))


def test_failing_test_fails_with_its_message(tmp_path: Path) -> None:
    code = """
        @data_loader
        def load(*args, **kwargs):
            return []

        @test
        def not_empty(output, *args):
            assert len(output) > 0, 'no rows loaded'
    """
    with pytest.raises(BlockTestError, match=r"test not_empty\(\) failed: no rows loaded"):
        execute_python_block(_request(tmp_path, code))


def test_no_decorated_function(tmp_path: Path) -> None:
    with pytest.raises(BlockLoadError, match="has no function decorated"):
        execute_python_block(_request(tmp_path, "def f():\n    return 1\n"))


def test_import_error_in_block_file(tmp_path: Path) -> None:
    with pytest.raises(BlockLoadError, match="ModuleNotFoundError"):
        execute_python_block(_request(tmp_path, "import not_a_module_xyz\n"))


def test_project_utils_are_importable(tmp_path: Path) -> None:
    (tmp_path / "utils").mkdir()
    (tmp_path / "utils" / "__init__.py").write_text("")
    (tmp_path / "utils" / "helpers.py").write_text("def double(x):\n    return 2 * x\n")
    code = """
        from utils.helpers import double

        @data_loader
        def load(*args, **kwargs):
            return double(21)
    """
    assert execute_python_block(_request(tmp_path, code)).outputs == (42,)


def test_tuple_gives_several_outputs_and_tests_receive_them(tmp_path: Path) -> None:
    code = """
        @data_loader
        def load(*args, **kwargs):
            return 1, 'two'

        @test
        def both(first, second, *args):
            assert (first, second) == (1, 'two')
    """
    assert execute_python_block(_request(tmp_path, code)).outputs == (1, "two")


def test_normalize_outputs_follows_mage() -> None:
    assert normalize_outputs(None) == ()
    assert normalize_outputs((1, 2)) == (1, 2)
    assert normalize_outputs([1, 2]) == ([1, 2],)


def test_two_projects_never_share_their_utils(tmp_path: Path) -> None:
    code = """
        from utils.which import NAME

        @data_loader
        def load(*args, **kwargs):
            return NAME
    """
    outputs = []
    for name in ("first", "second", "first"):
        root = tmp_path / name
        (root / "utils").mkdir(parents=True, exist_ok=True)
        (root / "utils" / "__init__.py").write_text("")
        (root / "utils" / "which.py").write_text(f"NAME = {name!r}\n")
        outputs.append(execute_python_block(_request(root, code)).outputs)
    assert outputs == [("first",), ("second",), ("first",)]
