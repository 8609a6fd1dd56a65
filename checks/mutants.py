"""``luo-verify mutants``: every mutant of the catalogue (specs/defects.py) against every
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
* **BMC** -- Z3 bounded model checking (``checks/prove.py``) of the mutant's expected
  property, depth by depth up to ``bmc_depth``, found independently of the search: its
  length must equal the exhaustive search's (both are shortest), and its trace has been
  re-run through the explicit model before it is counted. ``n/a`` with the reason when the
  design or the property has no Z3 encoding (scratch pages, graph properties).

A mutant *survives* when the exhaustive search does not catch it. Exit 1 if any does.
Mutants are independent: ``jobs`` > 1 runs them in worker processes (same rows, same
order; only the times differ).
"""

from __future__ import annotations

import multiprocessing
import random
import signal
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from luoverify.checks.explore import ExploreOptions, explore
from luoverify.checks.header import header
from luoverify.checks.replay import broken_properties, for_design
from luoverify.checks.run import replay_counterexample
from luoverify.model.bounds import NAMED_BOUNDS, Bounds
from luoverify.model.core import Outcome
from luoverify.model.factory import model_for
from luoverify.model.property import not_applicable as props_not_applicable
from luoverify.reference import reference_for
from luoverify.specs.defects import BY_ID, DEFECTS, NOT_EXPRESSIBLE, Defect
from luoverify.specs.properties import CATALOGUE


@dataclass
class MutantRow:
    id: str
    title: str
    source: str
    expect: str
    bounds: str
    base: str = "upstream"
    caught: bool = False
    violated: list[str] = field(default_factory=list)
    length: int | None = None
    reproduced: bool | None = None
    differential: bool | None = None
    diff_detail: str = ""
    #: "caught" | "not found" (to ``bmc_depth``) | "inconclusive" (Z3 reached its
    #: resource limit: never a disagreement) | "n/a" | None
    bmc: str | None = None
    bmc_property: str | None = None
    bmc_length: int | None = None
    bmc_detail: str = ""
    bmc_seconds: float = 0.0
    #: Z3 resource units the BMC column used (deterministic: checks/prove.py RLIMITS)
    bmc_rlimit: int = 0
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        """The row as JSON (``seconds`` and ``bmc.seconds`` are its only timing fields)."""
        design = BY_ID[self.id].design()
        return {"id": self.id, "title": self.title, "source": self.source,
                "base": self.base, "design": design.name,
                "design_flags": design.flags(), "expect": self.expect,
                "bounds": self.bounds,
                "caught": self.caught,
                "violated": self.violated, "length": self.length,
                "reproduced": self.reproduced, "differential": self.differential,
                "differential_detail": self.diff_detail,
                "bmc": None if self.bmc is None else {
                    "status": self.bmc, "property": self.bmc_property,
                    "length": self.bmc_length, "detail": self.bmc_detail,
                    "rlimit": self.bmc_rlimit, "seconds": round(self.bmc_seconds, 2)},
                "seconds": round(self.seconds, 2)}


def differential(mutant: Defect, bounds: Bounds, walks: int, steps: int, seed: int
                 ) -> tuple[bool, str]:
    """Seeded random walks on the reference with the model as oracle."""
    design = mutant.design()
    model = model_for(design, bounds, symmetry=False)
    for w in range(walks):
        rng = random.Random(seed * 100_003 + w)
        ref = reference_for(design, bounds)
        state = model.init_states()[0]
        for i in range(steps):
            action = rng.choice(list(model.actions(state)))
            out = model.next_state(state, action)
            pre = ref.abstract()
            ret, events = ref.apply(action)
            post = ref.abstract()
            if ret != out.ret or post != out.state:
                return False, f"walk {w} step {i + 1}: {action}: reference and model disagree"
            broken = broken_properties(pre, action, Outcome(ret, post, events),
                                       for_design(CATALOGUE, design))
            if broken:
                return True, f"walk {w} step {i + 1}: {', '.join(n for n, _ in broken)}"
            state = out.state
    return False, f"no violation in {walks} walks of {steps} calls"


def bmc_column(mutant: Defect, bounds: Bounds, depth: int, row: MutantRow) -> None:
    """Fill the BMC cells of ``row``: Z3 BMC of the mutant's expected property."""
    # imported here: z3 is heavy, and the column is optional (--bmc-depth 0)
    from luoverify.checks.prove import bmc
    from luoverify.model.symbolic import unsupported
    from luoverify.specs import zforms as zf

    t0 = time.perf_counter()
    row.bmc_property = mutant.expect
    why = unsupported(mutant.design(), bounds)
    if not why and mutant.expect in zf.NOT_ENCODED:
        why = [f"{mutant.expect}: {zf.NOT_ENCODED[mutant.expect]}"]
    if why:
        row.bmc, row.bmc_detail = "n/a", "; ".join(why)
        return
    res = bmc(mutant.design(), bounds, depth, props=[mutant.expect])
    trace = res.found.get(mutant.expect)
    if trace is not None:
        row.bmc, row.bmc_length = "caught", trace.length
        row.bmc_detail = trace.message
    elif res.unknown:
        row.bmc = "inconclusive"
        row.bmc_detail = "; ".join(f"{p}: {why}" for p, why in res.unknown_why.items())
    else:
        row.bmc = "not found"
        row.bmc_detail = f"no violation of {mutant.expect} in {depth} steps" + (
            f" (slots ran out at depth {res.overflow_at}: inconclusive beyond it)"
            if res.overflow_at is not None else "")
    row.bmc_rlimit = res.usage.rlimit
    row.bmc_seconds = time.perf_counter() - t0


def run_mutants(bounds_name: str = "ci", *, walks: int = 100, steps: int = 60,
                seed: int = 0, only: list[str] | None = None, bmc_depth: int = 0,
                jobs: int = 1, progress: Callable[[MutantRow], None] | None = None
                ) -> list[MutantRow]:
    """One row per mutant (catalogue order). ``bmc_depth`` 0 skips the BMC column.

    ``jobs`` > 1 runs the mutants in that many worker processes (same rows, same order).
    Ctrl-C raises KeyboardInterrupt here at once (the workers are terminated, and ignore
    SIGINT themselves); the rows finished before it have reached ``progress``.
    """
    chosen = [m for m in DEFECTS if not only or m.id in only]
    work = [(m, bounds_name, walks, steps, seed, bmc_depth) for m in chosen]
    rows: list[MutantRow] = []

    def take(results: Iterable[MutantRow]) -> None:
        for row in results:
            rows.append(row)
            if progress is not None:
                progress(row)

    if jobs <= 1 or len(work) <= 1:
        take(map(_row_of, work))
        return rows
    pool = multiprocessing.Pool(min(jobs, len(work)), initializer=_ignore_sigint)
    try:
        take(pool.imap(_row_of, work))
    except BaseException:
        pool.terminate()
        raise
    else:
        pool.close()
    finally:
        pool.join()
    return rows


def _ignore_sigint() -> None:
    """Worker processes leave Ctrl-C to the parent, which terminates them."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def bmc_agrees(row: MutantRow, depth: int) -> bool:
    """BMC and the exhaustive search tell the same story: where the search found the
    expected property violated within ``depth`` steps, BMC found it at the same length."""
    if row.bmc in (None, "n/a", "inconclusive") or row.expect not in row.violated or (
            row.length is None):
        return True  # a limit reached says nothing either way: inconclusive, not a bug
    if row.length > depth:
        return row.bmc == "not found"
    return row.bmc == "caught" and row.bmc_length == row.length


def _row_of(work: tuple[Defect, str, int, int, int, int]) -> MutantRow:
    mutant, bounds_name, walks, steps, seed, bmc_depth = work
    t0 = time.perf_counter()
    bounds = NAMED_BOUNDS[bounds_name].with_overrides(**mutant.bounds)
    label = bounds_name + ("+" + ",".join(f"{k}={v}" for k, v in mutant.bounds.items())
                           if mutant.bounds else "")
    row = MutantRow(mutant.id, mutant.title, mutant.source, mutant.expect, label,
                    mutant.base)
    design = mutant.design()
    model = model_for(design, bounds)
    not_applicable = props_not_applicable(CATALOGUE, design, bounds)
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
    if bmc_depth:
        bmc_column(mutant, bounds, bmc_depth, row)
    row.seconds = time.perf_counter() - t0
    return row


def mutants_json(rows: list[MutantRow], bounds_name: str, *, complete: bool = True
                 ) -> dict[str, Any]:
    """The ``mutants --json`` report (schema ``mutants.schema.json``)."""
    return {**header("mutants", None, bounds_name, NAMED_BOUNDS[bounds_name]),
            "complete": complete, "mutants": [r.as_dict() for r in rows],
            "not_expressible": NOT_EXPRESSIBLE, "score": score_line(rows)}


def score_line(rows: list[MutantRow]) -> str:
    n = len(rows)
    caught = sum(r.caught for r in rows)
    rep = sum(bool(r.reproduced) for r in rows)
    diff = sum(bool(r.differential) for r in rows)
    pct = 100.0 * caught / n if n else 100.0
    ran = [r for r in rows if r.bmc is not None]
    if ran:
        enc = [r for r in ran if r.bmc != "n/a"]
        bmc = (f"BMC caught {sum(r.bmc == 'caught' for r in enc)}/{len(enc)} encodable "
               f"({len(ran) - len(enc)} n/a)")
    else:
        bmc = "BMC not run"
    return (f"mutation score: {caught}/{n} caught by exhaustive search ({pct:.0f} %); "
            f"{rep}/{caught} counterexamples reproduced on the reference; "
            f"differential random walks caught {diff}/{n}; {bmc}; "
            f"{len(NOT_EXPRESSIBLE)} catalogued defects not expressible (listed)")


def _cell(flag: bool | None, yes: str, no: str) -> str:
    return "-" if flag is None else (yes if flag else no)


def to_text(rows: list[MutantRow], *, with_not_expressible: bool = True) -> str:
    with_bmc = any(r.bmc is not None for r in rows)
    width = max([26, *(len(r.expect) for r in rows)])
    lines = [f"  {'mutant':11} {'expected':{width}} {'exhaustive':11} {'len':>3} "
             f"{'replay':7} {'differential':12} "
             + (f"{'BMC':9} {'len':>3} " if with_bmc else "") + f"{'s':>5}  violated"]
    for r in rows:
        bmc = ""
        if with_bmc:
            bmc = (f"{r.bmc or '-':9} "
                   f"{r.bmc_length if r.bmc_length is not None else '-':>3} ")
        lines.append(
            f"  {r.id:11} {r.expect:{width}} {'caught' if r.caught else 'SURVIVED':11} "
            f"{r.length if r.length is not None else '-':>3} "
            f"{_cell(r.reproduced, 'yes', 'NO'):7} "
            f"{_cell(r.differential, 'caught', 'no'):12} {bmc}"
            f"{r.seconds:>5.1f}  {', '.join(r.violated)}")
    na = [r for r in rows if r.bmc == "n/a"]
    if na:
        lines.append("")
        lines.append("  BMC n/a:")
        lines.extend(f"    {r.id}: {r.bmc_detail}" for r in na)
    if with_not_expressible:
        lines.append("")
        lines.append("  not expressible in the model (or unobservable on top of upstream):")
        for k, why in NOT_EXPRESSIBLE.items():
            lines.append(f"    {k}: {why}")
    lines.append("")
    lines.append(score_line(rows))
    return "\n".join(lines)
