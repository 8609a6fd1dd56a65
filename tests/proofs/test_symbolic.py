"""The symbolic transition relation agrees with ``LuoModel.next_state``.

Two checks. The concrete reading runs the one encoding of model/symbolic.py on every
reachable state of small instances and compares every successor and every property's Z3
form with the explicit model. The solver check builds the bounded Z3 relation once, pins
its pre-state to each reachable state of a micro instance, and enumerates with Z3 every
successor the relation admits: exactly the successors of next_state, no more, no fewer.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
import z3

from luoverify.checks.designs import load_design
from luoverify.checks.prove import concrete_state, flat_vars
from luoverify.model import symbolic as sy
from luoverify.model.bounds import NAMED_BOUNDS, Bounds
from luoverify.model.core import Action, Outcome
from luoverify.model.design import Design
from luoverify.model.luo import LuoModel
from luoverify.model.state import State
from luoverify.specs import invariants as inv
from luoverify.specs import zforms as zf
from luoverify.specs.properties import BY_NAME

PINNED = json.loads((Path(__file__).parents[1] / "pinned.json").read_text())
MICRO = Bounds(sessions=1, files=1, memfds=1, pages=2, folios=1, kexecs=1, faults=1)


def reachable(model: LuoModel, limit: int
              ) -> Iterator[tuple[State, dict[Action, Outcome[State]]]]:
    """Breadth-first, past violations too (the forms must agree there as well); one state
    per symmetry class, every action of the model (which may be built without symmetry)."""
    init = model.init_states()[0]
    canon = LuoModel(model.design, model.bounds, symmetry=True).canonical
    seen, queue = {canon(init)}, deque([init])
    while queue and len(seen) <= limit:
        state = queue.popleft()
        succ = {a: model.next_state(state, a) for a in model.actions(state)}
        yield state, succ
        for out in succ.values():
            key = canon(out.state)
            if key not in seen:
                seen.add(key)
                queue.append(out.state)


def agree(design: Design, bounds: Bounds, limit: int) -> tuple[int, int]:
    model = LuoModel(design, bounds, symmetry=False)
    sym = sy.SymbolicLuo(design, bounds, sy.Finite(sy.slot_sizes(bounds)))
    states = transitions = 0
    for state, succ in reachable(model, limit):
        states += 1
        enc, _labels = sy.encode(state, sym.U.sizes)
        assert sy.decode(enc) == state
        for name, form in zf.STATE_FORMS.items():
            assert form(sym, enc) == (BY_NAME[name].check(state) is not None), (name, state)
        got: dict[Action, tuple[int, State]] = {}
        for inst in sym.instances():
            step = sym.step(enc, inst)
            assert isinstance(step.guard, bool), inst
            if not step.guard:
                continue
            action = sy.explicit_action(enc, inst)
            assert action not in got, f"two instances for {action}"
            got[action] = (step.ret, sy.decode(step.post))
            out = succ.get(action)
            assert out is not None, f"{design.name}: Z3 side offers {action} in {state}"
            for name, sform in zf.STEP_FORMS.items():
                want = BY_NAME[name].check(state, action, out) is not None
                assert sform(sym, enc, inst, step) == want, (name, action, state)
            transitions += 1
        assert got == {a: (o.ret, o.state) for a, o in succ.items()}, state
    return states, transitions


#: the older mutants run under -m slow (each ~25 s; tests/test_engine.py holds every
#: encodable mutant's compiled search to the explicit one at tiny in every run)
_OLDER_MUTANTS = ["mutant:LUO-M3", "mutant:LUO-M11", "mutant:LUO-M18", "mutant:LUO-M19",
                  "mutant:LUO-M20", "mutant:KHO-M4", "mutant:KHO-M17", "mutant:KHO-M2"]


@pytest.mark.parametrize("design", [
    "upstream", "v6.19", "v6.19+page", "reclaim", "mutant:LUO-M4f", "mutant:MF7",
    *(pytest.param(m, marks=pytest.mark.slow) for m in _OLDER_MUTANTS)])
def test_encoding_runs_like_next_state(design: str) -> None:
    """Verifies that on every reachable state of the tiny bound (one per symmetry class;
    the first 1,500 for the larger spaces) the encoding enables exactly the explicit
    actions, with the same return values and successors, and every property's Z3 form
    agrees with its predicate. ``reclaim``: upstream with the other reading of the
    per-file discard (Design choice ``discard_reclaims_pages``); v6.19 has both
    deserialization defects (LUO-M1, LUO-M2). ``v6.19+page``: one page more, so that a
    second preserve of the same memfd (LUO-M3) can reach its KHO preservation and fail
    there (err_unpreserve clears the bits the first preservation set)."""
    d = (replace(load_design("upstream"), discard_reclaims_pages=True) if design == "reclaim"
         else load_design(design.removesuffix("+page")))
    bounds = NAMED_BOUNDS["tiny"]
    if design.endswith("+page"):
        bounds = bounds.with_overrides(pages=bounds.pages + 1)
    states, transitions = agree(d, bounds, 1500)
    assert states > 300 and transitions > states


def test_auxiliary_invariants_hold_on_reachable_states() -> None:
    """Verifies that every auxiliary invariant of the proof holds on every reachable state
    of upstream at the tiny bound (the proof shows it for all sizes; this guards the
    invariant's reading of the state against a typo that makes it vacuous or false)."""
    d, b = load_design("upstream"), NAMED_BOUNDS["tiny"]
    model = LuoModel(d, b, symmetry=False)
    sym = sy.SymbolicLuo(d, b, sy.Finite(sy.slot_sizes(b)))
    forms = inv.invariants(d)
    n = 0
    for state, _succ in reachable(model, 10**6):
        enc, _labels = sy.encode(state, sym.U.sizes)
        for name, form, _doc in forms:
            assert form(sym, enc) is True, (name, state)
        n += 1
    assert n == PINNED["tiny"]["upstream"]["states"]  # every class of the pinned count


def test_z3_relation_admits_exactly_the_successors() -> None:
    """Verifies with the solver, on every reachable state of a micro instance (one
    session, one file, one memfd, two pages, one kexec, one fault), that the bounded Z3
    transition relation admits exactly the successors next_state produces."""
    d = load_design("upstream")
    model = LuoModel(d, MICRO, symmetry=False)
    sym = sy.SymbolicLuo(d, MICRO, sy.Finite(sy.slot_sizes(MICRO)))
    insts = sym.instances()
    pre, post = sym.variables("pre"), sym.variables("post")
    act = z3.Int("act")
    solver = z3.Solver()
    steps = [sym.step(pre, a) for a in insts]
    solver.add(act >= 0, act < len(insts))
    for i, step in enumerate(steps):
        solver.add(z3.Implies(act == i, z3.And(
            sy.lift(step.guard),
            *[q == sy.lift(t) for (_n, q), (_m, t) in zip(flat_vars(post), flat_vars(step.post),
                                                          strict=True)])))
    checked = 0
    for state, succ in reachable(model, 10**6):
        enc, _labels = sy.encode(state, sym.U.sizes)
        solver.push()
        for (_n, var), (_m, val) in zip(flat_vars(pre), flat_vars(enc), strict=True):
            solver.add(var == sy.lift(val))
        got: dict[Action, State] = {}
        while solver.check() == z3.sat:
            m = solver.model()
            i = m.eval(act).as_long()
            got[sy.explicit_action(enc, insts[i])] = sy.decode(concrete_state(m, post))
            solver.add(act != i)
        solver.pop()
        assert got == {a: o.state for a, o in succ.items()}, state
        checked += 1
    assert checked > 50
