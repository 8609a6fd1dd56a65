"""The vectorised engine (bench/vector.py) on the toy model pages-N (bench/toy.py):
exact counts in closed form, agreement with the generic explorer, shortest
counterexamples for the seeded bugs, and agreement with SPIN when it is installed."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as S

from bench.toy import PagesModel, PagesVector, expected_states
from bench.vector import explore_vector
from luoverify.checks.explore import explore
from luoverify.model.property import Property

SAFE = Property("safe", "always", "toy invariant", "toy", PagesModel.safe)


@pytest.mark.parametrize("n", [1, 2, 5, 8, 10])
@pytest.mark.parametrize("workers", [1, 2])
def test_vector_counts_closed_form(n: int, workers: int) -> None:
    """Verifies that the vectorised engine finds exactly 2^N + 3*3^N states."""
    r = explore_vector(PagesVector(n), workers=workers)
    assert r.states == expected_states(n)
    assert r.counterexample is None
    assert r.bytes_per_state == 21.0


@pytest.mark.parametrize("n", [1, 3, 6])
def test_generic_engine_agrees(n: int) -> None:
    """Verifies that the generic explorer on the tuple model finds the same states,
    transitions and depth as the vectorised engine on the packed one."""
    g = explore(PagesModel(n), [SAFE])
    v = explore_vector(PagesVector(n))
    assert (g.states, g.transitions, g.depth) == (v.states, v.transitions, v.depth)
    assert g.states == expected_states(n)
    assert g.status["safe"] == "holds"


@settings(max_examples=25, deadline=None)
@given(n=S.integers(1, 5), bug=S.sampled_from([None, "BUG_ALLOC", "BUG_FREE"]))
def test_engines_agree_on_bugs(n: int, bug: str | None) -> None:
    """Verifies both engines agree on every variant: same verdict, same shortest
    counterexample length (BFS levels)."""
    g = explore(PagesModel(n, bug), [SAFE])
    v = explore_vector(PagesVector(n, bug))
    if bug is None:
        assert v.counterexample is None and g.status["safe"] == "holds"
    else:
        assert v.counterexample is not None and g.status["safe"] == "violated"
        assert len(v.counterexample) - 1 == g.counterexamples["safe"].length


def test_bug_alloc_shortest_counterexample() -> None:
    """Verifies the seeded BUG_ALLOC is found with the shortest trace: 6 actions."""
    r = explore_vector(PagesVector(4, "BUG_ALLOC"))
    assert r.counterexample is not None
    names = [a for a, _ in r.counterexample]
    assert len(names) == 7 and names[0] == "init"
    assert {"prepare", "freeze", "kexec"} <= set(names)
    assert names[-1].startswith("alloc(")
    assert "POST" in r.counterexample[-1][1] and "inc" in r.counterexample[-1][1]


@pytest.mark.skipif(shutil.which("spin") is None or shutil.which("gcc") is None,
                    reason="SPIN not installed (apt-get install spin)")
def test_spin_agrees(tmp_path: Path) -> None:
    """Verifies SPIN stores as many states as we do and makes one more transition (its
    count includes the initial state)."""
    from bench.run import build_spin, run_spin

    d = build_spin(6, tmp_path)
    row = run_spin(d)
    v = explore_vector(PagesVector(6))
    assert row["states"] == v.states and row["transitions"] == v.transitions
    assert row["errors"] == 0
