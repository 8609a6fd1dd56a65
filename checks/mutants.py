"""``luo-verify mutants``: every mutant of the catalogue (model/mutants.py) against every
checker we have, with the mutation score.

Per mutant:

* **exhaustive** -- breadth-first search at the given bounds (plus the mutant's own bound
  overrides), stopping at the first violation: caught or not, by which properties, the
  length of the shortest counterexample;
* **replay** -- that counterexample replayed on the reference implementation under the
  same mutant design: does the violation reproduce on concrete page frames?
* **differential** -- seeded random walks issuing kernel calls to the reference with the
  model as oracle (the CLI cannot depend on hypothesis, a test dependency; the hypothesis
  machine in tests/stateful runs the same oracle): does some walk break a property on the
  reference, and do model and reference agree on every step until then?
* BMC is not built yet (the ``prove`` issue); its column says so.

A mutant *survives* when the exhaustive search does not catch it. Exit 1 if any does.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from typing import Any

from luoverify.checks.explore import ExploreOptions, explore
from luoverify.checks.replay import broken_properties
from luoverify.checks.run import replay_counterexample
from luoverify.model.bounds import NAMED_BOUNDS, Bounds
from luoverify.model.core import Outcome
from luoverify.model.luo import LuoModel
from luoverify.model.mutants import MUTANTS, NOT_EXPRESSIBLE, Mutant
from luoverify.model.reference import ReferenceDriver
from luoverify.specs.properties import CATALOGUE


@dataclass
class MutantRow:
    id: str
    title: str
    source: str
    expect: str
    bounds: str
    caught: bool = False
    violated: list[str] = field(default_factory=list)
    length: int | None = None
    reproduced: bool | None = None
    differential: bool | None = None
    diff_detail: str = ""
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "title": self.title, "source": self.source,
                "expect": self.expect, "bounds": self.bounds, "caught": self.caught,
                "violated": self.violated, "length": self.length,
                "reproduced": self.reproduced, "differential": self.differential,
                "differential_detail": self.diff_detail, "bmc": None,
                "seconds": round(self.seconds, 2)}


def differential(mutant: Mutant, bounds: Bounds, walks: int, steps: int, seed: int
                 ) -> tuple[bool, str]:
    """Seeded random walks on the reference with the model as oracle."""
    design = mutant.design()
    model = LuoModel(design, bounds, symmetry=False)
    for w in range(walks):
        rng = random.Random(seed * 100_003 + w)
        ref = ReferenceDriver(design, bounds)
        state = model.init_states()[0]
        for i in range(steps):
            action = rng.choice(list(model.actions(state)))
            out = model.next_state(state, action)
            pre = ref.abstract()
            ret, events = ref.apply(action)
            post = ref.abstract()
            if ret != out.ret or post != out.state:
                return False, f"walk {w} step {i + 1}: {action}: reference and model disagree"
            broken = broken_properties(pre, action, Outcome(ret, post, events))
            if broken:
                return True, f"walk {w} step {i + 1}: {', '.join(n for n, _ in broken)}"
            state = out.state
    return False, f"no violation in {walks} walks of {steps} calls"


def run_mutants(bounds_name: str = "ci", *, walks: int = 100, steps: int = 60,
                seed: int = 0, only: list[str] | None = None) -> list[MutantRow]:
    rows: list[MutantRow] = []
    for mutant in MUTANTS:
        if only and mutant.id not in only:
            continue
        t0 = time.perf_counter()
        bounds = NAMED_BOUNDS[bounds_name].with_overrides(**mutant.bounds)
        label = bounds_name + ("+" + ",".join(f"{k}={v}" for k, v in mutant.bounds.items())
                               if mutant.bounds else "")
        row = MutantRow(mutant.id, mutant.title, mutant.source, mutant.expect, label)
        design = mutant.design()
        model = LuoModel(design, bounds)
        not_applicable = {p.name: why for p in CATALOGUE if (why := p.requires(bounds))}
        result = explore(model, CATALOGUE, ExploreOptions(
            stop_at_first=True, not_applicable=not_applicable))
        row.violated = sorted(n for n, s in result.status.items() if s == "violated"
                              and next(p for p in CATALOGUE if p.name == n).kind != "sometimes")
        row.caught = bool(row.violated)
        if row.caught:
            name = mutant.expect if mutant.expect in result.counterexamples else min(
                result.counterexamples, key=lambda n: result.counterexamples[n].length)
            cex = result.counterexamples[name]
            row.length = cex.length
            rep = replay_counterexample(model, design, bounds, cex)
            row.reproduced = rep.status == "violated"
        if walks:
            row.differential, row.diff_detail = differential(mutant, bounds, walks, steps, seed)
        row.seconds = time.perf_counter() - t0
        rows.append(row)
    return rows


def score_line(rows: list[MutantRow]) -> str:
    n = len(rows)
    caught = sum(r.caught for r in rows)
    rep = sum(bool(r.reproduced) for r in rows)
    diff = sum(bool(r.differential) for r in rows)
    pct = 100.0 * caught / n if n else 100.0
    return (f"mutation score: {caught}/{n} caught by exhaustive search ({pct:.0f} %); "
            f"{rep}/{caught} counterexamples reproduced on the reference; "
            f"differential random walks caught {diff}/{n}; BMC: not built yet; "
            f"{len(NOT_EXPRESSIBLE)} catalogued defects not expressible (listed)")


def to_text(rows: list[MutantRow], *, with_not_expressible: bool = True) -> str:
    lines = [f"  {'mutant':11} {'expected':26} {'exhaustive':11} {'len':>3} "
             f"{'replay':9} {'differential':12} {'s':>5}  violated"]
    for r in rows:
        lines.append(
            f"  {r.id:11} {r.expect:26} {'caught' if r.caught else 'SURVIVED':11} "
            f"{r.length if r.length is not None else '-':>3} "
            f"{'yes' if r.reproduced else ('-' if r.reproduced is None else 'NO'):9} "
            f"{'caught' if r.differential else ('-' if r.differential is None else 'no'):12} "
            f"{r.seconds:>5.1f}  {', '.join(r.violated)}")
    if with_not_expressible:
        lines.append("")
        lines.append("  not expressible in the model (or unobservable on top of upstream):")
        for k, why in NOT_EXPRESSIBLE.items():
            lines.append(f"    {k}: {why}")
    lines.append("")
    lines.append(score_line(rows))
    return "\n".join(lines)
