import pytest

from weir.errors import PipelineValidationError
from weir.pipeline.dag import Dag


def test_topological_order_keeps_file_order_for_ties() -> None:
    dag = Dag({"b": [], "a": [], "c": ["a", "b"], "d": ["c"]})
    assert dag.blocks == ("b", "a", "c", "d")
    assert dag.upstream_of("c") == ("a", "b")
    assert dag.downstream_of("a") == ("c",)


def test_descendants_and_subset() -> None:
    dag = Dag({"a": [], "b": ["a"], "c": ["b"], "x": []})
    assert dag.descendants("a") == {"b", "c"}
    sub = dag.subset(["b", "c"])
    assert sub.blocks == ("b", "c")
    assert sub.upstream_of("b") == ()
    assert dag == Dag({"a": [], "b": ["a"], "c": ["b"], "x": []})


def test_cycle_is_rejected_naming_the_loop() -> None:
    with pytest.raises(
        PipelineValidationError,
        match=r"cycle: (a -> b -> c -> a|b -> c -> a -> b|c -> a -> b -> c)",
    ):
        Dag({"a": ["c"], "b": ["a"], "c": ["b"]}, source="p.yaml")


def test_unknown_upstream_is_rejected() -> None:
    with pytest.raises(PipelineValidationError, match="'ghost', which is not a block"):
        Dag({"a": ["ghost"]}, source="p.yaml")


def test_subset_of_unknown_block_fails() -> None:
    with pytest.raises(PipelineValidationError, match="unknown block"):
        Dag({"a": []}).subset(["zzz"])


def test_dag_is_immutable() -> None:
    dag = Dag({"a": []})
    with pytest.raises(AttributeError):
        dag.extra = 1  # type: ignore[attr-defined]
