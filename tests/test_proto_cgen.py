"""The #15 prototype (bench/proto_cgen.py: C generated from the symbolic encoding) explores
the explicit model's state space: the generic explorer without symmetry is the reference."""

from __future__ import annotations

import shutil

import pytest

from luoverify.checks.designs import load_design
from luoverify.checks.explore import explore
from luoverify.model.bounds import NAMED_BOUNDS
from luoverify.model.factory import model_for


@pytest.mark.skipif(shutil.which("gcc") is None, reason="gcc is not installed")
@pytest.mark.parametrize("design", ["upstream", "v6.19", "mutant:LUO-M3"])
def test_generated_c_search_counts_as_the_generic_explorer(design: str) -> None:
    """Verifies that the generated C search reaches, at tiny, exactly as many states and
    transitions as the generic explorer with symmetry off (both measured here), for the
    two profiles and a mutant."""
    from bench.proto_cgen import search

    d = load_design(design)
    fast = search("tiny", capacity=100_000, design=d)
    model = model_for(d, NAMED_BOUNDS["tiny"], symmetry=False)
    generic = explore(model, [])
    assert (fast.states, fast.transitions) == (generic.states, generic.transitions)
    assert 0 < fast.key_bytes <= 100
