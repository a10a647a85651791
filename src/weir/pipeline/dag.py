"""The DAG of a pipeline as an immutable value, sorted with the standard library's `graphlib`."""

from __future__ import annotations

import graphlib
from collections.abc import Iterable, Mapping
from types import MappingProxyType

from weir.errors import PipelineValidationError


class Dag:
    """Blocks and their upstream edges; immutable once built.

    The constructor rejects an edge to an unknown block and any cycle (naming the loop), so every
    `Dag` in existence is a valid DAG. Slicing methods return new `Dag` values.

    Args:
        upstream: block uuid -> its upstream block uuids, in the order the block receives their
            outputs as positional arguments. Every block must be a key.
        source: where the graph came from (a file path), for error messages.

    Raises:
        PipelineValidationError: an upstream uuid that is not a block, or a cycle.
    """

    __slots__ = ("_downstream", "_order", "_upstream")

    def __init__(self, upstream: Mapping[str, Iterable[str]], *, source: str = "pipeline") -> None:
        frozen = {node: tuple(parents) for node, parents in upstream.items()}
        for node, parents in frozen.items():
            for parent in parents:
                if parent not in frozen:
                    raise PipelineValidationError(
                        f"{source}: block '{node}' lists upstream block '{parent}', which is not a "
                        f"block of this pipeline (known: {', '.join(sorted(frozen)) or 'none'})"
                    )
        downstream: dict[str, list[str]] = {node: [] for node in frozen}
        for node, parents in frozen.items():
            for parent in parents:
                downstream[parent].append(node)
        self._upstream = MappingProxyType(frozen)
        self._downstream = MappingProxyType({k: tuple(v) for k, v in downstream.items()})
        self._order = _topological_order(frozen, source)

    @property
    def blocks(self) -> tuple[str, ...]:
        """All block uuids in a topological order (upstream before downstream; ties by file order)."""
        return self._order

    def upstream_of(self, block_uuid: str) -> tuple[str, ...]:
        """Direct upstream blocks of `block_uuid`, in `upstream_blocks` order."""
        return self._upstream[block_uuid]

    def downstream_of(self, block_uuid: str) -> tuple[str, ...]:
        """Direct downstream blocks of `block_uuid`."""
        return self._downstream[block_uuid]

    def descendants(self, block_uuid: str) -> frozenset[str]:
        """Every block reachable downstream of `block_uuid` (not including it)."""
        seen: set[str] = set()
        stack = list(self._downstream[block_uuid])
        while stack:
            node = stack.pop()
            if node not in seen:
                seen.add(node)
                stack.extend(self._downstream[node])
        return frozenset(seen)

    def subset(self, block_uuids: Iterable[str]) -> Dag:
        """The sub-DAG of the given blocks, keeping only edges among them."""
        keep = set(block_uuids)
        unknown = keep - set(self._upstream)
        if unknown:
            raise PipelineValidationError(f"unknown block(s): {', '.join(sorted(unknown))}")
        return Dag(
            {
                node: [p for p in self._upstream[node] if p in keep]
                for node in self._order
                if node in keep
            }
        )

    def __contains__(self, block_uuid: object) -> bool:
        return block_uuid in self._upstream

    def __len__(self) -> int:
        return len(self._order)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Dag) and dict(self._upstream) == dict(other._upstream)

    def __hash__(self) -> int:
        return hash(tuple(sorted(self._upstream.items())))

    def __repr__(self) -> str:
        return f"Dag({dict(self._upstream)!r})"


def _topological_order(upstream: Mapping[str, tuple[str, ...]], source: str) -> tuple[str, ...]:
    sorter: graphlib.TopologicalSorter[str] = graphlib.TopologicalSorter()
    for node, parents in upstream.items():
        sorter.add(node, *parents)
    try:
        sorter.prepare()
    except graphlib.CycleError as exc:
        # graphlib lists the loop so that each block is an upstream of the next one.
        path = " -> ".join(exc.args[1])
        raise PipelineValidationError(
            f"{source}: the blocks form a cycle: {path}; remove one of these upstream_blocks entries"
        ) from None
    position = {node: index for index, node in enumerate(upstream)}
    order: list[str] = []
    while sorter.is_active():
        ready = sorted(sorter.get_ready(), key=position.__getitem__)
        order.extend(ready)
        sorter.done(*ready)
    return tuple(order)
