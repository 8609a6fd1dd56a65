"""The README's two variant examples (examples/), as a new user pastes them, and the
one-line errors for bad STEPS."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path

import pytest

from luoverify.checks.cli import main
from luoverify.checks.designs import load_design
from luoverify.model.design import PROFILES, DesignError

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
EXAMPLES = ROOT / "examples"


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_readme_shows_the_example_files() -> None:
    """Verifies the README's code blocks are the code of examples/ (what a user pastes is
    what the tests run)."""
    blocks = [b.strip() for b in re.findall(r"```python\n(.*?)```", README, re.S)]
    for name in ("with_finalize.py", "unpreserve_keeps_folios.py", "retrieve_again_ebusy.py",
                 "others_take_reserved.py"):
        assert (ROOT / "examples" / name).read_text().strip() in blocks, name


def test_harmless_variant_checks_clean(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "check", "--design", str(ROOT / "examples/with_finalize.py"),
                       "--bounds", "tiny", "--no-progress")
    assert code == 0, out
    assert "verdict: PASS" in out


def test_breaking_variant_shows_its_counterexample(capsys: pytest.CaptureFixture[str]
                                                  ) -> None:
    """Verifies a step replaced in the model and in the reference breaks ownership, with
    a counterexample reproduced on the reference."""
    code, out, _ = run(capsys, "check", "--design",
                       str(ROOT / "examples/unpreserve_keeps_folios.py"), "--bounds", "tiny",
                       "--replay", "--json")
    assert code == 1
    report = json.loads(out)
    entry = report["properties"]["cancel_releases_all"]
    assert entry["status"] == "violated" and entry["length"] == 4
    assert entry["reproduced"] is True


@pytest.mark.parametrize(("steps", "message"), [
    ("STEPS = 3", "STEPS must be a dict"),
    ("STEPS = {'model.nope': print}", "Kernel has no method 'nope'"),
    ("STEPS = {'kernel.x': print}", "expected one of model.*, reference.kernel.*"),
    ("STEPS = {'model.do_finish': 3}", "must map a step name to a function"),
])
def test_bad_steps(tmp_path: Path, steps: str, message: str) -> None:
    f = tmp_path / "v.py"
    f.write_text("from luoverify.model.design import PROFILES\n"
                 "DESIGN = PROFILES['upstream']\n" + steps + "\n")
    with pytest.raises(DesignError, match=re.escape(message)):
        load_design(str(f))


LEGACY_VARIANT = '''
from dataclasses import replace
from luoverify.model.design import PROFILES

DESIGN = replace(PROFILES["legacy"], name="cancel-forgets-the-ser")


def model_cancel(self, f):
    """the legacy model: cancel unpreserves the folios but leaves the ser preserved"""
    for p in f.folios:
        self.kho_unpreserve(p)
    self.free_page(f.ser)
    f.st, f.ser, f.folios = 5, -1, ()


def reference_cancel(self, lf):
    """the same change in the v3 reference's memfd handler"""
    for pfn in lf.private_data.folios:
        self.k.kho.kho_unpreserve_folio(pfn)
    self.k.alloc.free_page(lf.private_data.ser_pfn)
    lf.serialized_data, lf.private_data = 0, None


STEPS = {"model.memfd_luo_cancel": model_cancel, "reference.memfd.cancel": reference_cancel}
'''


def test_legacy_variant_replaces_a_step(tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    """Verifies a variant of the legacy profile can replace a step that only the legacy
    machine has (the handler's cancel), in the model and the reference, and that the
    counterexample reproduces on the reference."""
    f = tmp_path / "legacy_variant.py"
    f.write_text(LEGACY_VARIANT)
    code, out, _ = run(capsys, "check", "--design", str(f), "--bounds", "tiny", "--replay",
                       "--json")
    assert code == 1
    report = json.loads(out)
    entry = report["properties"]["no_free_while_preserved"]
    assert entry["status"] == "violated" and entry["reproduced"] is True


def test_harmless_return_code_variant_passes(capsys: pytest.CaptureFixture[str]) -> None:
    """Verifies that a variant changing only a return code (a second RETRIEVE_SESSION
    answers EBUSY instead of EINVAL, examples/retrieve_again_ebusy.py) passes check:
    its coverage is judged against its base profile's expected outcomes, and what it
    adds and removes is listed as its behaviour change; diff shows exactly that call."""
    code, out, _ = run(capsys, "check", "--design", str(EXAMPLES / "retrieve_again_ebusy.py"),
                       "--bounds", "tiny", "--replay", "--json")
    report = json.loads(out)
    assert code == 0 and report["verdict"] == "pass", report["coverage"]
    cov = report["coverage"]
    assert cov["base"] == "upstream" and cov["ok"]
    changes = {c["outcome"]: (c["base_fired"], c["fired"]) for c in cov["changes"]}
    assert set(changes) == {"retrieve_session = -EINVAL", "retrieve_session = -EBUSY"}
    assert changes["retrieve_session = -EINVAL"][1] == 0 < changes["retrieve_session = -EINVAL"][0]
    assert changes["retrieve_session = -EBUSY"][0] == 0 < changes["retrieve_session = -EBUSY"][1]
    code, out, _ = run(capsys, "diff", "--design", "upstream", "--design",
                       str(EXAMPLES / "retrieve_again_ebusy.py"), "--bounds", "tiny", "--json")
    diff = json.loads(out)
    assert code == 1 and not diff["verdict_changes"]
    assert [(d["call"], d["answers"]) for d in diff["differences"]] == [
        ("retrieve_session", {"upstream": "-EINVAL", "retrieve-again-ebusy": "-EBUSY"})]


def test_profiles_and_unchanged_copies_are_judged_by_their_own_outcomes() -> None:
    """Verifies that a profile, and a renamed copy of one, are not variants: their
    coverage is their own (a missing outcome stays a gap)."""
    assert PROFILES["upstream"].base_profile() is None
    assert replace(PROFILES["v6.19"], name="copy").base_profile() is None
    assert replace(PROFILES["upstream"], name="x",
                   check_session_kind=False).base_profile() == PROFILES["upstream"]


def test_readme_shows_what_the_ebusy_variant_prints(capsys: pytest.CaptureFixture[str]
                                                    ) -> None:
    """Verifies the README's printed output of the return-code variant (its behaviour
    change lines, and diff's trace) is what the commands print."""
    example = str(EXAMPLES / "retrieve_again_ebusy.py")
    code, out, _ = run(capsys, "check", "--design", example, "--bounds", "tiny", "--replay")
    assert code == 0
    shown = README.split("exactly that call, with its trace:")[0].rsplit("```", 2)[-2]
    for line in shown.strip("\n").splitlines():
        assert line in out.splitlines(), line
    code, out, _ = run(capsys, "diff", "--design", "upstream", "--design", example,
                       "--bounds", "tiny")
    assert code == 1
    block = README.split("exactly that call, with its trace:")[1].split("```")[1]
    for line in block.strip("\n").splitlines():
        assert line in out.splitlines(), line


def test_others_taking_reserved_pages_is_caught_and_reproduced(
        capsys: pytest.CaptureFixture[str]) -> None:
    """Verifies that a change of which actions are enabled is expressible: other kernel
    users may allocate reserved, unrestored pages in the next kernel
    (examples/others_take_reserved.py); no_alloc_of_reserved and single_owner are
    violated, and every counterexample is reproduced on the reference."""
    code, out, err = run(capsys, "check", "--design",
                         str(EXAMPLES / "others_take_reserved.py"), "--bounds", "tiny",
                         "--replay", "--json")
    report = json.loads(out)
    assert code == 1
    props = report["properties"]
    assert props["no_alloc_of_reserved"]["status"] == "violated"
    assert props["single_owner"]["status"] == "violated"
    assert report["replay"]["replayed"] == report["replay"]["reproduced"] > 0
    assert "warning" not in err  # both sides replaced
    code, text, _ = run(capsys, "check", "--design", str(EXAMPLES / "others_take_reserved.py"),
                        "--bounds", "tiny", "--replay")
    shown = README.split("The `no_alloc_of_reserved` counterexample ends:")[1].split("```")[1]
    for line in shown.strip("\n").splitlines():  # what the README prints is printed
        assert line in text.splitlines(), line


def test_one_sided_step_warns(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Verifies that replacing only the model side of a paired step warns when the design
    loads, and again with --replay."""
    f = tmp_path / "one_side.py"
    f.write_text((EXAMPLES / "unpreserve_keeps_folios.py").read_text().replace(
        '         "reference.memfd.unpreserve": reference_unpreserve}', "}"))
    code, _out, err = run(capsys, "check", "--design", str(f), "--bounds", "tiny",
                          "--replay")
    warnings = [line for line in err.splitlines() if "warning" in line]
    assert len(warnings) == 2, err
    assert all("'memfd_unpreserve'" in w and "reference.memfd.unpreserve" in w
               for w in warnings)
    assert "--replay" in warnings[1]
    assert code in (1, 4)


def test_steps_lists_every_step_with_both_sides(capsys: pytest.CaptureFixture[str]) -> None:
    """Verifies ``luo-verify steps`` lists the vocabulary, every key of which names an
    existing method with a signature (a renamed kernel method breaks this test)."""
    from luoverify.checks import steps

    code, out, _ = run(capsys, "steps")
    assert code == 0
    for step in steps.VOCABULARY:
        assert f"{step.name}: {step.meaning}" in out
        for key in (step.model, step.reference):
            if key is not None:
                assert key in out and steps.signature(key) in out
    for key in ("model.others_may_alloc", "reference.kernel.luo_session_release",
                "reference.alloc.pick", "reference.kho.kho_restore_folio"):
        assert key in steps.BY_KEY


def test_readme_flag_variant(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Verifies the README's first variant snippet (a flag change) as printed: it fails
    ops_on_right_side with LUO-M7."""
    snippet = README.split("A variant is a Python file\ndefining `DESIGN`:")[1].split("```")[1]
    f = tmp_path / "variant.py"
    f.write_text(snippet.removeprefix("python\n"))
    code, out, _ = run(capsys, "check", "--design", str(f), "--bounds", "tiny")
    assert code == 1 and "LUO-M7" in out
    assert re.search(r"ops_on_right_side +step +violated", out), out


def test_a_step_the_design_never_calls_warns(tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    """Verifies that a replaced model step the search never ran (RETRIEVE_SESSION on the
    legacy machine, which has no such call) is reported, so a reviewer does not take a
    PASS for a checked patch."""
    f = tmp_path / "legacy_ebusy.py"
    f.write_text((EXAMPLES / "retrieve_again_ebusy.py").read_text().replace(
        'PROFILES["upstream"], name="retrieve-again-ebusy"',
        'PROFILES["legacy"], name="legacy-ebusy"'))
    code, _out, err = run(capsys, "check", "--design", str(f), "--bounds", "tiny")
    assert code == 0
    assert "STEPS['model.do_retrieve_session'] never ran" in err
    code, _out, err = run(capsys, "check", "--design", str(EXAMPLES / "retrieve_again_ebusy.py"),
                          "--bounds", "tiny")
    assert code == 0 and "never ran" not in err
