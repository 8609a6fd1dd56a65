"""The CI example (examples/ci/luo-verify.yml, shown verbatim in the README): its
luo-verify commands run here as the workflow runs them, at tiny bounds."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import xmlschema
import yaml
from junitparser import JUnitXml

ROOT = Path(__file__).resolve().parent.parent
WORKFLOW = ROOT / "examples" / "ci" / "luo-verify.yml"
VARIANT = ("from dataclasses import replace\n"
           "from luoverify.model.design import PROFILES\n"
           "DESIGN = replace(PROFILES['upstream'], name='no-kind-check', "
           "check_session_kind=False)\n")


def workflow() -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load(WORKFLOW.read_text())
    return doc


def steps() -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = workflow()["jobs"]["check"]["steps"]
    return found


def step(name: str) -> dict[str, Any]:
    return next(s for s in steps() if s.get("name") == name)


def run_step(name: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """Run a step's ``run:`` script as GitHub Actions does (``bash -e``), with the
    workflow's env overridden by ``env``, and this interpreter's luo-verify on PATH."""
    full = {**os.environ, **workflow()["env"], **env}
    full["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{full.get('PATH', '')}"
    where = cwd / step(name).get("working-directory", ".")
    where.mkdir(exist_ok=True)
    return subprocess.run(["bash", "-e", "-c", step(name)["run"]], cwd=where, env=full,
                          capture_output=True, text=True, check=False)


def schema(name: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(
        resources.files("luoverify.checks").joinpath(name).read_text())
    return doc


def test_workflow_shape() -> None:
    """Verifies the workflow runs on pull requests, installs main's luo-verify for the
    baseline and the pull request's for the check, and publishes the JUnit file the
    check writes."""
    doc = workflow()
    assert "pull_request" in doc[True]  # YAML 1.1 reads the key `on` as true
    names = [s.get("name") for s in steps()]
    order = ["Check out main (the baseline)", "Install luo-verify from main",
             "Baseline report of main", "Install luo-verify from the pull request",
             "Check the pull request against main", "Publish the JUnit report"]
    assert [n for n in names if n in order] == order
    assert step("Check out main (the baseline)")["with"] == {"ref": "main", "path": "main"}
    assert step("Install luo-verify from main")["run"].strip() == \
        "python -m pip install ./main"
    check = step("Check the pull request against main")["run"]
    assert "--baseline baseline.json" in check and "--junit luo-verify.xml" in check
    publish = step("Publish the JUnit report")
    assert publish["uses"].startswith("mikepenz/action-junit-report@")
    assert publish["with"]["report_paths"] == "luo-verify.xml"
    assert publish["if"] == "always()"


def test_readme_shows_the_workflow_verbatim() -> None:
    """Verifies the README embeds the workflow file word for word."""
    text = WORKFLOW.read_text()
    assert f"```yaml\n{text}```" in (ROOT / "README.md").read_text()


def test_workflow_commands_on_an_unchanged_pull_request(tmp_path: Path) -> None:
    """Verifies the baseline and check steps run as written (at tiny bounds): exit 0,
    every report valid against its schema, the JUnit file valid and parsed."""
    base = run_step("Baseline report of main", tmp_path, LUO_BOUNDS="tiny")
    assert base.returncode == 0, base.stderr
    check = run_step("Check the pull request against main", tmp_path, LUO_BOUNDS="tiny")
    assert check.returncode == 0, check.stderr
    assert "0 regressions" in check.stderr
    report = json.loads((tmp_path / "report.json").read_text())
    jsonschema.validate(json.loads((tmp_path / "baseline.json").read_text()),
                        schema("report.schema.json"))
    jsonschema.validate(report, schema("report.schema.json"))
    assert report["baseline"] == {"file": "baseline.json", "regressions": [],
                                  "improvements": []}
    xsd = xmlschema.XMLSchema(str(resources.files("luoverify.checks").joinpath("junit.xsd")))
    xsd.validate(str(tmp_path / "luo-verify.xml"))
    xml = JUnitXml.fromfile(str(tmp_path / "luo-verify.xml"))
    assert sum(s.tests for s in xml) == len(report["properties"]) + 1


@pytest.mark.parametrize("main_design", ["upstream", "v6.19"])
def test_workflow_fails_a_pull_request_that_breaks_a_property(tmp_path: Path,
                                                              main_design: str) -> None:
    """Verifies the check step fails (exit 1, one line per regression) when the pull
    request's design breaks a property main's does not; and that the baseline step
    accepts a main branch that violates properties itself (exit 1 is a report)."""
    # the design is a file at one path in both checkouts: main's is its base profile,
    # the pull request's is the variant (the baseline step must read main's)
    (tmp_path / "main").mkdir()
    (tmp_path / "main" / "variant.py").write_text(
        "from luoverify.model.design import PROFILES\n"
        f"DESIGN = PROFILES[{main_design!r}]\n")
    (tmp_path / "variant.py").write_text(VARIANT)
    base = run_step("Baseline report of main", tmp_path, LUO_BOUNDS="tiny",
                    LUO_DESIGN="variant.py")
    assert base.returncode == 0, base.stderr
    if main_design != "upstream":
        assert json.loads((tmp_path / "baseline.json").read_text())["verdict"] == "fail"
        return
    check = run_step("Check the pull request against main", tmp_path, LUO_BOUNDS="tiny",
                     LUO_DESIGN="variant.py")
    assert check.returncode == 1
    assert "luo-verify: regression: new violation: ops_on_right_side" in check.stderr
    assert (tmp_path / "luo-verify.xml").exists()
