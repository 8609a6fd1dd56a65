"""The README's two variant examples (examples/), as a new user pastes them, and the
one-line errors for bad STEPS."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from luoverify.checks.cli import main
from luoverify.checks.designs import load_design
from luoverify.model.design import DesignError

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_readme_shows_the_example_files() -> None:
    """Verifies the README's code blocks are the code of examples/ (what a user pastes is
    what the tests run)."""
    blocks = [b.strip() for b in re.findall(r"```python\n(.*?)```", README, re.S)]
    for name in ("with_finalize.py", "unpreserve_keeps_folios.py"):
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
    ("STEPS = {'kernel.x': print}", "expected model.*, reference.kernel.*"),
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
