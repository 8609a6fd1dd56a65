"""Differential testing: the reference implementation against the model as its oracle.

The rule issues one kernel call among those the model offers in the current state (every
call, failing ones included, or with ``progress`` only the succeeding ones, so that runs
reach reboot, kexec and retrieve). After every call the reference must
return what the model returns, its state must map (the refinement mapping) to the model's
state, and every ``always`` / ``step`` property must hold on the reference's concrete
pages. The bounds are well beyond the exhaustive ones: 4 sessions, 3 files each, 4 memfds,
12 page frames, 2 folios per memfd, 2 in scratch, 4 kexec cycles, 3 faults.

A failure prints as a runnable script (Hypothesis' stateful output, ``state.call(...)``
lines that replay the same calls), with each step's kernel call as a note.
"""

from __future__ import annotations

from typing import Any

from hypothesis import note
from hypothesis import strategies as S
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from luoverify.checks.designs import load_design
from luoverify.checks.itf import changes
from luoverify.checks.replay import broken_properties
from luoverify.model import errno as E
from luoverify.model.bounds import Bounds
from luoverify.model.core import Action, Outcome
from luoverify.model.factory import model_for
from luoverify.model.state import State, view
from luoverify.reference import reference_for

WIDE = Bounds(sessions=4, files=3, memfds=4, pages=12, folios=2, kexecs=4, faults=3,
              scratch=2, others=2)


class Differential(RuleBasedStateMachine):
    design = "upstream"
    bounds = WIDE
    #: stop comparing after the first property violation (designs with known defects)
    stop_at_violation = False

    def __init__(self) -> None:
        super().__init__()
        design = load_design(self.design)
        self.model = model_for(design, self.bounds, symmetry=False)
        self.ref = reference_for(design, self.bounds)
        self.state: State = self.model.init_states()[0]
        self.done = False
        self.calls = 0

    # ------------------------------------------------------------------ the oracle
    def _call(self, call: str, /, **picks: Any) -> None:
        if self.done:
            return
        wanted = {k: v for k, v in picks.items() if v is not None}
        action: Action | None = next(
            (a for a in self.model.actions(self.state) if a.name == call
             and a.picks() == wanted), None)
        if action is None:
            return  # not callable here (blocked, or beyond the bounds)
        out = self.model.next_state(self.state, action)
        pre = self.ref.abstract()
        ret, events = self.ref.apply(action)
        post = self.ref.abstract()
        assert ret == out.ret, (f"{action}: reference returned {E.ret_name(ret)}, model "
                                f"{E.ret_name(out.ret)}")
        assert post == out.state, f"{action}: states differ (model -> reference):\n" + (
            "\n".join(changes(view(out.state), view(post))))
        broken = [f"{name}: {msg}" for name, msg in
                  broken_properties(pre, action, Outcome(ret, post, events))]
        self.calls += 1
        self.state = out.state
        if broken:
            assert self.stop_at_violation, f"{action} broke {broken}"
            self.done = True

    # ------------------------------------------------------------------ the one rule
    @rule(pick=S.integers(0, 2**32 - 1), progress=S.booleans())
    def call(self, pick: int, progress: bool) -> None:
        """Issue one callable kernel call: ``pick`` chooses among every call the model
        offers here (failing ones included) or, with ``progress``, among those that
        succeed, so runs get through reboot and kexec rather than stall on errors."""
        if self.done:
            return
        offered = list(self.model.actions(self.state))
        if progress:
            good = [a for a in offered if self.model.next_state(self.state, a).ret == 0]
            offered = good or offered
        action = offered[pick % len(offered)]
        note(f"{self.calls + 1}: {action}")
        self._call(action.name, **{k: v for k, v in action.args})

    @invariant()
    def refines(self) -> None:
        if not self.done:
            assert self.ref.abstract() == self.state


class UpstreamInterleaved(Differential):
    pass


class UpstreamAtomic(Differential):
    bounds = Bounds(**{**WIDE.as_dict(), "reboot": "atomic"})


class V619Interleaved(Differential):
    design = "v6.19"
    stop_at_violation = True


class V619Atomic(Differential):
    design = "v6.19"
    bounds = Bounds(**{**WIDE.as_dict(), "reboot": "atomic"})
    stop_at_violation = True


class Legacy(Differential):
    """The v3/v4 global state machine: one device, so the extra sessions are unused."""

    design = "legacy"


TestUpstreamInterleaved = UpstreamInterleaved.TestCase
TestLegacy = Legacy.TestCase
TestUpstreamAtomic = UpstreamAtomic.TestCase
TestV619Interleaved = V619Interleaved.TestCase
TestV619Atomic = V619Atomic.TestCase
