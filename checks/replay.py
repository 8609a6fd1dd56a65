"""``luo-verify replay``: drive the reference implementation through a trace.

At every step the action is issued to the model (without symmetry reduction, so every page
frame is addressable) and to the reference implementation (reference); the step
replays faithfully when

* the reference returns what the trace expects (``luo::ret``) and what the model returns,
* the reference state, mapped to a model state (the refinement mapping), equals the
  model's state, and
* when the trace records state variables (a trace written by ``check``), the model's state
  equals them.

Then every ``always`` and ``step`` property of the catalogue is evaluated on the
*reference's* concrete pages. Outcomes: ``faithful`` (exit 0), ``violated`` (exit 1: the
trace replays faithfully and the reference really breaks a property; the report names the
page frames and everyone who holds them), ``diverged`` (exit 4: the first step where the
reference, the model and the trace disagree). Bad input is a :class:`TraceError` (exit 2).

Trace files are ITF JSON. A hand-written trace needs only, per step, ``mbt::actionTaken``
(the call), ``mbt::nondetPicks`` (its arguments) and ``luo::ret``; ``#meta`` may give
``design`` and ``bounds`` (a named bound, or an object of bound fields). README.md lists
the vocabulary.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from luoverify.checks.itf import changes
from luoverify.model import errno as E
from luoverify.model.bounds import DEFAULT_BOUNDS, NAMED_BOUNDS, Bounds
from luoverify.model.core import Action, Outcome
from luoverify.model.design import Design
from luoverify.model.factory import model_for
from luoverify.model.legacy import LegacyKernel
from luoverify.model.luo import Kernel, LuoModel
from luoverify.model.property import Property
from luoverify.model.state import State, view
from luoverify.reference import NotCallable, ReferenceDriver, reference_for
from luoverify.specs.properties import CATALOGUE

EXIT_FAITHFUL, EXIT_VIOLATED, EXIT_DIVERGED = 0, 1, 4
ACTIONS = tuple(sorted({n[3:] for k in (Kernel, LegacyKernel) for n in dir(k)
                       if n.startswith("do_")}))
MODEL_VARS = ("kexecs", "phase", "faults_left", "outgoing", "incoming", "memfds", "pages")


class TraceError(Exception):
    """The trace cannot be replayed as given (one-line message; exit 2)."""


@dataclass
class TraceStep:
    call: str
    picks: dict[str, Any]
    ret: int | None
    vars: dict[str, Any] | None


@dataclass
class Trace:
    design: str | None
    bounds: Bounds
    bounds_name: str
    steps: list[TraceStep]
    property: str | None = None


def _bounds_of(meta: Mapping[str, Any]) -> tuple[Bounds, str]:
    spec = meta.get("bounds", DEFAULT_BOUNDS)
    if isinstance(spec, str):
        if spec not in NAMED_BOUNDS:
            raise TraceError(f"unknown bounds {spec!r} in #meta (known: "
                             f"{', '.join(sorted(NAMED_BOUNDS))})")
        return NAMED_BOUNDS[spec], spec
    if not isinstance(spec, dict):
        raise TraceError("#meta.bounds must be a bound name or an object")
    fields = {k: v for k, v in spec.items() if k != "name"}
    name = str(spec.get("name", DEFAULT_BOUNDS))
    base = NAMED_BOUNDS.get(name, NAMED_BOUNDS[DEFAULT_BOUNDS])
    try:
        bounds = base.with_overrides(**fields)
    except (TypeError, ValueError) as exc:
        raise TraceError(f"#meta.bounds: {exc}") from None
    if name in NAMED_BOUNDS and bounds != base:
        name += "+overrides"
    return bounds, name


def parse_trace(doc: Any) -> Trace:
    """A :class:`Trace` from a parsed ITF document (recorded or hand-written)."""
    if not isinstance(doc, dict) or not isinstance(doc.get("states"), list):
        raise TraceError("not an ITF trace: expected an object with a \"states\" list")
    meta = doc.get("#meta", {})
    if not isinstance(meta, dict):
        raise TraceError("#meta must be an object")
    bounds, bounds_name = _bounds_of(meta)
    steps: list[TraceStep] = []
    for i, entry in enumerate(doc["states"]):
        if not isinstance(entry, dict):
            raise TraceError(f"state {i} is not an object")
        call = entry.get("mbt::actionTaken")
        if call is None:
            raise TraceError(f"state {i} has no mbt::actionTaken")
        if call == "init":
            if i:
                raise TraceError(f"state {i}: 'init' may only be the first state")
            continue
        if call not in ACTIONS:
            raise TraceError(f"state {i}: unknown action {call!r} (known: {', '.join(ACTIONS)})")
        picks = entry.get("mbt::nondetPicks", {})
        if not isinstance(picks, dict):
            raise TraceError(f"state {i}: mbt::nondetPicks must be an object")
        ret: int | None = None
        if "luo::ret" in entry:
            try:
                ret = E.parse_ret(entry["luo::ret"])
            except ValueError as exc:
                raise TraceError(f"state {i}: {exc}") from None
        has_vars = all(v in entry for v in MODEL_VARS)
        steps.append(TraceStep(call, picks, ret,
                               {v: entry[v] for v in MODEL_VARS} if has_vars else None))
    design = meta.get("design")
    return Trace(design if isinstance(design, str) else None, bounds, bounds_name, steps,
                 meta.get("property") if isinstance(meta.get("property"), str) else None)


def load_trace(path: Path) -> Trace:
    try:
        text = path.read_text()
    except OSError as exc:
        raise TraceError(f"cannot read {path}: {exc.strerror}") from None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise TraceError(f"{path} is not JSON: {exc.msg} (line {exc.lineno})") from None
    return parse_trace(doc)


@dataclass
class Violation:
    prop: str
    message: str
    step: int
    action: str
    pages: dict[int, list[str]]


@dataclass
class Divergence:
    step: int
    action: str
    what: str
    details: list[str]


@dataclass
class ReplayResult:
    design: str
    bounds_name: str
    steps: list[tuple[str, int]] = field(default_factory=list)  # (action, ret) replayed
    violation: Violation | None = None
    divergence: Divergence | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def status(self) -> str:
        if self.divergence is not None:
            return "diverged"
        return "violated" if self.violation is not None else "faithful"

    @property
    def exit_code(self) -> int:
        return {"faithful": EXIT_FAITHFUL, "violated": EXIT_VIOLATED,
                "diverged": EXIT_DIVERGED}[self.status]

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"design": self.design, "bounds": self.bounds_name,
                               "status": self.status, "steps": len(self.steps),
                               "notes": self.notes}
        if self.violation is not None:
            v = self.violation
            out["violation"] = {"property": v.prop, "message": v.message, "step": v.step,
                                "action": v.action,
                                "pages": {str(p): who for p, who in v.pages.items()}}
        if self.divergence is not None:
            d = self.divergence
            out["divergence"] = {"step": d.step, "action": d.action, "what": d.what,
                                 "details": d.details}
        return out

    def to_text(self) -> str:
        lines = [f"luo-verify replay: design {self.design}, bounds {self.bounds_name}"]
        lines += [f"  note: {n}" for n in self.notes]
        for i, (action, ret) in enumerate(self.steps, 1):
            lines.append(f"  {i:>3}  {action} = {E.ret_name(ret)}")
        if self.divergence is not None:
            d = self.divergence
            lines.append(f"DIVERGED at step {d.step}: {d.action}: {d.what}")
            lines += [f"    {x}" for x in d.details]
        elif self.violation is not None:
            v = self.violation
            lines.append(f"VIOLATED on the reference at step {v.step}: {v.action}")
            lines.append(f"  {v.prop}: {v.message}")
            for p, who in sorted(v.pages.items()):
                lines.append(f"  page frame {p}: " + "; ".join(who))
            lines.append("verdict: the counterexample is real (reproduced on concrete pages)")
        else:
            lines.append("verdict: replayed faithfully; no property violated")
        return "\n".join(lines)


def _resolve(model: LuoModel, state: State, step: TraceStep, index: int) -> Action:
    enabled = [a for a in model.actions(state) if a.name == step.call]
    for a in enabled:
        if a.picks() == step.picks:
            return a
    offered = ", ".join(str(a) for a in enabled) or "none"
    raise TraceError(f"step {index}: {step.call}"
                     f"({', '.join(f'{k}={v}' for k, v in step.picks.items())}) is not "
                     f"callable here (offered: {offered})")


def broken_properties(pre: State, action: Action, out: Outcome[State],
                      properties: Sequence[Property] = CATALOGUE) -> list[tuple[str, str]]:
    """(name, message) of every ``always`` property ``out.state`` breaks and every
    ``step`` property the transition breaks, in catalogue order: the oracle that replay,
    the mutants' random walks and the differential test apply to the reference."""
    broken: list[tuple[str, str]] = []
    for p in properties:
        if p.kind == "always":
            msg = p.check(out.state)
        elif p.kind == "step" and (p.triggers is None or action.name in p.triggers):
            msg = p.check(pre, action, out)
        else:
            continue
        if msg:
            broken.append((p.name, msg))
    return broken


def _pages_in(message: str) -> list[int]:
    return sorted({int(m) for m in re.findall(r"page (\d+)", message)})


def replay(trace: Trace, design: Design, *, compare_vars: bool = True,
           properties: Sequence[Property] = CATALOGUE,
           prefer: str | None = None) -> ReplayResult:
    """Replay ``trace`` on the reference under ``design`` (see the module docstring).
    When several properties break on the same step, ``prefer`` names the one to report
    (a counterexample's own property); otherwise the first in catalogue order."""
    bounds = trace.bounds
    model = model_for(design, bounds, symmetry=False)
    driver = reference_for(design, bounds)
    result = ReplayResult(design.name, trace.bounds_name)
    state = model.init_states()[0]
    abstract = driver.abstract()
    if abstract != state:
        result.divergence = Divergence(0, "(cold boot)", "initial states differ",
                                       changes(view(state), view(abstract)))
        return result
    for index, tstep in enumerate(trace.steps, 1):
        action = _resolve(model, state, tstep, index)
        out = model.next_state(state, action)
        try:
            ret, events = driver.apply(action)
        except NotCallable as exc:
            result.divergence = Divergence(index, str(action), "the reference cannot issue "
                                           "this call", [str(exc)])
            return result
        result.steps.append((str(action), ret))
        post = driver.abstract()
        if tstep.ret is not None and ret != tstep.ret:
            result.divergence = Divergence(
                index, str(action), f"returned {E.ret_name(ret)}, the trace expects "
                f"{E.ret_name(tstep.ret)}", [f"model returns {E.ret_name(out.ret)}"])
            return result
        if ret != out.ret:
            result.divergence = Divergence(
                index, str(action), f"reference returned {E.ret_name(ret)}, the model "
                f"{E.ret_name(out.ret)}", [])
            return result
        if post != out.state:
            result.divergence = Divergence(
                index, str(action), "the reference state differs from the model's "
                "(model -> reference)", changes(view(out.state), view(post)))
            return result
        if compare_vars and tstep.vars is not None:
            mv = json.loads(json.dumps(view(out.state)))
            if mv != tstep.vars:
                result.divergence = Divergence(
                    index, str(action), "the model's state differs from the state the "
                    "trace records (trace -> model)", changes(tstep.vars, mv))
                return result
        broken = broken_properties(abstract, action, Outcome(ret, post, events), properties)
        if broken:
            # several properties may break on one step: report the one asked about
            name, msg = next((b for b in broken if b[0] == prefer), broken[0])
            result.violation = _violation(driver, name, msg, index, action)
            return result
        state, abstract = out.state, post
    return result


def _violation(driver: ReferenceDriver, prop: str, message: str, index: int,
               action: Action) -> Violation:
    """The violation with the census of the frames it names; when the message names no
    frame (a wrong return code, a lost handle), of every frame some object holds or names
    or KHO tracks at that step."""
    frames = range(len(driver.kernel.mem.frames))
    named = [p for p in _pages_in(message) if p in frames]
    if named:
        pages = {p: driver.census(p) for p in named}
    else:
        census = {p: driver.census(p) for p in frames}
        pages = {p: who for p, who in census.items()
                 if len(who) > 1 or "free" not in who[0] or "KHO" in who[0]}
    return Violation(prop, message, index, str(action), pages)
