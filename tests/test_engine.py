"""Verifies that the compiled engine (checks/engine.py, checks/cgen.py, checks/engine.c)
answers what the generic explorer answers (issue #15).

* Its pieces, each against the explicit model or the encoding: the C canonical form and
  packing against ``model/state.py canonicalize`` on every reachable state at ``tiny``;
  every generated instance against the encoding's concrete reading.
* Whole searches against the generic explorer, run side by side at ``tiny`` for every
  profile and every mutant the encoding covers, with and without symmetry: states,
  transitions, depth, pruned states, verdicts, counterexample lengths (and that each
  counterexample re-runs in the explicit model, which building it checks), the labels of
  the extra counterexamples and their lengths, and coverage (per kind: in how many states
  enabled; per outcome: how often fired). Which transition first reached a state (the
  coverage column "new states") depends on search order and is not compared.
* At ``ci`` and (``-m slow``) ``deep``, against the generic explorer's measured results
  pinned in tests/pinned.json (tests/pin.py measures them). ``wide`` has no generic
  reference: the generic explorer cannot finish it.
* What the compiled engine does not accept (legacy, scratch pages) is refused with the
  reason, and ``--engine auto`` falls back to the generic explorer and says why.
"""

from __future__ import annotations

import ctypes
import json
from pathlib import Path
from typing import Any

import pytest

from luoverify.checks import engine as ce
from luoverify.checks.cli import main
from luoverify.checks.explore import ExploreOptions, ExploreResult, explore
from luoverify.checks.run import run_check
from luoverify.model import symbolic as sy
from luoverify.model.bounds import NAMED_BOUNDS, Bounds
from luoverify.model.design import PROFILES, Design
from luoverify.model.factory import model_for
from luoverify.model.property import not_applicable
from luoverify.model.state import State
from luoverify.specs.defects import DEFECTS, classify
from luoverify.specs.properties import CATALOGUE

pytestmark = pytest.mark.skipif(ce.compiler() is None, reason="no C compiler")

PINNED = json.loads(Path(__file__).with_name("pinned.json").read_text())
TINY = NAMED_BOUNDS["tiny"]


def _supported(design: Design, bounds: Bounds) -> bool:
    return not sy.unsupported(design, bounds)


def _both(design: Design, bounds: Bounds, symmetry: bool
          ) -> tuple[ExploreResult[State], ExploreResult[State]]:
    model = model_for(design, bounds, symmetry=symmetry)
    opts = ExploreOptions(not_applicable=not_applicable(CATALOGUE, design, bounds),
                          classify=classify)
    return explore(model, CATALOGUE, opts), ce.explore_compiled(model, CATALOGUE, opts)


def _summary(r: ExploreResult[State]) -> dict[str, Any]:
    return {
        "states": r.states, "transitions": r.transitions, "depth": r.depth,
        "pruned": r.pruned, "complete": r.complete, "status": r.status,
        "lengths": {k: c.length for k, c in r.counterexamples.items()},
        "also": {k: sorted((bit, c.length) for bit, c in v.items())
                 for k, v in r.extra_counterexamples.items()},
        "enabled": {k: s.enabled for k, s in r.coverage.items()},
        "fired": {(k, ret): o.fired for k, s in r.coverage.items()
                  for ret, o in s.outcomes.items()},
    }


@pytest.mark.parametrize("symmetry", [True, False], ids=["symmetry", "no-symmetry"])
@pytest.mark.parametrize("profile", [p for p in PROFILES if _supported(PROFILES[p], TINY)])
def test_agrees_with_generic_explorer_at_tiny(profile: str, symmetry: bool) -> None:
    """Verifies that both engines give the same search for every covered profile."""
    generic, compiled = _both(PROFILES[profile], TINY, symmetry)
    assert _summary(compiled) == _summary(generic)


MUTANTS = [m for m in DEFECTS
           if _supported(m.design(), TINY.with_overrides(**m.bounds))]


@pytest.mark.parametrize("mutant", MUTANTS, ids=[m.id for m in MUTANTS])
def test_agrees_on_every_mutant_at_tiny(mutant: Any) -> None:
    """Verifies that both engines give the same search, violations and labelled extra
    counterexamples included, for every mutant the encoding covers."""
    generic, compiled = _both(mutant.design(), TINY.with_overrides(**mutant.bounds), True)
    assert _summary(compiled) == _summary(generic)


def test_mutants_not_covered_are_listed() -> None:
    """Verifies which mutants stay on the generic explorer: legacy (O1-O6), the
    scratch-page mutant and the one that needs two folios per memfd, each with the
    encoding's reason."""
    left = {m.id: sy.unsupported(m.design(), TINY.with_overrides(**m.bounds))
            for m in DEFECTS if m not in MUTANTS}
    assert sorted(left) == ["KHO-M11", "KHO-M7", "O1", "O2", "O3", "O4", "O5", "O6"]
    assert all(left.values())


@pytest.mark.parametrize("bounds_name", [
    "ci", pytest.param("deep", marks=pytest.mark.slow)])  # v6.19 at deep: minutes
@pytest.mark.parametrize("profile", ["upstream", "v6.19"])
def test_pinned_results_at_larger_bounds(bounds_name: str, profile: str) -> None:
    """Verifies that ``check --engine compiled`` reproduces the generic explorer's
    measured results at ci and deep (counts, depth, verdict, violations, their lengths
    and the defects they exhibit), each counterexample replayed on the reference."""
    want = PINNED[bounds_name][profile]
    report = run_check(PROFILES[profile], NAMED_BOUNDS[bounds_name], CATALOGUE,
                       bounds_name=bounds_name, engine="compiled", replay=True)
    r = report.result
    assert report.engine == "compiled"
    got = {"states": r.states, "transitions": r.transitions, "depth": r.depth,
           "pruned": r.pruned, "verdict": report.verdict,
           "violated": sorted(n for n, s in r.status.items() if s == "violated"),
           "lengths": {k: c.length for k, c in r.counterexamples.items()},
           "defects": report.all_defects()}
    assert got == {k: want[k] for k in got}
    assert report.replay_ok


def test_canonical_form_matches_explicit_model() -> None:
    """Verifies that the C reading, canonical form and packing of a slot state give
    ``model/state.py canonicalize`` of its explicit state, and that without symmetry
    they give the state itself and the same slot state back, on every reachable state of
    v6.19 at tiny (with its stale references after violations: --continue)."""
    design = PROFILES["v6.19"]
    plain = model_for(design, TINY, symmetry=False)
    canon = model_for(design, TINY, symmetry=True)
    lib = ce.build(plain)
    c = ce._load(lib)
    sym = sy.SymbolicLuo(design, TINY, sy.Finite(lib.sizes))
    pre = sym.variables("0")
    width = c.slot_width()
    out = (ctypes.c_byte * width)()
    buf = ctypes.create_string_buffer(1 << 16)
    result = explore(plain, [], ExploreOptions(prune_violations=False))
    assert result.states > 1000
    for key in result.keys:
        state = plain.decode(key)
        s, _labels = sy.encode(state, lib.sizes)
        slots = [int(x) for k in pre for x in sy.leaves(s[k])]
        inp = (ctypes.c_byte * width)(*slots)
        n = c.roundtrip(inp, out, 1, buf)
        assert plain.decode(buf.raw[:n]) == canon.canonical(state)
        n = c.roundtrip(inp, out, 0, buf)
        assert buf.raw[:n] == key
        assert list(out) == slots


def test_instances_match_the_encoding() -> None:
    """Verifies that every generated instance function is the encoding's concrete
    reading: same guard, return value, successor and step-property bits, on every
    reachable state of upstream at tiny."""
    from luoverify.specs import zforms as zf

    design = PROFILES["upstream"]
    model = model_for(design, TINY, symmetry=False)
    lib = ce.build(model)
    c = ce._load(lib)
    c.step_slots.restype = ctypes.c_int64
    sym = sy.SymbolicLuo(design, TINY, sy.Finite(lib.sizes))
    pre = sym.variables("0")

    def flat(s: sy.S) -> list[int]:
        return [int(x) for k in pre for x in sy.leaves(s[k])]

    width = c.slot_width()
    out, ret = (ctypes.c_byte * width)(), ctypes.c_int()
    checked = 0
    for key in explore(model, []).keys[::7]:
        s, _labels = sy.encode(model.decode(key), lib.sizes)
        inp = (ctypes.c_byte * width)(*flat(s))
        for n, inst in enumerate(lib.instances):
            step = sym.step(s, inst)
            bits = c.step_slots(n, inp, out, ctypes.byref(ret))
            assert (bits >= 0) == bool(step.guard), inst
            if bits < 0:
                continue
            want = sum(bool(zf.STEP_FORMS[p](sym, s, inst, step)) << j
                       for j, p in enumerate(lib.step_props))
            assert (bits, ret.value, list(out)) == (want, step.ret, flat(step.post)), inst
            checked += 1
    assert checked > 1000


def test_cli_engine_choice(capsys: pytest.CaptureFixture[str]) -> None:
    """Verifies ``--engine``: auto runs legacy on the generic explorer and says why;
    compiled refuses it (exit 2, one line naming the reason)."""
    assert main(["check", "--design", "legacy", "--bounds", "tiny", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["engine"]["name"] == "generic"
    assert "legacy" in doc["engine"]["note"]
    assert main(["check", "--design", "legacy", "--bounds", "tiny",
                 "--engine", "compiled"]) == 2
    err = capsys.readouterr().err
    assert "compiled engine cannot run this check" in err and "legacy" in err
    assert main(["check", "--bounds", "tiny", "--json"]) == 0
    engine = json.loads(capsys.readouterr().out)["engine"]
    assert engine["name"] == "compiled" and engine["threads"] >= 1
    assert 0 < engine["bytes_per_state"] <= 100
    assert main(["check", "--bounds", "tiny", "--threads", "9"]) == 2
    assert "--threads must be 1 to 8" in capsys.readouterr().err


@pytest.mark.parametrize("profile", [
    "upstream",
    # v6.19 rebuilds and labels its counterexamples twice in Python (about 100 s): the
    # threads are the C search's, which upstream exercises the same way
    pytest.param("v6.19", marks=pytest.mark.slow)])
def test_threads_do_not_change_the_result(profile: str) -> None:
    """Verifies that two threads give the one-thread search exactly: the same states in
    the same order, the same tree, violations and labels (at ci, where the queue's chunks
    are large enough to be split)."""
    model = model_for(PROFILES[profile], NAMED_BOUNDS["ci"])
    opts = ExploreOptions(not_applicable=not_applicable(CATALOGUE, model.design,
                                                        model.bounds), classify=classify)
    one = ce.explore_compiled(model, CATALOGUE, opts, threads=1)
    two = ce.explore_compiled(model, CATALOGUE, opts, threads=2)
    assert two.threads == 2
    assert _summary(two) == _summary(one)
    assert list(two.parent) == list(one.parent)
    assert all(two.keys[i] == one.keys[i] for i in range(0, one.states, 97))
    assert {k: [s.action for s in c.steps] for k, c in two.counterexamples.items()} == {
        k: [s.action for s in c.steps] for k, c in one.counterexamples.items()}


def test_damaged_or_unwritable_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Verifies that a damaged cache entry (truncated library, bad metadata) is rebuilt,
    never loaded, and that an unwritable cache folder means compiling into a temporary
    one, with a note; the search is the same each time."""
    monkeypatch.setenv("LUO_VERIFY_CACHE", str(tmp_path / "cache"))
    model = model_for(PROFILES["upstream"], TINY)
    notes: list[str] = []

    def states() -> int:
        return ce.explore_compiled(model, [], log=notes.append).states

    first = states()
    so = next((tmp_path / "cache").glob("engine-*.so"))
    meta = so.with_suffix(".json")
    for damage in (lambda: so.write_bytes(so.read_bytes()[:1000]),
                   lambda: meta.write_text("{}"), lambda: meta.write_text("{not json"),
                   so.unlink):
        notes.clear()
        damage()
        assert states() == first
        assert any("compiling the engine" in n for n in notes)
    notes.clear()
    assert states() == first and not notes  # whole again: loaded, not rebuilt
    (tmp_path / "file").write_text("")
    monkeypatch.setenv("LUO_VERIFY_CACHE", str(tmp_path / "file" / "sub"))
    assert states() == first
    assert any("cannot use the engine cache" in n for n in notes)


def test_agrees_past_violations() -> None:
    """Verifies that both engines agree with ``--continue`` (no pruning, no symmetry) on
    v6.19 at tiny, where the graph property ``recoverable`` is violated (judged in C)."""
    design = PROFILES["v6.19"]
    model = model_for(design, TINY, symmetry=False)
    opts = ExploreOptions(not_applicable=not_applicable(CATALOGUE, design, TINY),
                          classify=classify, prune_violations=False)
    generic = explore(model, CATALOGUE, opts)
    compiled = ce.explore_compiled(model, CATALOGUE, opts)
    assert generic.status["recoverable"] == "violated"
    assert _summary(compiled) == _summary(generic)
    assert compiled.notes["recoverable"] == generic.notes["recoverable"]
