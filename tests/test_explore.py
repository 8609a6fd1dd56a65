"""The explorer's own guarantees: coverage gaps fail a run, graph properties, pruning,
progress display, and every counterexample replays on the model."""

from __future__ import annotations

import pytest

from luoverify.checks.explore import ExploreOptions, explore
from luoverify.checks.run import run_check
from luoverify.model import NAMED_BOUNDS, PROFILES, LuoModel
from luoverify.model import errno as E
from luoverify.specs import CATALOGUE, diagnose
from luoverify.specs.properties import BY_NAME

TINY = NAMED_BOUNDS["tiny"]


def test_coverage_gap_fails_the_run(monkeypatch: pytest.MonkeyPatch) -> None:
    """Verifies that an expected outcome that never fires makes the verdict fail with
    the coverage-gap exit code (5), not the violation code (1)."""
    original = LuoModel.expected_outcomes

    def with_gap(self: LuoModel) -> dict[tuple[str, int], str | None]:
        out = original(self)
        out[("create_session[name=dup]", -E.ENOSPC)] = None  # can never happen
        return out

    monkeypatch.setattr(LuoModel, "expected_outcomes", with_gap)
    report = run_check(PROFILES["upstream"], TINY, CATALOGUE)
    assert report.coverage.missing == [("create_session[name=dup]", -E.ENOSPC)]
    assert report.verdict == "fail" and report.exit_code == 5
    assert "never fired: create_session[name=dup] = -ENOSPC" in report.to_text()


def test_every_declared_outcome_fires_for_upstream_tiny() -> None:
    report = run_check(PROFILES["upstream"], TINY, CATALOGUE)
    assert report.coverage.ok
    assert not report.coverage.undeclared


def test_graph_property_found_when_exploring_past_violations() -> None:
    """Verifies that with --continue, v6.19 breaks `recoverable` (a state from which no
    clean state is reachable), and that pruning reports it unknown instead."""
    pruned = run_check(PROFILES["v6.19"], TINY, CATALOGUE)
    assert pruned.result.status["recoverable"] == "unknown"
    full = run_check(PROFILES["v6.19"], TINY, CATALOGUE, prune=False)
    assert full.result.status["recoverable"] == "violated"
    assert full.result.pruned == 0
    assert full.result.states > pruned.result.states


@pytest.mark.parametrize("design", ["upstream", "v6.19"])
def test_counterexamples_replay_on_the_model(design: str) -> None:
    """Verifies that every reported trace is a real run of next_state: each call is
    enabled, returns what the trace says, and the last step breaks the property."""
    report = run_check(PROFILES[design], TINY, CATALOGUE, prune=False)
    model = report.model
    traces = list(report.result.counterexamples.values()) + [
        c for extra in report.result.extra_counterexamples.values() for c in extra.values()]
    for cex in traces:
        state = cex.steps[0].state
        assert model.canonical(state) == model.canonical(model.init_states()[0])
        for step in cex.steps[1:]:
            assert step.action is not None
            assert step.action in list(model.actions(state)), f"{step.action} not enabled"
            out = model.next_state(state, step.action)
            assert (out.ret, out.state) == (step.ret, step.state)
            state = out.state
        prop = BY_NAME[cex.prop]
        if prop.kind == "always":
            assert prop.check(state) is not None
        elif prop.kind == "step":
            pre, last = cex.steps[-2].state, cex.steps[-1]
            assert last.action is not None
            assert prop.check(pre, last.action, last.outcome()) is not None
    if design == "v6.19":
        assert traces
        ids = {i for c in traces for i in diagnose(c.transitions())}
        assert {"LUO-M3", "LUO-M4", "LUO-M5", "LUO-M7", "LUO-M11"} <= ids


def test_progress_display_runs() -> None:
    model = LuoModel(PROFILES["upstream"], TINY)
    result = explore(model, CATALOGUE, ExploreOptions(progress=True))
    assert result.complete and result.states > 500


def test_atomic_reboot_bounds() -> None:
    """Verifies the atomic reboot mode: upstream passes with full coverage; v6.19 still
    shows the reboot defects (LUO-M5 and LUO-M10/G1) through the one-step reboot()."""
    bounds = TINY.with_overrides(reboot="atomic")
    upstream = run_check(PROFILES["upstream"], bounds, CATALOGUE)
    assert upstream.verdict == "pass", upstream.to_text()
    v619 = run_check(PROFILES["v6.19"], bounds, CATALOGUE)
    assert v619.verdict == "fail"
    assert {"LUO-M5", "LUO-M10/G1"} <= set(v619.all_defects())
    # interleaving is what makes LUO-M11 reachable
    assert "LUO-M11" not in v619.all_defects()
