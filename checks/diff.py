"""``luo-verify diff``: what changes in behaviour between two designs at the same bounds.

For each design, every transition class of its explored graph (checks/traces.py) has a
shortest witness trace. That trace is replayed on the other design's model, call by call:
the first call the other design answers differently (another return value, or not
callable at all: it blocks) is a behaviour difference, shown with the trace that leads to
it. Differences are deduplicated by (call, side, the two answers), keeping the shortest.
Then the properties whose verdict changes. This is the review summary of a patch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from luoverify.checks.explore import ExploreOptions, explore, trace_to
from luoverify.checks.header import design_json, header
from luoverify.checks.traces import class_witnesses, side_kind
from luoverify.model import errno as E
from luoverify.model.bounds import Bounds
from luoverify.model.design import Design
from luoverify.model.factory import model_for
from luoverify.model.property import not_applicable as props_not_applicable
from luoverify.specs.properties import CATALOGUE


@dataclass
class Difference:
    call: str
    answers: dict[str, str]  # design name -> "0", "-EBUSY", or "not callable"
    prefix: list[str]  # the calls that lead to it, with what both designs return
    action: str  # the call answered differently

    @property
    def trace(self) -> list[str]:
        return [*self.prefix, f"{self.action}: " + ", ".join(
            f"{k} {v}" for k, v in self.answers.items())]

    def key(self) -> tuple[Any, ...]:
        return (self.call, tuple(sorted(self.answers.items())))


@dataclass
class DiffReport:
    a: str
    b: str
    bounds_name: str
    #: the two designs and the bounds, for the JSON header (checks/header.py)
    designs: tuple[Design, Design]
    bounds: Bounds
    verdicts: dict[str, tuple[str, str]] = field(default_factory=dict)
    differences: list[Difference] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {**header("diff", None, self.bounds_name, self.bounds),
                "designs": [design_json(d) for d in self.designs],
                "verdict_changes": {k: {self.a: v[0], self.b: v[1]}
                                    for k, v in self.verdicts.items()},
                "differences": [{"call": d.call, "answers": d.answers, "trace": d.trace}
                                for d in self.differences]}

    def to_text(self) -> str:
        lines = [f"luo-verify diff: {self.a} vs {self.b}, bounds {self.bounds_name}", "",
                 "properties whose verdict changes:"]
        if not self.verdicts:
            lines.append("  none")
        for name, (va, vb) in self.verdicts.items():
            lines.append(f"  {name:28} {self.a}: {va:10} {self.b}: {vb}")
        lines += ["", f"calls answered differently ({len(self.differences)}; shortest trace "
                      "each, the differing call last):"]
        for d in self.differences:
            lines.append(f"  {d.call}: " + ", ".join(f"{k} {v}" for k, v in d.answers.items()))
            for i, call in enumerate(d.trace, 1):
                lines.append(f"    {i:>2}  {call}")
        return "\n".join(lines)


def _differences(x: Design, y: Design, bounds: Bounds) -> tuple[list[Difference], dict[str, str]]:
    mx = model_for(x, bounds)
    my = model_for(y, bounds, symmetry=False)
    not_applicable = props_not_applicable(CATALOGUE, x, bounds)
    result = explore(mx, CATALOGUE, ExploreOptions(keep_graph=True,
                                                   not_applicable=not_applicable))
    out: list[Difference] = []
    for cls, (_d, src, aid) in sorted(class_witnesses(mx, result).items(),
                                      key=lambda kv: (kv[1][0], kv[0])):
        steps = trace_to(mx, result, src, aid)
        state = my.init_states()[0]
        shown: list[str] = []
        for step in steps[1:]:
            assert step.action is not None
            offered = next((a for a in my.actions(state) if a == step.action), None)
            if offered is None:
                answers = {x.name: E.ret_name(step.ret), y.name: "not callable here"}
            else:
                o = my.next_state(state, offered)
                if o.ret == step.ret:
                    shown.append(f"{step.action} = {E.ret_name(step.ret)}")
                    state = o.state
                    continue
                answers = {x.name: E.ret_name(step.ret), y.name: E.ret_name(o.ret)}
            out.append(Difference(side_kind(mx, step.action), answers, shown,
                                  str(step.action)))
            break
        del cls
    return out, dict(result.status)


def diff_designs(a: Design, b: Design, bounds: Bounds, bounds_name: str) -> DiffReport:
    report = DiffReport(a.name, b.name, bounds_name, (a, b), bounds)
    da, sa = _differences(a, b, bounds)
    db, sb = _differences(b, a, bounds)
    best: dict[tuple[Any, ...], Difference] = {}
    for d in da + db:
        # the same difference seen from either side: one entry, in a-then-b order
        d.answers = {a.name: d.answers[a.name], b.name: d.answers[b.name]}
        k = d.key()
        if k not in best or len(d.trace) < len(best[k].trace):
            best[k] = d
    report.differences = sorted(best.values(), key=lambda d: (len(d.trace), d.key()))
    for p in CATALOGUE:
        va, vb = sa.get(p.name, "unknown"), sb.get(p.name, "unknown")
        if va != vb:
            report.verdicts[p.name] = (va, vb)
    return report
