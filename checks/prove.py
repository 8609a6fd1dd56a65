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
  ``unknown`` (a failure: Z3 reached its resource limit, see ``RLIMITS``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import z3

from luoverify.checks.header import header
from luoverify.model import state as st
from luoverify.model.bounds import Bounds
from luoverify.model.core import Action
from luoverify.model.design import Design
from luoverify.model.errno import ret_name
from luoverify.model.factory import model_for
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


# ==================================================================== Z3 resource limits
# Every query is limited by Z3's own resource count ("rlimit"), never by the clock: the
# same input uses the same count on an idle or a loaded machine, so the verdict does not
# depend on load (for one Z3 version: z3-solver is pinned exactly in pyproject.toml). A
# query that needs more than its budget answers unknown ("max. resource limit
# exceeded"): inconclusive, with that reason. The wall-clock cap below is only a safety
# net against a runaway query; when it fires, the reason says so (and that this one
# answer depended on the machine).

#: rlimit per query, in Z3's resource units (measured: README.md, "luo-verify prove")
RLIMITS: dict[str, int] = {
    "obligation": 20_000_000,  # one induction obligation from every hypothesis
    "quick": 4_000_000,  # its first attempt, from the property alone
    "cti": 20_000_000,  # a bounded search for a counterexample to induction
    "bmc": 2_000_000_000,  # one BMC query (a property at one depth)
}
#: the wall-clock safety net per query, seconds (never the intended limit)
WALL_CAP_SECONDS = 3600.0


@dataclass
class Z3Usage:
    """What the Z3 queries of one run used: deterministic counts, for the reports."""

    queries: int = 0
    #: Z3 resource units used, summed over queries
    rlimit: int = 0
    #: queries that ran out of their rlimit (inconclusive), and of the wall-clock cap
    rlimit_reached: int = 0
    wall_cap_reached: int = 0

    def to_json(self) -> dict[str, Any]:
        return {"version": z3.get_version_string(), "rlimits": dict(RLIMITS),
                "wall_cap_seconds": WALL_CAP_SECONDS, "queries": self.queries,
                "rlimit_used": self.rlimit, "rlimit_reached": self.rlimit_reached,
                "wall_cap_reached": self.wall_cap_reached}


#: the process's Z3 context counts resources cumulatively: the count after the last query
_COUNTED = [0]


def new_solver(kind: str) -> z3.Solver:
    """A solver whose every ``check`` is limited to ``RLIMITS[kind]`` resource units (the
    limit applies to each check separately), with the wall-clock safety net."""
    solver = z3.Solver()
    solver.set("rlimit", RLIMITS[kind])
    solver.set("timeout", int(WALL_CAP_SECONDS * 1000))
    return solver


@dataclass(frozen=True)
class Answer:
    """One metered query: Z3's answer, the resource units it used, and for ``unknown``
    why (the rlimit, the wall-clock safety cap, or Z3's own reason)."""

    result: Any
    rlimit: int
    why: str | None = None


def metered_check(solver: z3.Solver, kind: str, usage: Z3Usage, *assumptions: Any) -> Answer:
    """``solver.check(*assumptions)`` for a solver made by ``new_solver(kind)``."""
    t0 = time.perf_counter()
    r = solver.check(*assumptions)
    seconds = time.perf_counter() - t0
    stats = solver.statistics()
    keys = stats.keys()
    count = int(stats.get_key_value("rlimit count")) if "rlimit count" in keys else 0
    used = max(0, count - _COUNTED[0])
    _COUNTED[0] = max(count, _COUNTED[0])
    usage.queries += 1
    usage.rlimit += used
    if r != z3.unknown:
        return Answer(r, used)
    if "interrupted" in solver.reason_unknown():
        # Z3 catches SIGINT itself while it searches and answers unknown: it is Ctrl-C
        raise KeyboardInterrupt
    # Z3 words a resource-limit stop in several ways ("max. resource limit exceeded",
    # "push canceled"): the count is what tells
    if used >= RLIMITS[kind]:
        usage.rlimit_reached += 1
        return Answer(r, used, f"Z3 reached its resource limit ({RLIMITS[kind]:,} units)")
    if seconds >= WALL_CAP_SECONDS:
        usage.wall_cap_reached += 1
        return Answer(r, used, f"Z3 reached the {WALL_CAP_SECONDS:g} s wall-clock safety "
                               "cap (this answer depends on the machine's speed and load)")
    return Answer(r, used, f"Z3 answered unknown: {solver.reason_unknown()}")


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
    #: why each property in ``unknown`` is unknown
    unknown_why: dict[str, str] = field(default_factory=dict)
    usage: Z3Usage = field(default_factory=Z3Usage)


def flat_vars(s: S) -> list[tuple[str, Any]]:
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


def concrete_state(model: z3.ModelRef, s: S) -> S:
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
        props: Sequence[str] | None = None,
        progress: Callable[[str], None] | None = None) -> BmcResult:
    """Shortest violations up to ``depth`` steps (every property separately)."""
    t0 = time.perf_counter()
    # a step creates at most one session and one file, and slots are reused once free:
    # ``depth`` slots of each are enough for any path of ``depth`` steps (exact, and the
    # solver has fewer symmetric choices)
    sizes = {d: min(n, max(depth, 1)) if d in ("S", "F") else n
             for d, n in slot_sizes(bounds).items()}
    sym = SymbolicLuo(design, bounds, Finite(sizes))
    names = [n for n in (props or [*zf.STATE_FORMS, *zf.STEP_FORMS])
             if n in zf.STATE_FORMS or n in zf.STEP_FORMS]
    result = BmcResult(depth, checked=list(names))
    insts = sym.instances()
    solver = new_solver("bmc")
    states = [sym.variables("0")]
    init = sym.init()
    for (_n, var), (_m, val) in zip(flat_vars(states[0]), flat_vars(init), strict=True):
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
        pre_flat, post_flat = flat_vars(pre), flat_vars(post)
        step_flats = [flat_vars(stp.post) for stp in steps]
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
        open_ = [n for n in names if n not in result.found and n not in result.unknown]
        # one query for "anything violated here?"; per property only when it is sat
        if len(open_) > 1 and not _sat(solver, z3.Or([viol[n] for n in open_]), result,
                                       "any"):
            open_ = [] if "any" not in result.unknown else open_
        result.unknown = [n for n in result.unknown if n != "any"]
        for name in open_:
            if _sat(solver, viol[name], result, name):
                mdl = solver.model()
                result.found[name] = _decode_trace(
                    design, bounds, sym, insts, mdl, states[:k + 2], acts, rets, name)
        # as the explorer records a violating state but never expands it, a longer
        # counterexample may not pass through an earlier violation
        solver.add(*[z3.Not(v) for v in viol.values()])
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
    answer = metered_check(solver, "bmc", result.usage, lit)
    if answer.result == z3.unknown:
        if name not in result.unknown:
            result.unknown.append(name)
            result.unknown_why[name] = answer.why or "unknown"
        return False
    return bool(answer.result == z3.sat)


def _decode_trace(design: Design, bounds: Bounds, sym: SymbolicLuo, insts: list[Inst],
                  mdl: z3.ModelRef, states: list[S], acts: list[z3.ArithRef],
                  rets: list[z3.ArithRef], prop: str) -> BmcTrace:
    """Decode a Z3 model, re-run it through next_state, confirm the violation."""
    model = model_for(design, bounds, symmetry=False)
    state = model.init_states()[0]
    concrete = [concrete_state(mdl, s) for s in states]
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
    #: Z3 resource units its queries used (deterministic)
    rlimit: int = 0


@dataclass
class InductionResult:
    invariants: list[str]
    obligations: list[Obligation]
    seconds: float
    usage: Z3Usage = field(default_factory=Z3Usage)

    def failed(self) -> list[Obligation]:
        return [o for o in self.obligations if o.status != "proved"]


def shape_of(name: str, args: Sequence[tuple[str, Any]]) -> str:
    """An action's shape: its call and its fixed (non-object) arguments, the unit of a
    proof obligation. The same string for an explicit Action and a symbolic instance."""
    fixed = [f"{k}={v.split(':')[0] if isinstance(v, str) else v}" for k, v in args
             if (isinstance(v, str) or v is None) and k != "size"]
    return f"{name}({', '.join(fixed)})" if fixed else name


def _shape(inst: Inst) -> str:
    return shape_of(inst.name, inst.args)


def induction(design: Design, bounds: Bounds, *, props: Sequence[str] | None = None,
              actions: Sequence[str] | None = None,
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

    usage = Z3Usage()

    def solve(assumptions: list[Any], goal_violation: Any,
              kind: str = "obligation") -> tuple[str, Any, int]:
        solver = new_solver(kind)
        solver.add(*assumptions)
        solver.add(goal_violation)
        answer = metered_check(solver, kind, usage)
        if answer.result == z3.unsat:
            return "proved", None, answer.rlimit
        if answer.result == z3.sat:
            return "cti", solver.model(), answer.rlimit
        return "unknown", answer.why, answer.rlimit

    def check(label: str, prop: str, assumptions: list[Any], goal_violation: Any,
              own: Any = None) -> None:
        t = time.perf_counter()
        status = "unknown"
        used = "all"
        spent = 0
        if own is not None:
            # first from the property itself (a proof from fewer hypotheses is still a
            # proof, and the solver has fewer quantifiers to instantiate); then from the
            # whole conjunction
            status, extra, spent = solve([own, *assumptions[len(holds_pre):]],
                                         goal_violation, "quick")
            used = "self"
        if status != "proved":
            status, extra, more = solve(assumptions, goal_violation)
            spent += more
            used = "all"
        cti = {"model": extra} if status == "cti" else (
            {"reason": str(extra)} if status == "unknown" else None)
        obligations.append(Obligation(label, prop, status, time.perf_counter() - t, cti,
                                      hypotheses=used, rlimit=spent))
        if progress is not None:
            progress(f"{label} / {prop}: {status}")

    if design.steps:
        raise ValueError("a variant that replaces steps cannot be encoded")
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
    return InductionResult(state_names, obligations, time.perf_counter() - t0, usage)


# ================================================= counterexamples to induction (CTIs)

_RANGES: dict[str, tuple[int, int]] = {
    "owner": (st.FREE, st.LEAKED), "content": (st.ZERO, st.JUNK),
    "session_status": (st.OUT_OPEN, st.IN_STUCK),
    "file_state": (st.PRESERVED, max(st.RETRIEVE_FAILED)),
}


def _well_formed(sym: SymbolicLuo, s: S) -> list[Any]:
    """Value ranges of the finite reading (an out-of-range index would read another
    slot's field): every enumerated field in its range, every reference a slot."""
    U = sym.U
    assert isinstance(U, Finite)
    out: list[Any] = [s["phase"] >= st.RUNNING, s["phase"] <= st.READY,
                      s["faults"] >= 0, s["faults"] <= sym.b.faults,
                      s["kexecs"] >= 0, s["kexecs"] <= sym.b.kexecs]
    for name, (kind, _doms) in FIELDS.items():
        for leaf in leaves(s[name]):
            if kind in ("P", "M", "S"):
                out += [leaf >= 0, leaf < U.sizes[kind]]
            elif name in _RANGES:
                lo, hi = _RANGES[name]
                out += [leaf >= lo, leaf <= hi]
    return out


@dataclass
class Cti:
    """A counterexample to induction: a state satisfying every invariant, an action, and
    the successor that breaks ``prop`` (decoded to explicit states)."""

    pre: State
    action: Action
    ret: int
    post: State


def find_cti(design: Design, bounds: Bounds, shape: str, prop: str,
             usage: Z3Usage | None = None) -> Cti | str:
    """A CTI of obligation (``shape``, ``prop``) among states of the bounded slots.

    Quantifier-free, so Z3 decides it where the unbounded query may answer unknown. The
    bounded step is exact and the unbounded one admits it, so a bounded CTI is a CTI of
    the unbounded obligation too. Returns the CTI, or why there is none."""
    sym = SymbolicLuo(design, bounds, Finite(slot_sizes(bounds)))
    pre = sym.variables("cti")
    solver = new_solver("cti")
    solver.add(*_well_formed(sym, pre))
    for _name, form, _doc in inv.invariants(design):
        solver.add(lift(form(sym, pre)))
    insts = [a for a in sym.instances() if _shape(a) == shape]
    choices = []
    steps = []
    for a in insts:
        step = sym.step(pre, a)
        steps.append(step)
        if prop in zf.STEP_FORMS:
            bad = zf.STEP_FORMS[prop](sym, pre, a, step)
        else:
            bad = _form_violation(sym, prop, step.post)
        choices.append(z3.And(lift(step.guard), lift(bad)))
    if not choices:
        return f"no instance of {shape} at these bounds"
    which = z3.Int("which")
    solver.add(z3.Or([z3.And(which == i, c) for i, c in enumerate(choices)]))
    answer = metered_check(solver, "cti", Z3Usage() if usage is None else usage)
    if answer.result != z3.sat:
        return ("no CTI within the bounded slots" if answer.result == z3.unsat
                else answer.why or "unknown")
    mdl = solver.model()
    i = mdl.eval(which).as_long()
    concrete_pre = concrete_state(mdl, pre)
    post_terms = steps[i].post
    concrete_post = concrete_state(mdl, post_terms)
    return Cti(decode(concrete_pre), explicit_action(concrete_pre, insts[i]),
               mdl.eval(lift(steps[i].ret)).as_long(), decode(concrete_post))


def _form_violation(sym: SymbolicLuo, prop: str, s: S) -> Any:
    for name, form, _doc in inv.invariants(sym.d):
        if name == prop:
            return z3.Not(lift(form(sym, s)))
    raise KeyError(prop)


def upgrade(design: Design, bounds: Bounds, shape: str, prop: str,
            max_states: int = 1_000_000, max_seconds: float = 120.0) -> BmcTrace | None:
    """A reachable instance of the CTI: the exhaustive checker searches the bounded space
    for a reachable state that satisfies every invariant and from which an action of
    ``shape`` breaks ``prop``; returns its shortest trace, re-run through next_state."""
    return upgrade_all(design, bounds, [(shape, prop)], max_states=max_states,
                       max_seconds=max_seconds)[(shape, prop)]


def upgrade_all(design: Design, bounds: Bounds, targets: Sequence[tuple[str, str]], *,
                max_states: int = 1_000_000, max_seconds: float = 300.0
                ) -> dict[tuple[str, str], BmcTrace | None]:
    """:func:`upgrade` for several obligations in one exploration of the bounded space
    (one step property per obligation; the search stops when all are found)."""
    from luoverify.checks.explore import ExploreOptions, explore
    from luoverify.model.property import Property

    model = model_for(design, bounds, symmetry=True)
    sym = SymbolicLuo(design, bounds, Finite(slot_sizes(bounds)))
    forms = inv.invariants(design)
    by_name = {n: f for n, f, _d in forms}

    def holds_all(state: State) -> bool:
        enc, _labels = encode_state(state, sym)
        return all(f(sym, enc) is True for _n, f, _d in forms)

    def breaks_for(shape: str, prop: str) -> Callable[[State, Action, Any], str | None]:
        def breaks(pre: State, action: Action, out: Any) -> str | None:
            if _explicit_shape(action) != shape:
                return None
            if prop in zf.STEP_FORMS:
                if BY_NAME[prop].check(pre, action, out) is None:
                    return None
            else:
                enc, _labels = encode_state(out.state, sym)
                if by_name[prop](sym, enc) is not False:
                    return None
            if not holds_all(pre):
                return None
            return f"{action} breaks {prop} from a state that satisfies every invariant"
        return breaks

    props = tuple(Property(f"cti:{shape}:{prop}", "step", "", "", breaks_for(shape, prop))
                  for shape, prop in targets)
    res = explore(model, props, ExploreOptions(max_states=max_states,
                                               max_seconds=max_seconds,
                                               stop_when_all=True))
    out: dict[tuple[str, str], BmcTrace | None] = {}
    for (shape, prop), target in zip(targets, props, strict=True):
        cex = res.counterexamples.get(target.name)
        if cex is None:
            out[(shape, prop)] = None
            continue
        steps: list[tuple[Action | None, int, State]] = [
            (s.action, s.ret, s.state) for s in cex.steps]
        out[(shape, prop)] = BmcTrace(prop, cex.length, cex.message, steps)
    return out


def encode_state(state: State, sym: SymbolicLuo) -> tuple[S, Any]:
    from luoverify.model.symbolic import encode
    U = sym.U
    assert isinstance(U, Finite)
    return encode(state, U.sizes)


def _explicit_shape(action: Action) -> str:
    return shape_of(action.name, action.args)


# ======================================================================== the report

@dataclass
class ProveReport:
    """``luo-verify prove``: the induction obligations, the BMC run, the verdict."""

    design: Design
    bounds_name: str
    bounds: Bounds
    induction: InductionResult
    bmc: BmcResult | None
    ctis: dict[tuple[str, str], Cti | str] = field(default_factory=dict)
    upgrades: dict[tuple[str, str], BmcTrace | None] = field(default_factory=dict)
    trace_paths: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0

    def usage(self) -> Z3Usage:
        """The Z3 resources of the whole run (induction, CTI searches, BMC)."""
        total = Z3Usage()
        for part in (self.induction.usage, self.bmc.usage if self.bmc else None):
            if part is not None:
                total.queries += part.queries
                total.rlimit += part.rlimit
                total.rlimit_reached += part.rlimit_reached
                total.wall_cap_reached += part.wall_cap_reached
        return total

    # --- verdicts ---------------------------------------------------------------------
    def violated(self) -> dict[str, int]:
        """Property -> length of a reachable counterexample (BMC or an upgraded CTI)."""
        out: dict[str, int] = {}
        if self.bmc is not None:
            out.update({p: t.length for p, t in self.bmc.found.items()})
        for (_a, prop), tr in self.upgrades.items():
            if tr is not None:
                out[prop] = min(out.get(prop, tr.length), tr.length)
        return out

    def property_status(self) -> dict[str, str]:
        status: dict[str, str] = {}
        failed = {(o.prop) for o in self.induction.failed()}
        names = [*(n for n, _f, _d in inv.invariants(self.design)), *zf.STEP_FORMS]
        violated = self.violated()
        # a proof is the whole invariant set being inductive: once one obligation fails,
        # no property is proved (the others were proved only relative to it)
        inductive = not failed and bool(self.induction.obligations)
        for name in names:
            if name in violated:
                status[name] = "violated"
            else:
                status[name] = "holds" if inductive else "unknown"
        for name in zf.NOT_ENCODED:
            status[name] = "not encoded"
        return status

    @property
    def verdict(self) -> str:
        if self.violated():
            return "fail"
        if not self.induction.obligations or self.induction.failed() or (
                self.bmc is not None and (
                self.bmc.unknown or self.bmc.overflow_at is not None)):
            return "inconclusive"
        return "pass"

    @property
    def exit_code(self) -> int:
        return {"pass": 0, "fail": 1, "inconclusive": 3}[self.verdict]

    # --- output -----------------------------------------------------------------------
    def to_json(self, *, timings: bool = True) -> dict[str, Any]:
        def t(x: float) -> float | None:
            return round(x, 3) if timings else None

        obligations = []
        for o in self.induction.obligations:
            row: dict[str, Any] = {"action": o.action, "property": o.prop,
                                   "status": o.status, "hypotheses": o.hypotheses,
                                   "seconds": t(o.seconds), "rlimit": o.rlimit}
            key = (o.action, o.prop)
            if key in self.ctis:
                c = self.ctis[key]
                row["cti"] = c if isinstance(c, str) else {
                    "pre": _jsonable(c.pre), "action": str(c.action),
                    "ret": ret_name(c.ret), "post": _jsonable(c.post)}
            if key in self.upgrades:
                u = self.upgrades[key]
                row["upgraded"] = None if u is None else {
                    "length": u.length, "calls": [str(a) for a, _r, _s in u.steps[1:]],
                    "trace": self.trace_paths.get(f"cti:{o.action}:{o.prop}")}
            obligations.append(row)
        bmc = None
        if self.bmc is not None:
            bmc = {"depth": self.bmc.depth, "seconds": t(self.bmc.seconds),
                   "overflow_at": self.bmc.overflow_at, "unknown": self.bmc.unknown,
                   "unknown_why": self.bmc.unknown_why,
                   "violations": {p: {"length": tr.length, "message": tr.message,
                                      "trace": self.trace_paths.get(p),
                                      "calls": [str(a) for a, _r, _s in tr.steps[1:]]}
                                  for p, tr in sorted(self.bmc.found.items())}}
        return {
            **header("prove", self.design, self.bounds_name, self.bounds),
            "verdict": self.verdict,
            "states": None, "transitions": None,
            "depth": self.bmc.depth if self.bmc is not None else 0,
            "seconds": t(self.seconds),
            "properties": self.property_status(),
            "invariants": {n: d for n, _f, d in inv.invariants(self.design)},
            "obligations": obligations,
            "bmc": bmc,
            "z3": self.usage().to_json(),
        }

    def to_text(self, *, every: bool = False) -> str:
        ind = self.induction
        lines = [f"luo-verify prove: design {self.design.describe()}",
                 f"  induction: unbounded sessions, files, memfds, pages, folios and kexec "
                 f"cycles; {len(ind.invariants)} invariants ({len(inv.AUXILIARY)} "
                 f"auxiliary), {len(ind.obligations)} obligations in {ind.seconds:.1f} s"]
        by_action: dict[str, list[Obligation]] = {}
        for o in ind.obligations:
            by_action.setdefault(o.action, []).append(o)
        lines.append(f"  {'action':<48} {'proved':>9} {'total s':>8} {'max s':>7}")
        for action, obs in by_action.items():
            ok = sum(o.status == "proved" for o in obs)
            lines.append(f"  {action:<48} {f'{ok}/{len(obs)}':>9} "
                         f"{sum(o.seconds for o in obs):8.2f} "
                         f"{max(o.seconds for o in obs):7.2f}")
        if every:
            lines.append("  every obligation (action / property: status, seconds, "
                         "hypotheses):")
            for o in ind.obligations:
                lines.append(f"    {o.action} / {o.prop}: {o.status} {o.seconds:.3f} s "
                             f"({o.hypotheses})")
        for o in ind.failed():
            lines.append(f"  NOT PROVED {o.action} / {o.prop}: {o.status}")
            c = self.ctis.get((o.action, o.prop))
            if isinstance(c, Cti):
                lines.extend(_render_cti(self.design, self.bounds, c))
            elif c is not None:
                lines.append(f"    counterexample to induction: {c}")
            if (o.action, o.prop) in self.upgrades:
                u = self.upgrades[(o.action, o.prop)]
                if u is None:
                    lines.append("    not upgraded: the exhaustive checker reaches no state "
                                 "satisfying every invariant from which this action breaks "
                                 "the property (the CTI may be unreachable; the proof needs "
                                 "a stronger invariant)")
                else:
                    path = self.trace_paths.get(f"cti:{o.action}:{o.prop}")
                    lines.append(f"    upgraded to a reachable counterexample ({u.length} "
                                 f"calls){f', trace {path}' if path else ''}: {u.message}")
                    for a, r, _s in u.steps[1:]:
                        lines.append(f"      {a} = {ret_name(r)}")
        if self.bmc is not None:
            b = self.bmc
            lines.append(f"  BMC at bounds {self.bounds_name} ({self.bounds.describe()}), "
                         f"depth {b.depth}: {b.seconds:.1f} s")
            for p, tr in sorted(b.found.items(), key=lambda kv: (kv[1].length, kv[0])):
                path = self.trace_paths.get(p)
                lines.append(f"    {p}: violated at depth {tr.length} (re-run through "
                             f"next_state){f', trace {path}' if path else ''}")
                lines.append(f"      {tr.message}")
            if not b.found:
                lines.append(f"    no property can be violated within {b.depth} steps")
            if b.overflow_at is not None:
                lines.append(f"    INCONCLUSIVE: the encoding ran out of slots at depth "
                             f"{b.overflow_at}")
            for p in b.unknown:
                lines.append(f"    {p}: Z3 unknown (inconclusive)")
        lines.append("  properties (catalogue) and auxiliary invariants (specs/invariants.py):")
        for name, status in self.property_status().items():
            why = f" ({zf.NOT_ENCODED[name]})" if name in zf.NOT_ENCODED else ""
            aux = " (auxiliary)" if name in inv.AUXILIARY else ""
            lines.append(f"    {name:<36} {status}{aux}{why}")
        lines.append(f"verdict: {self.verdict.upper()} ({self.seconds:.1f} s)")
        return "\n".join(lines)


def _jsonable(v: Any) -> Any:
    if isinstance(v, tuple):
        return [_jsonable(x) for x in v]
    return v


def _render_cti(design: Design, bounds: Bounds, c: Cti) -> list[str]:
    from luoverify.checks.itf import changes

    model = model_for(design, bounds, symmetry=False)
    init = model.view(model.init_states()[0])
    pre, post = model.view(c.pre), model.view(c.post)
    out = ["    counterexample to induction (a state satisfying every invariant):",
           "      pre-state (what differs from a cold-booted machine):"]
    out += [f"        {line}" for line in changes(init, pre)] or ["        (nothing)"]
    out.append(f"      action: {c.action} = {ret_name(c.ret)}")
    out.append("      post-state changes:")
    out += [f"        {line}" for line in changes(pre, post)] or ["        (nothing)"]
    return out


def run_prove(design: Design, bounds: Bounds, *, bounds_name: str = "custom",
              bmc_depth: int = 0,
              trace_dir: Any = None, run_induction: bool = True,
              progress: Callable[[str], None] | None = None) -> ProveReport:
    """Induction, CTI search and upgrade for what fails, then BMC to ``bmc_depth``."""
    from pathlib import Path

    from luoverify.checks import itf
    from luoverify.checks.explore import Step as XStep

    t0 = time.perf_counter()
    ind = (induction(design, bounds, progress=progress)
           if run_induction else InductionResult([], [], 0.0))
    report = ProveReport(design, bounds_name, bounds, ind, None)
    model = model_for(design, bounds, symmetry=False)

    def write(key: str, tr: BmcTrace) -> None:
        if trace_dir is None:
            return
        slug = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in key)
        dslug = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in design.name)
        path = Path(trace_dir) / f"{dslug}.{slug}.itf.json"
        steps = [XStep(a, r, s) for a, r, s in tr.steps]
        meta = {"design": design.name, "bounds": {"name": bounds_name, **bounds.as_dict()},
                "property": tr.prop, "message": tr.message, "found_by": key}
        itf.write_trace(path, itf.trace_document(model, steps, meta))
        report.trace_paths[key] = str(path)

    targets: list[tuple[str, str]] = []
    for o in ind.failed():
        if o.action == "init":
            continue
        key = (o.action, o.prop)
        if progress is not None:
            progress(f"counterexample to induction for {o.action} / {o.prop}")
        report.ctis[key] = find_cti(design, bounds, o.action, o.prop, ind.usage)
        if isinstance(report.ctis[key], Cti):
            o.status = "cti"
            targets.append(key)
    if targets:
        if progress is not None:
            progress(f"searching reachable instances of {len(targets)} CTIs")
        for key, up in upgrade_all(design, bounds, targets).items():
            report.upgrades[key] = up
            if up is not None:
                write(f"cti:{key[0]}:{key[1]}", up)
    if bmc_depth > 0:
        report.bmc = bmc(design, bounds, bmc_depth, progress=progress)
        for prop, tr in report.bmc.found.items():
            write(prop, tr)
    report.seconds = time.perf_counter() - t0
    return report
