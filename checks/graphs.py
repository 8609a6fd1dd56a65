"""Graph properties on the explored state graph, and its export (networkx).

A ``graph`` property gives a goal predicate; it holds when every reachable state can
reach a goal state (CTL ``AG EF goal``). The witness of a violation is the first state in
BFS order that cannot, so its path from the initial state is a shortest one.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from pathlib import Path
from typing import Any, TypeVar

import networkx as nx

from luoverify.model.core import Action, Model
from luoverify.model.property import Property

S = TypeVar("S", bound=Hashable)


def build_graph(n: int, edges: Iterable[tuple[int, int, int, int]]) -> Any:
    graph = nx.DiGraph()
    graph.add_nodes_from(range(n))
    graph.add_edges_from((src, dst) for src, dst, _a, _r in edges if src != dst)
    return graph


def check_graph_property(
    model: Model[S], keys: list[bytes], edges: Iterable[tuple[int, int, int, int]],
    prop: Property,
) -> tuple[int, str] | None:
    """``None`` if every state reaches a goal, else (first bad state, message)."""
    goals = [i for i, k in enumerate(keys) if prop.check(model.decode(k)) is not None]
    graph = build_graph(len(keys), edges)
    sink = -1
    graph.add_node(sink)
    graph.add_edges_from((g, sink) for g in goals)
    can_reach = nx.ancestors(graph, sink)
    for i in range(len(keys)):
        if i not in can_reach:
            return i, stuck_message(prop, len(keys) - len(can_reach), len(keys))
    return None


def stuck_message(prop: Property, stuck: int, states: int) -> str:
    """The note of a violated graph property: ``stuck`` of ``states`` reach no goal."""
    return (f"from this state no {prop.check.__name__} state is reachable "
            f"({stuck} of {states} states are stuck)")


#: the suffixes --graph accepts, and what each writes
GRAPH_FORMATS = {".graphml": "GraphML", ".dot": "DOT", ".gv": "DOT"}


def write_graph(
    path: Path, model: Model[S], keys: list[bytes],
    edges: Iterable[tuple[int, int, int, int]], actions: list[Action],
) -> None:
    """The explored graph as GraphML (``.graphml``) or DOT (``.dot``, ``.gv``).

    Raises ``ValueError`` for another suffix (the CLI checks it before exploring).
    """
    if path.suffix not in GRAPH_FORMATS:
        raise ValueError(f"unknown graph format {path.suffix!r}")
    from luoverify.model.errno import ret_name

    graph = nx.MultiDiGraph()
    for i in range(len(keys)):
        graph.add_node(i, label=f"s{i}")
    for src, dst, aid, ret in edges:
        graph.add_edge(src, dst, label=f"{actions[aid]} = {ret_name(ret)}")
    if path.suffix == ".graphml":
        nx.write_graphml(graph, path)
    else:
        with path.open("w") as fh:
            fh.write("digraph luo {\n")
            for i in range(len(keys)):
                fh.write(f'  s{i} [label="s{i}"];\n')
            for src, dst, aid, ret in edges:
                label = f"{actions[aid]} = {ret_name(ret)}".replace('"', "'")
                fh.write(f'  s{src} -> s{dst} [label="{label}"];\n')
            fh.write("}\n")
