"""--baseline: fail a run only on what got worse than an earlier report."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from luoverify.checks import baseline
from luoverify.checks.cli import main

#: a variant of upstream that brings back LUO-M7 (no session-kind check): same family
VARIANT = ("from dataclasses import replace\n"
           "from luoverify.model.design import PROFILES\n"
           "DESIGN = replace(PROFILES['upstream'], name='no-kind-check', "
           "check_session_kind=False)\n")


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def report(capsys: pytest.CaptureFixture[str], tmp_path: Path, name: str,
           *args: str) -> tuple[Path, dict[str, Any]]:
    """Run ``check --json`` with ``args`` at tiny bounds; save the report as ``name``."""
    _code, out, _ = run(capsys, "check", "--bounds", "tiny", "--json", *args)
    path = tmp_path / name
    path.write_text(out)
    doc: dict[str, Any] = json.loads(out)
    return path, doc


def test_a_design_change_that_breaks_a_property_fails(capsys: pytest.CaptureFixture[str],
                                                      tmp_path: Path) -> None:
    """Verifies the acceptance case: against upstream's report, a variant of upstream
    that introduces a violation exits 1 with a one-line reason naming the property."""
    base, _ = report(capsys, tmp_path, "main.json")
    variant = tmp_path / "variant.py"
    variant.write_text(VARIANT)
    code, out, err = run(capsys, "check", "--bounds", "tiny", "--design", str(variant),
                         "--baseline", str(base), "--json")
    assert code == 1
    regressions = [ln for ln in err.splitlines() if ln.startswith("luo-verify: regression: ")]
    assert any("new violation: ops_on_right_side (holds -> violated" in ln
               for ln in regressions), err
    doc = json.loads(out)
    assert [f"luo-verify: regression: {r}" for r in doc["baseline"]["regressions"]] == \
        regressions


def test_an_unrelated_timing_difference_passes(capsys: pytest.CaptureFixture[str],
                                               tmp_path: Path) -> None:
    """Verifies that the same design compared with a report whose timings (and tool
    version) differ exits 0 with no regression."""
    path, doc = report(capsys, tmp_path, "main.json")
    doc["seconds"], doc["states_per_second"] = 1234.5, 0.5
    doc["tool"]["version"] = "0.0.1"
    path.write_text(json.dumps(doc))
    code, out, err = run(capsys, "check", "--bounds", "tiny", "--baseline", str(path))
    assert code == 0, err
    assert "0 regressions, 0 improvements" in err and "PASS" in out


def test_the_same_violations_as_the_baseline_pass(capsys: pytest.CaptureFixture[str],
                                                  tmp_path: Path) -> None:
    """Verifies a design whose violations are all in the baseline exits 0 though its own
    verdict is fail (nothing got worse)."""
    path, _ = report(capsys, tmp_path, "m.json", "--design", "mutant:LUO-M7b")
    code, _, err = run(capsys, "check", "--bounds", "tiny", "--design", "mutant:LUO-M7b",
                       "--baseline", str(path))
    assert code == 0, err


def test_improvements_are_printed(capsys: pytest.CaptureFixture[str],
                                  tmp_path: Path) -> None:
    """Verifies that fixing a defect against a baseline that had it exits 0 and lists
    what improved."""
    path, _ = report(capsys, tmp_path, "m.json", "--design", "mutant:LUO-M7b")
    code, _, err = run(capsys, "check", "--bounds", "tiny", "--baseline", str(path))
    assert code == 0
    assert "luo-verify: improved: ops_on_right_side: violated -> holds" in err


def test_pure_comparison_ignores_timing_and_counts() -> None:
    """Verifies compare_check on documents: seconds, rates and state counts never
    matter; a verdict made worse, a lost outcome and a search that no longer completes
    do."""
    doc: dict[str, Any] = {
        "report": "check", "design": "upstream", "design_base": "upstream",
        "verdict": "pass", "complete": True, "pruned": 0, "defects": [],
        "seconds": 1.0, "states_per_second": 10.0, "states": 5,
        "properties": {"single_owner": {"status": "holds"},
                       "recoverable": {"status": "holds"}},
        "coverage": {"kinds": {"finish": {"outcomes": {"0": {"fired": 3},
                                                       "-EBUSY": {"fired": 1}}}},
                     "missing": [], "undeclared": []}}
    same = copy.deepcopy(doc)
    same.update(seconds=99.0, states_per_second=1.0, states=7)
    assert baseline.compare_check(doc, same).regressions == []
    worse = copy.deepcopy(doc)
    worse["properties"]["recoverable"]["status"] = "unknown"
    del worse["coverage"]["kinds"]["finish"]["outcomes"]["-EBUSY"]
    worse.update(complete=False, limit="state limit reached")
    cmp = baseline.compare_check(doc, worse)
    assert len(cmp.regressions) == 2 and not cmp.improvements
    assert cmp.regressions[0].startswith("verdict worse: recoverable holds -> unknown")
    assert "no longer completes (state limit reached)" in cmp.regressions[1]
    assert cmp.notes == ["1 outcomes of the baseline not reached (the search stopped at "
                         "violations or a limit): finish = -EBUSY"]
    worse["complete"] = True
    assert "coverage drop: finish = -EBUSY fired 1x in the baseline, never in this run" in \
        baseline.compare_check(doc, worse).regressions


@pytest.mark.parametrize(("args", "expect"), [
    (["--design", "v6.19"], "design family upstream (design upstream), this run of v6.19"),
    (["--bounds", "tiny", "--pages", "4"], "other bounds (baseline vs this run: pages 3 vs 4)"),
])
def test_another_family_or_other_bounds_is_exit_2(capsys: pytest.CaptureFixture[str],
                                                  tmp_path: Path, args: list[str],
                                                  expect: str) -> None:
    """Verifies a baseline of another design family, or of other bounds, is refused with
    exit 2 and one line saying what differs."""
    path, _ = report(capsys, tmp_path, "main.json")
    code, out, err = run(capsys, "check", "--bounds", "tiny", *args, "--baseline", str(path))
    assert code == 2 and not out
    assert err.count("\n") == 1 and expect in err, err


def test_a_variant_is_of_its_base_profile_family(capsys: pytest.CaptureFixture[str],
                                                 tmp_path: Path) -> None:
    """Verifies that a variant file derived from upstream and a mutant of upstream are
    compared with an upstream report (one family): their new violation is the reason."""
    path, _ = report(capsys, tmp_path, "main.json")
    variant = tmp_path / "v.py"
    variant.write_text(VARIANT)
    for design in (str(variant), "mutant:LUO-M7b"):
        code, _, err = run(capsys, "check", "--bounds", "tiny", "--design", design,
                           "--property", "ops_on_right_side", "--baseline", str(path))
        assert code == 1, err
        assert "regression: new violation: ops_on_right_side (holds -> violated" in err
        assert "note: in the baseline, not checked in this run: single_owner," in err


def test_bad_baselines_are_one_line_exit_2(capsys: pytest.CaptureFixture[str],
                                           tmp_path: Path) -> None:
    """Verifies a missing, non-JSON, wrong-kind or invalid baseline is exit 2 with one
    line, before the run."""
    _code, mutants, _ = run(capsys, "mutants", "--bounds", "tiny", "--only", "LUO-M7b",
                            "--walks", "0", "--bmc-depth", "0", "--json")
    (tmp_path / "mutants.json").write_text(mutants)
    (tmp_path / "text.json").write_text("verdict: PASS\n")
    (tmp_path / "old.json").write_text(json.dumps({"design": "upstream", "verdict": "pass"}))
    _path, doc = report(capsys, tmp_path, "main.json")
    del doc["coverage"]
    (tmp_path / "broken.json").write_text(json.dumps(doc))
    (tmp_path / "deep.json").write_text("[" * 200_000 + "]" * 200_000)
    (tmp_path / "folder.json").mkdir()
    cases = {"missing.json": "cannot read", "text.json": "is not JSON",
             "deep.json": "nested too deeply", "folder.json": "is a directory",
             "/dev/zero": "is a character device",
             "mutants.json": "is a luo-verify mutants report; expected the --json report of "
                             "luo-verify check",
             "old.json": "no luo-verify report",
             "broken.json": "is not a valid luo-verify check report"}
    for name, expect in cases.items():
        code, out, err = run(capsys, "check", "--bounds", "tiny", "--baseline",
                             str(tmp_path / name))  # an absolute name stays as it is
        assert code == 2 and not out, name
        assert err.count("\n") == 1 and expect in err and "Traceback" not in err, err


def test_mutants_baseline(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """Verifies mutants --baseline: the same result passes, a mutant caught now and not
    in the baseline is printed as improved, and (on the documents) a mutant the baseline
    caught and this run does not is a regression."""
    args = ["mutants", "--bounds", "tiny", "--only", "LUO-M7b", "--walks", "0",
            "--bmc-depth", "0"]
    _code, out, _ = run(capsys, *args, "--json")
    doc = json.loads(out)
    path = tmp_path / "m.json"
    path.write_text(out)
    code, _, err = run(capsys, *args, "--baseline", str(path))
    assert code == 0 and "0 regressions" in err
    survived = copy.deepcopy(doc)
    survived["mutants"][0].update(caught=False, violated=[], length=None)
    path.write_text(json.dumps(survived))
    code, _, err = run(capsys, *args, "--baseline", str(path))
    assert code == 0 and "luo-verify: improved: mutant LUO-M7b caught now" in err
    cmp = baseline.compare_mutants(doc, survived)
    assert cmp.regressions == ["mutant LUO-M7b no longer caught (expected to break "
                               "ops_on_right_side; the baseline caught it by "
                               "ops_on_right_side)"]
    code, _, err = run(capsys, "mutants", "--bounds", "ci", "--only", "LUO-M7b",
                       "--baseline", str(path))
    assert code == 2 and "other bounds" in err


def test_other_search_options_are_exit_2(capsys: pytest.CaptureFixture[str],
                                         tmp_path: Path) -> None:
    """Verifies a baseline searched with --continue or --no-symmetry is not compared with
    a run without them (their violations and defects differ on an unchanged design):
    exit 2, one line naming the option."""
    plain, _doc = report(capsys, tmp_path, "plain.json", "--design", "v6.19")
    go_on, _doc = report(capsys, tmp_path, "continue.json", "--design", "v6.19",
                         "--continue")
    for base, args, option in ((go_on, [], "--continue"), (plain, ["--continue"], "--continue"),
                               (plain, ["--no-symmetry"], "--no-symmetry")):
        code, out, err = run(capsys, "check", "--bounds", "tiny", "--design", "v6.19",
                             *args, "--baseline", str(base))
        assert code == 2 and not out, err
        assert err.count("\n") == 1 and option in err, err
