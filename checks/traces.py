"""``luo-verify traces``: a regression suite of shortest traces from the bounded model.

A *transition class* is (action kind, the session side it targets, return value, stage of
the machine before the call), where the stage is the reboot phase and whether the machine
has already been through a kexec. So ``preserve_fd@out = -EBUSY`` during
``SERIALIZING`` and the same call while ``RUNNING`` are different classes, and each
errno path and each injected fault is its own class.

Every class that occurs on an edge of the explored state graph is *coverable*. The suite
is built greedily: take the uncovered class whose shortest witness is longest, take the
shortest trace to it (the BFS tree is a shortest-path tree), insert at each state of that
trace the still-uncovered calls that fail there without changing anything (errno paths:
the rest of the trace stays valid), mark every class the trace passes through as covered,
repeat. Long traces first means short classes are covered on the way, so the suite stays
small; each trace is the shortest path to its target plus the inserted failing calls.
Each trace is an ITF file; the manifest lists what each covers. Every trace is then
replayed on the reference implementation.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from luoverify.checks import itf
from luoverify.checks.explore import ExploreOptions, ExploreResult, Step, explore, trace_to
from luoverify.checks.header import header
from luoverify.checks.replay import parse_trace, replay
from luoverify.model import errno as E
from luoverify.model import state as st
from luoverify.model.bounds import Bounds
from luoverify.model.core import Action
from luoverify.model.design import Design
from luoverify.model.factory import model_for
from luoverify.model.luo import LuoModel
from luoverify.model.state import State
from luoverify.specs.properties import CATALOGUE

Class = tuple[str, str, str]  # (kind@side, ret, stage)


def stage(state: State) -> str:
    p = state[st.GLOB][st.PHASE]
    phase = st.PHASE_NAMES[p] if p < len(st.PHASE_NAMES) else st.legacy_phase_name(p)
    return f"{phase}{'' if state[st.GLOB][st.KEXECS] == 0 else ' after kexec'}"


def side_kind(model: LuoModel, action: Action) -> str:
    """The action kind with the session side it targets, e.g. ``preserve_fd@out``."""
    side = dict(action.args).get("list")
    return model.action_kind(action) + (f"@{side}" if side else "")


def transition_class(model: LuoModel, pre: State, action: Action, ret: int) -> Class:
    return (side_kind(model, action), E.ret_name(ret), stage(pre))


def class_name(c: Class) -> str:
    return f"{c[0]} = {c[1]} [{c[2]}]"


@dataclass
class SuiteTrace:
    file: str
    length: int
    covers: list[str]
    replay: str = "not run"


@dataclass
class Suite:
    design: Design
    bounds_name: str
    bounds: Bounds
    coverable: list[str]
    covered: list[str]
    traces: list[SuiteTrace] = field(default_factory=list)
    states: int = 0

    @property
    def complete(self) -> bool:
        return set(self.coverable) <= set(self.covered)

    @property
    def replay_ok(self) -> bool:
        return all(t.replay in ("faithful", "violated") for t in self.traces)

    def manifest(self) -> dict[str, Any]:
        return {
            **header("traces", self.design, self.bounds_name, self.bounds),
            "class": "(action kind @ session side, return value, stage before the call)",
            "coverable": len(self.coverable),
            "covered": len(set(self.covered) & set(self.coverable)),
            "traces": [{"file": t.file, "length": t.length, "replay": t.replay,
                        "covers": t.covers} for t in self.traces],
        }

    def to_text(self) -> str:
        n_cov = len(set(self.covered) & set(self.coverable))
        pct = 100.0 * n_cov / len(self.coverable) if self.coverable else 100.0
        lines = [f"luo-verify traces: design {self.design.name}, bounds {self.bounds_name}: "
                 f"{self.states} states explored",
                 f"  {len(self.traces)} traces, {sum(t.length for t in self.traces)} calls; "
                 f"transition classes covered {n_cov} / {len(self.coverable)} coverable "
                 f"({pct:.1f} %)"]
        for t in self.traces:
            lines.append(f"  {t.file}: {t.length} calls, {len(t.covers)} classes, "
                         f"replay {t.replay}")
        missing = sorted(set(self.coverable) - set(self.covered))
        for c in missing:
            lines.append(f"  NOT COVERED: {c}")
        bad = [t.file for t in self.traces if t.replay not in ("faithful", "violated")]
        lines.append("verdict: " + ("complete; every trace replays on the reference"
                                    if self.complete and not bad else
                                    f"INCOMPLETE ({len(missing)} classes uncovered, "
                                    f"{len(bad)} traces diverged on replay)"))
        return "\n".join(lines)


def class_witnesses(model: LuoModel, result: ExploreResult[State]
                    ) -> dict[Class, tuple[int, int, int]]:
    """For every transition class on an edge of the explored graph, its shortest witness:
    (depth of the source state, source state index, action id)."""
    assert result.edges is not None
    decoded: dict[int, str] = {}
    depth: dict[int, int] = {}

    def stage_of(i: int) -> str:
        if i not in decoded:
            decoded[i] = stage(model.decode(result.keys[i]))
        return decoded[i]

    def depth_of(i: int) -> int:
        chain = []
        while i not in depth:
            p = result.parent[i]
            if p < 0:
                depth[i] = 0
                break
            chain.append(i)
            i = p
        for j in reversed(chain):
            depth[j] = depth[result.parent[j]] + 1
        return depth[chain[0]] if chain else depth[i]

    kinds = [side_kind(model, a) for a in result.actions]
    witness: dict[Class, tuple[int, int, int]] = {}  # class -> (depth, src, action id)
    for src, _dst, aid, ret in result.edges:
        c = (kinds[aid], E.ret_name(ret), stage_of(src))
        cand = (depth_of(src), src, aid)
        if c not in witness or cand < witness[c]:
            witness[c] = cand
    return witness


#: the name of each trace of a suite: 001.itf.json, 002.itf.json, ...
SUITE_TRACE = re.compile(r"[0-9]{3,}\.itf\.json")


def build_suite(design: Design, bounds: Bounds, out: Path, *, bounds_name: str = "custom",
                do_replay: bool = True) -> Suite:
    model = model_for(design, bounds)
    safety = [p for p in CATALOGUE if p.kind in ("always", "step")]
    result = explore(model, safety, ExploreOptions(keep_graph=True))
    witness = class_witnesses(model, result)
    coverable = sorted(witness)
    covered: set[Class] = set()
    out.mkdir(parents=True, exist_ok=True)
    suite = Suite(design, bounds_name, bounds, [class_name(c) for c in coverable], [],
                  states=result.states)
    order = sorted(coverable, key=lambda c: (-witness[c][0], c))
    for c in order:
        if c in covered:
            continue
        _d, src, aid = witness[c]
        path: list[Step[State]] = trace_to(model, result, src, aid)
        mine: list[Class] = []
        steps: list[Step[State]] = [path[0]]
        for step in path[1:]:
            # first, every still-uncovered call that fails here without changing anything
            # (an errno path): it can be inserted without disturbing the rest of the trace
            here = steps[-1].state
            for a in model.actions(here):
                o = model.next_state(here, a)
                tc = transition_class(model, here, a, o.ret)
                if o.state == here and tc not in covered and tc not in mine:
                    mine.append(tc)
                    steps.append(Step(a, o.ret, o.state, o.events))
            assert step.action is not None
            tc = transition_class(model, here, step.action, step.ret)
            if tc not in mine:
                mine.append(tc)
            steps.append(step)
        covered.update(mine)
        name = f"{len(suite.traces) + 1:03d}.itf.json"
        meta = {"design": design.name, "bounds": {"name": bounds_name, **bounds.as_dict()},
                "covers": [class_name(x) for x in mine]}
        doc = itf.trace_document(model, steps, meta)
        itf.write_trace(out / name, doc)
        entry = SuiteTrace(name, len(steps) - 1, [class_name(x) for x in mine])
        if do_replay:
            entry.replay = replay(parse_trace(json.loads(itf.dumps(doc))), design).status
        suite.traces.append(entry)
    suite.covered = sorted(class_name(c) for c in covered)
    (out / "manifest.json").write_text(json.dumps(suite.manifest(), indent=1) + "\n")
    return suite
