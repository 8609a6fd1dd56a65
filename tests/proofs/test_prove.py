"""``luo-verify prove``: the unbounded proof of upstream, BMC against the exhaustive
checker on v6.19, and counterexamples to induction upgraded for mutants."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from luoverify.checks import prove
from luoverify.checks.cli import main
from luoverify.checks.designs import load_design
from luoverify.model.bounds import NAMED_BOUNDS
from luoverify.specs import invariants as inv

PINNED = json.loads((Path(__file__).parents[1] / "pinned.json").read_text())


def test_upstream_proved_for_unbounded_sizes(capsys: pytest.CaptureFixture[str]) -> None:
    """Verifies that every obligation of upstream (initiation and every (action,
    property) pair, for the catalogue's state and step properties and the auxiliary
    invariants) is proved, and that the command exits 0 with the JSON report."""
    code = main(["prove", "--json"])
    doc = json.loads(capsys.readouterr().out)
    schema = json.loads((Path(prove.__file__).with_name("prove.schema.json")).read_text())
    jsonschema.validate(doc, schema)
    assert code == 0 and doc["verdict"] == "pass"
    statuses = {o["status"] for o in doc["obligations"]}
    assert statuses == {"proved"}
    props = {o["property"] for o in doc["obligations"]}
    for name in ("single_owner", "no_free_while_preserved", "no_alloc_of_reserved",
                 "metadata_tracked", "restore_once", "finish_disposes", "data_intact",
                 *inv.AUXILIARY):
        assert name in props and doc["properties"][name] == "holds"
    assert doc["properties"]["recoverable"] == "not encoded"
    actions = {o["action"] for o in doc["obligations"]}
    assert "init" in actions and "kernel_kexec" in actions and len(actions) >= 30


@pytest.mark.parametrize("depth", [
    5,  # every run: the violations of up to 5 calls (a few seconds)
    pytest.param(None, marks=pytest.mark.slow),  # to the deepest (minutes)
])
def test_v619_bmc_matches_the_exhaustive_checker(depth: int | None) -> None:
    """Verifies that BMC at the ci bound to ``depth`` (None: the longest shortest
    violation) finds exactly the properties the exhaustive checker finds violated in
    v6.19 within that many calls, each at the same (shortest) depth, and that every
    counterexample was re-run through next_state (bmc raises Disagreement otherwise)."""
    lengths = PINNED["ci"]["v6.19"]["lengths"]
    depth = depth or max(lengths.values())
    want = {p: n for p, n in lengths.items() if n <= depth}
    result = prove.bmc(load_design("v6.19"), NAMED_BOUNDS["ci"], depth)
    assert {p: t.length for p, t in result.found.items()} == want
    assert not result.unknown and result.overflow_at is None
    for trace in result.found.values():
        assert trace.message and trace.steps[0][0] is None


def test_upstream_bmc_finds_nothing_shallow() -> None:
    """Verifies that BMC proves upstream free of violations up to depth 4 at ci (deeper
    runs are the CLI's --bmc; the induction covers every depth)."""
    result = prove.bmc(load_design("upstream"), NAMED_BOUNDS["ci"], 4)
    assert result.found == {} and not result.unknown and result.overflow_at is None


@pytest.mark.parametrize("mutant,action,prop", [
    ("LUO-M3", "preserve_fd(list=out, fault=None)", "single_owner"),
    ("KHO-M21", "kernel_kexec", "handed_over_reserved"),
    ("KHO-M18", "close_session(list=out, fault=None)", "cancel_releases_all"),
])
def test_mutant_cti_upgraded(mutant: str, action: str, prop: str, tmp_path: Path) -> None:
    """Verifies that the inductive proof of a mutant fails at the obligation its defect
    breaks, with a counterexample to induction upgraded to a reachable counterexample
    (written as a trace), and the verdict is fail."""
    report = prove.run_prove(load_design(f"mutant:{mutant}"), NAMED_BOUNDS["ci"],
                             bounds_name="ci", trace_dir=tmp_path)
    failed = {(o.action, o.prop) for o in report.induction.failed()}
    assert (action, prop) in failed
    cti = report.ctis[(action, prop)]
    assert isinstance(cti, prove.Cti)
    up = report.upgrades[(action, prop)]
    assert up is not None and up.length >= 2
    assert report.verdict == "fail" and report.exit_code == 1
    assert list(tmp_path.glob("*.itf.json"))
    assert "upgraded to a reachable counterexample" in report.to_text()


def test_prove_rejects_what_it_cannot_encode(capsys: pytest.CaptureFixture[str]) -> None:
    """Verifies that a design the encoding cannot express (KHO-M7 needs scratch pages)
    gets one line and exit 2, as does a bad --bmc."""
    assert main(["prove", "--design", "mutant:KHO-M7"]) == 2
    err = capsys.readouterr().err
    assert "scratch" in err and "Traceback" not in err
    assert main(["prove", "--bmc", "-1"]) == 2
    assert main(["prove", "--design", "nonsense"]) == 2


def test_bmc_only_quick_verdict(capsys: pytest.CaptureFixture[str]) -> None:
    """Verifies that --bmc-only skips the proof: a shallow defect (LUO-M7b, retrieve on an
    outgoing session) is reported violated with exit 1, and properties it did not violate
    are not called proved."""
    code = main(["prove", "--design", "mutant:LUO-M7b", "--bmc", "2", "--bmc-only", "--json"])
    doc = json.loads(capsys.readouterr().out)
    assert code == 1 and doc["verdict"] == "fail"
    assert doc["properties"]["ops_on_right_side"] == "violated"
    assert doc["properties"]["single_owner"] == "unknown"
    assert doc["bmc"]["violations"]["ops_on_right_side"]["length"] == 2
    assert main(["prove", "--bmc-only"]) == 2
