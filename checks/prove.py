"""Z3: bounded model checking and unbounded inductive proofs (``luo-verify prove``).

Both read the one relational encoding of ``model/symbolic.py`` and the Z3 forms of the
properties in ``specs/zforms.py``.

* :func:`bmc` unrolls the bounded reading ``k`` steps from the initial state and asks, for
  each property and each depth, whether it can be violated there: the first depth that is
  satisfiable is the length of the shortest counterexample (as BFS finds it). Every model
  Z3 returns is decoded into explicit actions and re-run through ``LuoModel.next_state``:
  each state and return value must match and the explicit predicate must be violated at
  the end, or :class:`Disagreement` is raised -- never reported as a result.
* :func:`induction` proves, over uninterpreted sorts (any number of sessions, files,
  memfds, pages and kexec cycles), that the conjunction of the state properties and the
  auxiliary invariants (``specs/invariants.py``) holds initially and is preserved by every
  action, and that no action from such a state breaks a step property: one obligation per
  (action, property) pair, each ``proved``, ``cti`` (counterexample to induction) or
  ``unknown`` (a failure, as is a timeout).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import z3

from luoverify.model import state as st
from luoverify.model.bounds import Bounds
from luoverify.model.core import Action
from luoverify.model.design import Design
from luoverify.model.errno import ret_name
from luoverify.model.luo import LuoModel
from luoverify.model.state import State
from luoverify.model.symbolic import (
    FIELDS,
    SCALARS,
    Finite,
    Inst,
    S,
    SymbolicLuo,
    Unbounded,
    decode,
    explicit_action,
    leaves,
    lift,
    slot_sizes,
)
from luoverify.specs import invariants as inv
from luoverify.specs import zforms as zf
from luoverify.specs.properties import BY_NAME


class Disagreement(Exception):
    """A Z3 counterexample that the explicit model does not reproduce (a tool bug)."""


# =========================================================================== BMC

@dataclass
class BmcTrace:
    prop: str
    length: int
    message: str
    steps: list[tuple[Action | None, int, State]]  # (action, ret, state); first: init


@dataclass
class BmcResult:
    depth: int
    #: property -> the shortest counterexample (absent: none up to ``depth``)
    found: dict[str, BmcTrace] = field(default_factory=dict)
    #: properties checked, and those with no Z3 form
    checked: list[str] = field(default_factory=list)
    seconds: float = 0.0
    per_depth: list[float] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)
    #: the encoding ran out of slots at some depth (inconclusive beyond it)
    overflow_at: int | None = None


def _flat(s: S) -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    for name in SCALARS:
        out.append((name, s[name]))
    for name in FIELDS:
        for leaf in leaves(s[name]):
            out.append((name, leaf))
    return out


def _chain(sel: list[tuple[z3.BoolRef, Any]], default: Any) -> Any:
    out = lift(default)
    for c, v in reversed(sel):
        out = z3.If(c, lift(v), out)
    return out


def _concrete(model: z3.ModelRef, s: S) -> S:
    def val(t: Any) -> Any:
        if isinstance(t, tuple):
            return tuple(val(x) for x in t)
        if isinstance(t, (bool, int)):
            return t
        v = model.eval(t, model_completion=True)
        if z3.is_bool(v):
            return z3.is_true(v)
        return v.as_long()
    return S({k: val(v) for k, v in s.items()})


def bmc(design: Design, bounds: Bounds, depth: int, *,
        props: Sequence[str] | None = None, timeout_ms: int = 600_000,
        progress: Callable[[str], None] | None = None) -> BmcResult:
    """Shortest violations up to ``depth`` steps (every property separately)."""
    t0 = time.perf_counter()
    sym = SymbolicLuo(design, bounds, Finite(slot_sizes(bounds)))
    names = [n for n in (props or [*zf.STATE_FORMS, *zf.STEP_FORMS])
             if n in zf.STATE_FORMS or n in zf.STEP_FORMS]
    result = BmcResult(depth, checked=list(names))
    insts = sym.instances()
    solver = z3.Solver()
    solver.set("timeout", timeout_ms)
    states = [sym.variables("0")]
    init = sym.init()
    for (_n, var), (_m, val) in zip(_flat(states[0]), _flat(init), strict=True):
        solver.add(var == lift(val))
    acts: list[z3.ArithRef] = []
    rets: list[z3.ArithRef] = []
    for k in range(depth):
        pre = states[k]
        post = sym.variables(str(k + 1))
        states.append(post)
        act = z3.Int(f"act@{k}")
        ret = z3.Int(f"ret@{k}")
        acts.append(act)
        rets.append(ret)
        solver.add(act >= 0, act < len(insts))
        steps = [sym.step(pre, a) for a in insts]
        sel = [act == i for i in range(len(insts))]
        pre_flat, post_flat = _flat(pre), _flat(post)
        step_flats = [_flat(stp.post) for stp in steps]
        for i, stp in enumerate(steps):
            if stp.guard is False:
                solver.add(act != i)
            elif stp.guard is not True:
                solver.add(z3.Implies(sel[i], stp.guard))
        for j, ((_n, pv), (_m, qv)) in enumerate(zip(pre_flat, post_flat, strict=True)):
            changes = []
            for i in range(len(insts)):
                t = step_flats[i][j][1]
                if isinstance(t, (bool, int)) or not z3.eq(t, pv):
                    changes.append((sel[i], t))
            solver.add(qv == _chain(changes, pv))
        solver.add(ret == _chain([(sel[i], stp.ret) for i, stp in enumerate(steps)], 0))
        # violations at this step: the transition k -> k+1, or the state k+1
        viol: dict[str, Any] = {}
        for name in names:
            if name in zf.STEP_FORMS:
                form = zf.STEP_FORMS[name]
                viol[name] = z3.Or([z3.And(sel[i], lift(form(sym, pre, insts[i], stp)))
                                    for i, stp in enumerate(steps) if stp.guard is not False])
            else:
                viol[name] = lift(zf.STATE_FORMS[name](sym, post))
        overflow = z3.Or([z3.And(sel[i], lift(stp.overflow)) for i, stp in enumerate(steps)])
        t1 = time.perf_counter()
        if result.overflow_at is None and _sat(solver, overflow, result, "overflow"):
            result.overflow_at = k + 1
        for name in names:
            if name in result.found or name in result.unknown:
                continue
            if _sat(solver, viol[name], result, name):
                mdl = solver.model()
                result.found[name] = _decode_trace(
                    design, bounds, sym, insts, mdl, states[:k + 2], acts, rets, name)
        result.per_depth.append(time.perf_counter() - t1)
        if progress is not None:
            progress(f"BMC depth {k + 1}/{depth}: {len(result.found)} violated "
                     f"({time.perf_counter() - t0:.1f} s)")
        if result.found.keys() | set(result.unknown) >= set(names):
            break
    result.seconds = time.perf_counter() - t0
    return result


def _sat(solver: z3.Solver, cond: Any, result: BmcResult, name: str) -> bool:
    lit = z3.FreshBool("q")
    solver.add(z3.Implies(lit, cond))
    r = solver.check(lit)
    if r == z3.unknown:
        if name not in result.unknown:
            result.unknown.append(name)
        return False
    return bool(r == z3.sat)


def _decode_trace(design: Design, bounds: Bounds, sym: SymbolicLuo, insts: list[Inst],
                  mdl: z3.ModelRef, states: list[S], acts: list[z3.ArithRef],
                  rets: list[z3.ArithRef], prop: str) -> BmcTrace:
    """Decode a Z3 model, re-run it through next_state, confirm the violation."""
    model = LuoModel(design, bounds, symmetry=False)
    state = model.init_states()[0]
    concrete = [_concrete(mdl, s) for s in states]
    if decode(concrete[0]) != state:
        raise Disagreement("the BMC initial state is not the model's")
    steps: list[tuple[Action | None, int, State]] = [(None, 0, state)]
    message = ""
    for k in range(len(states) - 1):
        inst = insts[mdl.eval(acts[k]).as_long()]
        action = explicit_action(concrete[k], inst)
        if action not in set(model.actions(state)):
            raise Disagreement(f"step {k + 1}: Z3 took {action}, which next_state's model "
                               "does not offer")
        out = model.next_state(state, action)
        want_ret = mdl.eval(rets[k]).as_long()
        want = decode(concrete[k + 1])
        if out.ret != want_ret or out.state != want:
            raise Disagreement(
                f"step {k + 1} ({action}): Z3 says {ret_name(want_ret)} -> {want}, "
                f"next_state says {ret_name(out.ret)} -> {out.state}")
        if k == len(states) - 2:
            p = BY_NAME[prop]
            msg = p.check(out.state) if p.kind == "always" else p.check(state, action, out)
            if msg is None:
                raise Disagreement(f"Z3 reports {prop} violated at step {k + 1}, the "
                                   "explicit predicate does not")
            message = msg
        state = out.state
        steps.append((action, out.ret, state))
    return BmcTrace(prop, len(states) - 1, message, steps)


# ===================================================================== induction

@dataclass
class Obligation:
    action: str
    prop: str
    status: str  # proved | cti | unknown
    seconds: float
    cti: dict[str, Any] | None = None
    #: "self" when the property alone was enough as hypothesis, else "all"
    hypotheses: str = "all"
    #: a reachable counterexample that confirms the CTI (see ``upgrade``)
    upgraded: BmcTrace | None = None


@dataclass
class InductionResult:
    invariants: list[str]
    obligations: list[Obligation]
    seconds: float

    def failed(self) -> list[Obligation]:
        return [o for o in self.obligations if o.status != "proved"]


def _shape(inst: Inst) -> str:
    """The action shape an unbounded instance stands for (its call and fixed arguments)."""
    fixed = [f"{k}={v}" for k, v in inst.args
             if isinstance(v, str) or v is None and k == "fault"]
    return f"{inst.name}({', '.join(fixed)})" if fixed else inst.name


def induction(design: Design, bounds: Bounds, *, props: Sequence[str] | None = None,
              actions: Sequence[str] | None = None, timeout_ms: int = 60_000,
              progress: Callable[[str], None] | None = None) -> InductionResult:
    """Inductive proof of the state properties (with the auxiliary invariants), and of
    the step properties from every state satisfying them, for unbounded sizes."""
    t0 = time.perf_counter()
    U = Unbounded()
    sym = SymbolicLuo(design, bounds, U)
    pre = sym.variables("pre")
    invariants = inv.invariants(design)
    holds_pre = [lift(form(sym, pre)) for _name, form, _doc in invariants]
    state_names = [n for n, _f, _d in invariants]
    step_names = [n for n in zf.STEP_FORMS if props is None or n in props]
    obligations: list[Obligation] = []

    def solve(assumptions: list[Any], goal_violation: Any) -> tuple[str, Any]:
        solver = z3.Solver()
        solver.set("timeout", timeout_ms)
        solver.add(*assumptions)
        solver.add(goal_violation)
        r = solver.check()
        if r == z3.unsat:
            return "proved", None
        if r == z3.sat:
            return "cti", solver.model()
        return "unknown", solver.reason_unknown()

    def check(label: str, prop: str, assumptions: list[Any], goal_violation: Any,
              own: Any = None) -> None:
        t = time.perf_counter()
        status = "unknown"
        used = "all"
        if own is not None:
            # first from the property itself (a proof from fewer hypotheses is still a
            # proof, and the solver has fewer quantifiers to instantiate); then from the
            # whole conjunction
            status, extra = solve([own, *assumptions[len(holds_pre):]], goal_violation)
            used = "self"
        if status != "proved":
            status, extra = solve(assumptions, goal_violation)
            used = "all"
        cti = {"model": extra} if status == "cti" else (
            {"reason": str(extra)} if status == "unknown" else None)
        obligations.append(Obligation(label, prop, status, time.perf_counter() - t, cti,
                                      hypotheses=used))
        if progress is not None:
            progress(f"{label} / {prop}: {status}")

    # initiation
    init = inv.initial(sym, pre)
    for (name, form, _doc) in invariants:
        if actions is None or "init" in actions:
            check("init", name, [init], z3.Not(lift(form(sym, pre))))
    # consecution, one obligation per (action shape, property)
    for a in sym.instances():
        if actions is not None and a.name not in actions:
            continue
        U.assumptions.clear()
        step = sym.step(pre, a)
        base = [*holds_pre, lift(step.guard), *U.assumptions]
        label = _shape(a)
        for k, (name, form, _doc) in enumerate(invariants):
            check(label, name, base, z3.Not(lift(form(sym, step.post))), own=holds_pre[k])
        for name in step_names:
            viol = zf.STEP_FORMS[name](sym, pre, a, step)
            if viol is False:
                continue
            check(label, name, base, lift(viol))
    return InductionResult(state_names, obligations, time.perf_counter() - t0)
