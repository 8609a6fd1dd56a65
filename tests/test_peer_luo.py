"""The hand-written Promela peer of the LUO model (bench/peers/luo_promela.py, run by
bench/peers/luo_spin.py) is an independent second reading of the kernel: at tiny, SPIN's
distinct states must be exactly as many as the explicit model's without symmetry."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from luoverify.checks.designs import load_design
from luoverify.checks.explore import explore
from luoverify.model.bounds import NAMED_BOUNDS
from luoverify.model.factory import model_for


@pytest.mark.skipif(shutil.which("spin") is None or shutil.which("gcc") is None,
                    reason="SPIN or gcc is not installed (apt-get install spin gcc)")
def test_promela_peer_counts_as_the_explicit_model_at_tiny(tmp_path: Path) -> None:
    """Verifies that SPIN stores as many states for the Promela peer at tiny as the
    generic explorer reaches for upstream with symmetry off (both measured here), and
    that no assert of the peer fails."""
    from bench.peers.luo_spin import run_peer

    peer = run_peer("tiny", tmp_path)
    model = model_for(load_design("upstream"), NAMED_BOUNDS["tiny"], symmetry=False)
    ours = explore(model, [])
    assert peer["states"] == ours.states
    # the peer offers only state-changing calls: at most as many transitions as ours
    assert 0 < peer["transitions"] <= ours.transitions
