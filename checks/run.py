"""One ``luo-verify check`` run: model + properties + explorer + coverage + reports."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from luoverify.checks import itf
from luoverify.checks.exits import (
    EXIT_COVERAGE,
    EXIT_DIVERGED,
    EXIT_FAIL,
    EXIT_INCONCLUSIVE,
    EXIT_INTERRUPTED,
    EXIT_PASS,
)
from luoverify.checks.explore import Counterexample, ExploreOptions, ExploreResult, explore
from luoverify.checks.header import header
from luoverify.checks.replay import Divergence, ReplayResult, Violation, parse_trace, replay
from luoverify.model import errno as E
from luoverify.model.bounds import Bounds
from luoverify.model.design import Design
from luoverify.model.factory import model_for
from luoverify.model.luo import LuoModel
from luoverify.model.property import Property
from luoverify.model.property import not_applicable as props_not_applicable
from luoverify.model.state import State
from luoverify.specs.defects import classify, diagnose, labels_of_call
from luoverify.specs.properties import CATALOGUE

_GRAPH_PROPS = frozenset(p.name for p in CATALOGUE if p.kind == "graph")


@dataclass
class CoverageRow:
    kind: str
    enabled: int
    outcomes: dict[int, tuple[int, int]]  # ret -> (fired, new states)


@dataclass
class CoverageReport:
    rows: list[CoverageRow]
    #: expected outcomes that never fired: (kind, ret)
    missing: list[tuple[str, int]]
    #: outcomes the bounds or design rule out: (kind, ret, reason)
    impossible: list[tuple[str, int, str]]
    #: outcomes that fired but the model did not declare (a model/table mismatch)
    undeclared: list[tuple[str, int]]
    #: for a variant: the profile whose expected outcomes it is judged against
    base: str | None = None
    #: a variant's behaviour change against ``base``: (kind, ret, times the base fires
    #: it, times the variant fires it); 0 on one side = added or removed. Not a failure.
    changes: list[tuple[str, int, int, int]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.missing and not self.undeclared


@dataclass
class CheckReport:
    design: Design
    bounds_name: str
    bounds: Bounds
    result: ExploreResult[State]
    model: LuoModel
    properties: tuple[Property, ...]
    coverage: CoverageReport
    defects: dict[str, list[str]] = field(default_factory=dict)
    trace_paths: dict[str, str] = field(default_factory=dict)
    #: property -> further counterexamples, one for each real defect that no primary
    #: (shortest) counterexample exhibits: (defect ids, counterexample, trace path); each
    #: is the shortest along the BFS tree among those whose path shows the defect
    extras: dict[str, list[tuple[list[str], Counterexample[State], str | None]]] = field(
        default_factory=dict)

    def all_defects(self) -> list[str]:
        """Every defect some reported counterexample exhibits."""
        out: list[str] = []
        for name in self.defects:
            ids = self.defects[name] + [i for e in self.extras.get(name, []) for i in e[0]]
            out.extend(i for i in ids if i not in out)
        return sorted(out)
    symmetry: bool = True
    #: False with --continue: states reached by a violation are expanded too
    stop_at_violations: bool = True
    #: the engine that searched ("compiled" or "generic") and, for generic under
    #: ``--engine auto``, why not the compiled one
    engine: str = "generic"
    engine_note: str | None = None
    #: with --replay: counterexample name (``prop`` or ``prop#length`` for extras) ->
    #: its replay on the reference implementation
    replays: dict[str, ReplayResult] = field(default_factory=dict)
    replayed: bool = False

    @property
    def replay_ok(self) -> bool:
        return all(r.status == "violated" for r in self.replays.values())

    @property
    def verdict(self) -> str:
        status = self.result.status
        if any(v == "violated" for v in status.values()) or not self.coverage.ok:
            return "fail"
        if not self.result.complete or any(v == "unknown" for v in status.values()):
            return "inconclusive"
        return "pass"

    @property
    def exit_code(self) -> int:
        """checks/exits.py: 130 interrupted, 4 a counterexample did not replay, 1 a
        property violated, 5 only a coverage gap (an expected outcome never fired, or a
        ``sometimes`` vacuity guard never reached), 3 inconclusive, 0 pass."""
        if self.result.interrupted:
            return EXIT_INTERRUPTED
        if not self.replay_ok:
            return EXIT_DIVERGED
        verdict = self.verdict
        if verdict == "fail":
            vacuity = {p.name for p in self.properties if p.kind == "sometimes"}
            violated = any(v == "violated" and name not in vacuity
                           for name, v in self.result.status.items())
            return EXIT_FAIL if violated else EXIT_COVERAGE
        return EXIT_INCONCLUSIVE if verdict == "inconclusive" else EXIT_PASS

    # ------------------------------------------------------------------ JSON
    def to_json(self, *, timings: bool = True) -> dict[str, Any]:
        r = self.result
        props: dict[str, Any] = {}
        for p in self.properties:
            entry: dict[str, Any] = {"status": r.status[p.name], "kind": p.kind,
                                     "source": p.source}
            if p.name in r.notes:
                entry["message"] = r.notes[p.name]
            cex = r.counterexamples.get(p.name)
            if cex is not None:
                entry["length"] = cex.length
                entry["message"] = cex.message
                entry["defects"] = self.defects.get(p.name, [])
                entry["steps"] = itf.script_steps(self.model, cex.steps)
                if p.name in self.trace_paths:
                    entry["trace"] = self.trace_paths[p.name]
                entry["also"] = [{"defects": ids, "length": c.length, "message": c.message,
                                  **({"trace": path} if path else {}),
                                  **self._replay_json(f"{p.name}#{c.length}")}
                                 for ids, c, path in self.extras.get(p.name, [])]
                entry.update(self._replay_json(p.name))
            props[p.name] = entry
        out: dict[str, Any] = {
            **header("check", self.design, self.bounds_name, self.bounds),
            "symmetry": self.symmetry,
            "stop_at_violations": self.stop_at_violations,
            "engine": self._engine_json(timings),
            "verdict": self.verdict,
            "complete": r.complete,
            "states": r.states,
            "transitions": r.transitions,
            "depth": r.depth,
            "seconds": round(r.seconds, 3) if timings else None,
            "states_per_second": round(r.rate, 1) if timings else None,
            "pruned": r.pruned,
            "properties": props,
            **({"replay": {"replayed": len(self.replays),
                           "reproduced": sum(1 for x in self.replays.values()
                                             if x.status == "violated")}}
               if self.replayed else {}),
            "defects": self.all_defects(),
            "coverage": {
                "ok": self.coverage.ok,
                "kinds": {row.kind: {"enabled": row.enabled, "outcomes": {
                    E.ret_name(ret): {"fired": f, "new_states": n}
                    for ret, (f, n) in sorted(row.outcomes.items())}}
                    for row in self.coverage.rows},
                "missing": [f"{k} = {E.ret_name(ret)}" for k, ret in self.coverage.missing],
                "undeclared": [f"{k} = {E.ret_name(ret)}"
                               for k, ret in self.coverage.undeclared],
                "impossible": {f"{k} = {E.ret_name(ret)}": why
                               for k, ret, why in self.coverage.impossible},
                **({"base": self.coverage.base, "changes": [
                    {"outcome": f"{k} = {E.ret_name(ret)}", "base_fired": b, "fired": v}
                    for k, ret, b, v in self.coverage.changes]}
                   if self.coverage.base else {}),
            },
        }
        if r.limit_reason:
            out["limit"] = r.limit_reason
        return out

    def _replay_json(self, key: str) -> dict[str, Any]:
        r = self.replays.get(key)
        if r is None:
            return {}
        out: dict[str, Any] = {"reproduced": r.status == "violated"}
        if r.violation is not None:
            out["replay_pages"] = {str(p): who for p, who in r.violation.pages.items()}
        if r.divergence is not None:
            out["replay_divergence"] = (f"step {r.divergence.step}: {r.divergence.action}: "
                                        f"{r.divergence.what}")
        return out

    def _replay_text(self, key: str) -> list[str]:
        r = self.replays.get(key)
        if r is None:
            return []
        if r.status == "violated" and r.violation is not None:
            out = [f"       reproduced on the reference implementation at step "
                   f"{r.violation.step}:"]
            out += [f"         page frame {p}: {'; '.join(who)}"
                    for p, who in sorted(r.violation.pages.items())]
            return out
        d = r.divergence
        return [f"       NOT reproduced on the reference: step {d.step if d else '?'}: "
                f"{d.what if d else r.status}"]

    def _engine_json(self, timings: bool) -> dict[str, Any]:
        r = self.result
        out: dict[str, Any] = {"name": self.engine}
        if self.engine_note:
            out["note"] = self.engine_note
        if self.engine == "compiled":
            out["threads"] = r.threads
            out["bytes_per_state"] = (round(r.bytes_per_state, 1)
                                      if r.bytes_per_state is not None else None)
            out["graph_bytes"] = r.graph_bytes
            if timings and r.search_seconds:
                out["search_seconds"] = round(r.search_seconds[0], 3)
                out["search_cpu_seconds"] = round(r.search_seconds[1], 3)
        return out

    # ------------------------------------------------------------------ text
    def to_text(self) -> str:
        r = self.result
        lines = [
            f"luo-verify check: design {self.design.describe()}",
            f"  bounds {self.bounds_name}: {self.bounds.describe()}"
            f"{'' if self.symmetry else '  (symmetry reduction off)'}",
            f"  engine {self.engine}"
            + (f" ({self.engine_note})" if self.engine_note else "")
            + (f": {r.threads} thread(s), search {r.search_seconds[0]:.2f} s "
               f"({r.search_seconds[1]:.2f} CPU-s), {r.bytes_per_state:.0f} bytes/state"
               if r.search_seconds and r.bytes_per_state else ""),
            f"  {r.states} states, {r.transitions} transitions, depth {r.depth}, "
            f"{r.seconds:.1f} s, {r.rate:,.0f} states/s"
            + ("" if r.complete else f"  -- INCOMPLETE: {r.limit_reason}"),
        ]
        if r.pruned:
            lines.append(f"  {r.pruned} states reached by a violation were not expanded "
                         "(--continue explores past violations)")
        lines += [
            "",
            f"  {'property':28} {'kind':9} {'result':14} {'calls':>5}  defects / note",
        ]
        for p in self.properties:
            status = r.status[p.name]
            cex = r.counterexamples.get(p.name)
            length = str(cex.length) if cex else ""
            note = ", ".join(self.defects.get(p.name, [])) if cex else ""
            if status in ("not_applicable", "unknown") or (
                    p.kind == "sometimes" and status == "violated"):
                note = r.notes.get(p.name, "")
            lines.append(f"  {p.name:28} {p.kind:9} {status:14} {length:>5}  {note}")
        cov = self.coverage
        fired = sum(len(row.outcomes) for row in cov.rows)
        lines.append("")
        lines.append(f"  coverage: {len(cov.rows)} action kinds, {fired} outcomes fired; "
                     f"{len(cov.impossible)} ruled out by design or bounds"
                     + ("" if cov.ok else "; GAPS:"))
        for k, ret in cov.missing:
            lines.append(f"    never fired: {k} = {E.ret_name(ret)}")
        for k, ret in cov.undeclared:
            lines.append(f"    undeclared outcome: {k} = {E.ret_name(ret)}")
        if cov.base:
            lines.append(f"  behaviour change against {cov.base} (judged against its expected "
                         "outcomes; not a failure):" + ("" if cov.changes else " none"))
            for k, ret, b, v in cov.changes:
                lines.append(f"    {k}: {E.ret_name(ret)} {cov.base} {b}x, "
                             f"{self.design.name} {v}x")
        for name, cex in r.counterexamples.items():
            ids = self.defects.get(name, [])
            lines.append("")
            lines.append(f"  counterexample: {name} ({cex.length} calls"
                         + (f"; exhibits {', '.join(ids)}" if ids else "") + ")"
                         + (f" -> {self.trace_paths[name]}" if name in self.trace_paths else ""))
            lines.append(itf.render_script(self.model, cex.steps, indent="  "))
            lines.append(f"       VIOLATED: {cex.message}")
            lines += self._replay_text(name)
            for ids, extra, path in self.extras.get(name, []):
                lines.append(f"    also violated via {', '.join(ids)} in {extra.length} calls"
                             + (f" -> {path}" if path else ""))
                lines += self._replay_text(f"{name}#{extra.length}")
        lines.append("")
        violated = [p.name for p in self.properties if r.status[p.name] == "violated"]
        fail = (f"FAIL: {len(violated)} propert{'y' if len(violated) == 1 else 'ies'}"
                " violated" + ("" if cov.ok else ", coverage gaps"))
        if self.exit_code == EXIT_COVERAGE:
            fail = (f"FAIL: coverage gap ({len(violated)} vacuity guards never reached, "
                    f"{len(cov.missing) + len(cov.undeclared)} outcomes missing or "
                    "undeclared); no safety property violated")
        summary = {"pass": "PASS: every property holds",
                   "fail": fail,
                   "inconclusive": "INCONCLUSIVE: the bounded space was not exhausted"}
        if self.all_defects():
            lines.append(f"real defects exhibited: {', '.join(self.all_defects())}")
        if self.replayed:
            ok = sum(1 for r in self.replays.values() if r.status == "violated")
            lines.append(f"replayed on the reference implementation: {ok} of "
                         f"{len(self.replays)} counterexamples reproduced")
            if not self.replay_ok:
                lines.append("verdict: DIVERGED: the reference does not reproduce every "
                             "counterexample (exit 4)")
                return "\n".join(lines)
        lines.append(f"verdict: {summary[self.verdict]}")
        return "\n".join(lines)


def coverage_report(model: LuoModel, result: ExploreResult[State],
                    base: LuoModel | None = None) -> CoverageReport:
    """Which expected outcomes fired, which never did, which fired undeclared.

    A variant (``base``: the model of the profile it derives from, see
    ``Design.base_profile``) is judged against its base's expected outcomes: an outcome
    the base expects and the variant never fires, or one the variant fires and the base
    does not expect, is the variant's behaviour change (listed with how often each side
    fires it: the base is explored too when the variant removes an outcome), not a gap.
    Vacuity stays guarded by the ``sometimes`` properties.
    """
    expected = (base or model).expected_outcomes()
    rows = [CoverageRow(kind, ks.enabled,
                        {ret: (o.fired, o.new_states) for ret, o in ks.outcomes.items()})
            for kind, ks in sorted(result.coverage.items())]
    fired = {(row.kind, ret) for row in rows for ret in row.outcomes}
    missing = sorted(k for k, why in expected.items() if why is None and k not in fired)
    impossible = sorted((k, ret, why) for (k, ret), why in expected.items()
                        if why is not None and (k, ret) not in fired)
    undeclared = sorted(k for k in fired if k not in expected)
    if not result.complete or result.pruned:
        # an incomplete search, or one that stopped at violations, proves nothing about
        # what never fires: list, do not fail
        impossible += [(k, ret, "not reached (search stopped at violations or a limit)")
                       for k, ret in missing]
        missing = []
    if base is None:
        return CoverageReport(rows, missing, impossible, undeclared)
    counts = {(row.kind, ret): f for row in rows for ret, (f, _n) in row.outcomes.items()}
    base_counts: dict[tuple[str, int], int] = {}
    if missing:  # how often the base fires what the variant removed
        base_result = explore(base, [], ExploreOptions())
        base_counts = {(kind, ret): o.fired for kind, ks in base_result.coverage.items()
                       for ret, o in ks.outcomes.items()}
    changes = sorted([(k, ret, base_counts.get((k, ret), 0), 0) for k, ret in missing]
                     + [(k, ret, 0, counts[(k, ret)]) for k, ret in undeclared])
    return CoverageReport(rows, [], impossible, [], base.design.name, changes)


def search_symmetry(symmetry: bool, prune: bool) -> bool:
    """Whether a check searches with symmetry reduction, given ``--no-symmetry`` (not
    ``symmetry``) and ``--continue`` (not ``prune``). Past a violation, a buggy design can
    leave stale references to free pages, and the in-kernel allocator's choice among such
    pages is not label-independent: symmetry reduction is exact only on the pruned space,
    so --continue explores without it."""
    return symmetry and prune


#: --engine: ``auto`` = compiled where it can run, else generic (the report says why)
ENGINES = ("auto", "compiled", "generic")


class EngineError(ValueError):
    """``--engine compiled`` for a search the compiled engine cannot run."""


def choose_engine(engine: str, model: LuoModel, properties: tuple[Property, ...],
                  not_applicable: dict[str, str], keep_graph: bool) -> tuple[str, str | None]:
    """(the engine that runs, why it is not the compiled one under ``auto``). Raises
    :class:`EngineError` when ``compiled`` is asked for and cannot run."""
    from luoverify.checks import engine as ce

    if engine == "generic":
        return "generic", None
    why = ce.unsupported(model, properties, not_applicable)
    if keep_graph:
        why.append("--graph writes the generic explorer's action ids")
    if why and engine == "compiled":
        raise EngineError("the compiled engine cannot run this check: " + "; ".join(why))
    return ("generic", "; ".join(why)) if why else ("compiled", None)


def run_check(
    design: Design,
    bounds: Bounds,
    properties: tuple[Property, ...],
    *,
    bounds_name: str = "custom",
    symmetry: bool = True,
    max_states: int | None = None,
    max_seconds: float | None = None,
    progress: bool = False,
    keep_graph: bool = False,
    trace_dir: Path | None = None,
    prune: bool = True,
    replay: bool = False,
    engine: str = "auto",
    log: Callable[[str], None] | None = None,
    threads: int | None = None,
) -> CheckReport:
    """Search ``design`` at ``bounds`` for ``properties`` with ``engine`` (see
    :data:`ENGINES`; :class:`EngineError` for ``compiled`` where it cannot run) and
    judge coverage, defects and, with ``replay``, every counterexample on the
    reference. ``log`` receives one-line notes (the engine being compiled); ``threads``
    is the compiled engine's (default: every CPU this process may use, at most 8)."""
    symmetry = search_symmetry(symmetry, prune)
    model = model_for(design, bounds, symmetry=symmetry)
    base_design = design.base_profile()
    base = None if base_design is None else model_for(base_design, bounds, symmetry=symmetry)
    not_applicable = props_not_applicable(properties, design, bounds)
    used, note = choose_engine(engine, model, properties, not_applicable, keep_graph)
    options = ExploreOptions(
        max_states=max_states, max_seconds=max_seconds, keep_graph=keep_graph,
        progress=progress,
        not_applicable=not_applicable, prune_violations=prune, classify=classify,
        labels_of_call=labels_of_call, partial_on_sigint=True)
    if used == "compiled":
        from luoverify.checks.engine import explore_compiled

        try:
            result = explore_compiled(model, properties, options, log=log, threads=threads)
        except RuntimeError as exc:  # the C compiler failed: say so, search anyway
            if engine == "compiled":
                raise EngineError(f"the compiled engine failed: {exc}") from exc
            used, note = "generic", f"the compiled engine failed: {exc}"
    if used == "generic":
        result = explore(model, properties, options)
    report = CheckReport(design, bounds_name, bounds, result, model, properties,
                         coverage_report(model, result, base), symmetry=symmetry,
                         stop_at_violations=prune, engine=used, engine_note=note)

    def write(cex: Counterexample[State], ids: list[str], suffix: str) -> str | None:
        if trace_dir is None:
            return None
        path = trace_dir / f"{_slug(design.name)}.{cex.prop}{suffix}.itf.json"
        meta = {"design": design.name, "bounds": {"name": bounds_name, **bounds.as_dict()},
                "property": cex.prop, "message": cex.message, "defects": ids}
        itf.write_trace(path, itf.trace_document(model, cex.steps, meta))
        return str(path)

    covered: set[str] = set()
    for name, cex in result.counterexamples.items():
        ids = diagnose(cex.transitions())
        report.defects[name] = ids
        covered.update(ids)
        path = write(cex, ids, "")
        if path is not None:
            report.trace_paths[name] = path
    # one more counterexample for each real defect no primary counterexample exhibits
    for name in result.counterexamples:
        for _bit, extra in sorted(result.extra_counterexamples.get(name, {}).items()):
            extra_ids = diagnose(extra.transitions())
            new = [i for i in extra_ids if i not in covered]
            if not new:
                continue
            covered.update(extra_ids)
            report.extras.setdefault(name, []).append(
                (extra_ids, extra, write(extra, extra_ids, "." + _slug(new[0]))))
    if replay:
        report.replayed = True
        for name, cex in result.counterexamples.items():
            report.replays[name] = replay_counterexample(model, design, bounds, cex)
            for _ids, extra, _path in report.extras.get(name, []):
                report.replays[f"{name}#{extra.length}"] = replay_counterexample(
                    model, design, bounds, extra)
    return report


def replay_counterexample(model: LuoModel, design: Design, bounds: Bounds,
                          cex: Counterexample[State]) -> ReplayResult:
    """Replay a counterexample on the reference; it reproduces when the same property is
    violated at its last step."""
    doc = itf.trace_document(model, cex.steps, {"design": design.name,
                                                "bounds": bounds.as_dict()})
    trace = parse_trace(json.loads(itf.dumps(doc)))
    result = replay(trace, design, prefer=cex.prop)
    if cex.prop in _GRAPH_PROPS:
        # a graph property (no clean state is reachable from the last state) cannot show
        # on one trace: it reproduces when the reference reaches the same last state
        if result.status == "faithful":
            result.violation = Violation(cex.prop, cex.message, cex.length,
                                         str(cex.steps[-1].action), {})
        return result
    if result.status == "violated" and (
            result.violation is None or result.violation.prop != cex.prop
            or result.violation.step != cex.length):
        v = result.violation
        assert v is not None
        result.divergence = Divergence(
            v.step, v.action, f"the reference violates {v.prop} at step {v.step}, the "
            f"model {cex.prop} at step {cex.length}", [v.message])
    elif result.status == "faithful":
        result.divergence = Divergence(cex.length, str(cex.steps[-1].action),
                                       f"the reference does not violate {cex.prop}", [])
    return result


def _slug(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)
