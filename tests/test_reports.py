"""What CI reads: every --json output against its schema, every --junit file parsed by
junitparser and valid against checks/junit.xsd, and both the same across runs."""

from __future__ import annotations

import json
import re
from importlib import resources
from importlib.metadata import version
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import xmlschema
from junitparser import Error, Failure, JUnitXml, Skipped

from luoverify.checks.cli import main

ROOT = Path(__file__).resolve().parent.parent
HANDWRITTEN = ROOT / "tests" / "traces" / "handwritten" / "kexec_simple.itf.json"
XSD = xmlschema.XMLSchema(str(resources.files("luoverify.checks").joinpath("junit.xsd")))


def schema(kind: str) -> dict[str, Any]:
    """The packaged JSON schema of a report kind."""
    name = "report.schema.json" if kind == "check" else f"{kind}.schema.json"
    doc: dict[str, Any] = json.loads(
        resources.files("luoverify.checks").joinpath(name).read_text())
    return doc


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def results(xml: JUnitXml) -> dict[str, str]:
    """Test case name -> pass / failure / error / skipped."""
    out: dict[str, str] = {}
    for suite in xml:
        for case in suite:
            kinds = {type(r) for r in case.result}
            out[case.name] = ("failure" if Failure in kinds else "error" if Error in kinds
                              else "skipped" if Skipped in kinds else "pass")
    return out


def check_header(doc: dict[str, Any], kind: str) -> None:
    """Every report names its kind, the tool with the z3-solver version, and the bounds."""
    assert doc["report"] == kind
    assert doc["tool"] == {"name": "luo-verify", "version": version("luo-verify"),
                           "z3": version("z3-solver")}
    assert {"name", "sessions", "files", "memfds", "pages", "folios", "kexecs", "faults",
            "scratch", "others", "reboot"} <= set(doc["bounds"])


#: (command line, report kind, exit code)
COMMANDS: list[tuple[list[str], str, int]] = [
    (["check", "--bounds", "tiny"], "check", 0),
    (["check", "--design", "v6.19", "--bounds", "tiny"], "check", 1),
    (["prove", "--design", "v6.19", "--bounds", "tiny", "--bmc", "3", "--bmc-only"],
     "prove", 1),
    (["mutants", "--bounds", "tiny", "--only", "LUO-M7b", "--walks", "2", "--bmc-depth", "2"],
     "mutants", 0),
    (["replay", str(HANDWRITTEN)], "replay", 0),
    (["diff", "--design", "upstream", "--design", "v6.19", "--bounds", "tiny"], "diff", 1),
]


@pytest.mark.parametrize(("args", "kind", "code"), COMMANDS,
                         ids=[" ".join(c[0][:3]) for c in COMMANDS])
def test_json_and_junit_of_every_command(capsys: pytest.CaptureFixture[str],
                                         tmp_path: Path, args: list[str], kind: str,
                                         code: int) -> None:
    """Verifies each command's --json output against its schema and its --junit file
    against junit.xsd and junitparser, with one test case per judged item."""
    junit = tmp_path / "out.xml"
    got, out, err = run(capsys, *args, "--json", "--junit", str(junit))
    assert got == code, err
    doc = json.loads(out)
    jsonschema.validate(doc, schema(kind))
    check_header(doc, kind)
    XSD.validate(str(junit))
    xml = JUnitXml.fromfile(str(junit))
    cases = results(xml)
    if kind == "check":
        assert set(cases) == set(doc["properties"]) | {"coverage"}
        for name, p in doc["properties"].items():
            want = {"holds": "pass", "not_applicable": "skipped", "unknown": "error"}.get(
                p["status"], "failure")
            assert cases[name] == want, name
    elif kind == "prove":
        assert any(c.startswith("bmc depth 3 / ") for c in cases)
        assert sorted(n.split(" / ")[1] for n, r in cases.items() if r == "failure") == \
            sorted(doc["bmc"]["violations"])
    elif kind == "mutants":
        assert cases == {"LUO-M7b": "pass"}
    elif kind == "replay":
        assert cases == {HANDWRITTEN.name: "pass"}
    elif kind == "diff":
        assert len(cases) == len(doc["differences"]) + len(doc["verdict_changes"])
        assert set(cases.values()) == {"failure"}


def test_traces_json_manifest_and_junit(capsys: pytest.CaptureFixture[str],
                                        tmp_path: Path) -> None:
    """Verifies traces --json and the manifest it writes against traces.schema.json, and
    its JUnit file: one case per trace and one for coverage."""
    junit = tmp_path / "traces.xml"
    code, out, _ = run(capsys, "traces", "--bounds", "tiny", "--out", str(tmp_path / "s"),
                       "--json", "--junit", str(junit))
    assert code == 0
    doc = json.loads(out)
    jsonschema.validate(doc, schema("traces"))
    check_header(doc, "traces")
    manifest = json.loads((tmp_path / "s" / "manifest.json").read_text())
    jsonschema.validate(manifest, schema("traces"))
    XSD.validate(str(junit))
    cases = results(JUnitXml.fromfile(str(junit)))
    assert cases == {**{t["file"]: "pass" for t in doc["traces"]}, "coverage": "pass"}


def test_replay_violation_and_divergence_in_junit(capsys: pytest.CaptureFixture[str],
                                                  tmp_path: Path) -> None:
    """Verifies a replayed counterexample is a JUnit failure with the calls in its text,
    and a divergence an error; both reports valid against replay.schema.json."""
    run(capsys, "check", "--design", "v6.19", "--bounds", "tiny", "--property",
        "ops_on_right_side", "--trace-dir", str(tmp_path))
    trace = tmp_path / "v6.19.ops_on_right_side.itf.json"
    junit = tmp_path / "r.xml"
    code, out, _ = run(capsys, "replay", str(trace), "--json", "--junit", str(junit))
    assert code == 1
    jsonschema.validate(json.loads(out), schema("replay"))
    XSD.validate(str(junit))
    case = next(iter(next(iter(JUnitXml.fromfile(str(junit))))))
    failure = case.result[0]
    assert isinstance(failure, Failure) and "ops_on_right_side" in (failure.message or "")
    assert "retrieve_fd" in (failure.text or "")
    code, out, _ = run(capsys, "replay", str(trace), "--design", "upstream", "--json",
                       "--junit", str(junit))
    assert code == 4
    jsonschema.validate(json.loads(out), schema("replay"))
    XSD.validate(str(junit))
    assert set(results(JUnitXml.fromfile(str(junit))).values()) == {"error"}


def test_prove_induction_junit(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """Verifies prove's JUnit file has one passing case per proved obligation (upstream)."""
    junit = tmp_path / "p.xml"
    code, out, _ = run(capsys, "prove", "--bounds", "tiny", "--json", "--junit", str(junit))
    assert code == 0
    doc = json.loads(out)
    jsonschema.validate(doc, schema("prove"))
    XSD.validate(str(junit))
    cases = results(JUnitXml.fromfile(str(junit)))
    assert len(cases) == len({(o["action"], o["property"]) for o in doc["obligations"]})
    assert set(cases.values()) == {"pass"}


def test_counterexample_steps_in_check_json(capsys: pytest.CaptureFixture[str]) -> None:
    """Verifies check --json carries, for each violated property, the steps the text
    script prints: the call with its arguments, its return code and the changed
    variables, in the same order, without --trace-dir."""
    code, out, _ = run(capsys, "check", "--design", "v6.19", "--bounds", "tiny", "--json")
    assert code == 1
    doc = json.loads(out)
    code, text, _ = run(capsys, "check", "--design", "v6.19", "--bounds", "tiny")
    violated = {n: p for n, p in doc["properties"].items()
                if p["status"] == "violated" and "length" in p}
    assert violated
    for name, p in violated.items():
        assert len(p["steps"]) == p["length"]
        block = text.split(f"counterexample: {name} (", 1)[1].split("VIOLATED:", 1)[0]
        calls = re.findall(r"^\s+\d+  (\S.*) = (\S+)$", block, re.M)
        assert calls == [(s["action"], s["ret"]) for s in p["steps"]], name
        changed = [ln.strip().split(":", 1)[0] for ln in block.splitlines()
                   if ln.startswith("         ")]
        assert changed == [c["var"] for s in p["steps"] for c in s["changes"]], name
        first = p["steps"][0]
        assert first["action"].startswith(first["call"] + "(")
        assert all(isinstance(v, int | str) for v in first["args"].values())


def test_same_run_same_junit_and_json(capsys: pytest.CaptureFixture[str],
                                      tmp_path: Path) -> None:
    """Verifies two runs write byte-identical JUnit files (less time attributes) and
    JSON reports (less the timing fields)."""
    outs: list[tuple[bytes, dict[str, Any]]] = []
    for i in range(2):
        junit = tmp_path / f"{i}.xml"
        _code, out, _ = run(capsys, "check", "--design", "v6.19", "--bounds", "tiny",
                            "--json", "--junit", str(junit))
        doc = json.loads(out)
        doc["seconds"] = doc["states_per_second"] = None
        doc["engine"].pop("search_seconds", None)
        doc["engine"].pop("search_cpu_seconds", None)
        outs.append((re.sub(rb' time="[0-9.]+"', b"", junit.read_bytes()), doc))
    assert outs[0] == outs[1]


BROKEN = {
    "no test case name": '<testsuites><testsuite name="s" tests="1">'
                         '<testcase classname="c"/></testsuite></testsuites>',
    "negative count": '<testsuites><testsuite name="s" tests="-1"/></testsuites>',
    "properties after cases": '<testsuites><testsuite name="s" tests="1">'
                              '<testcase name="a" classname="c"/><properties>'
                              '<property name="x" value="y"/></properties>'
                              '</testsuite></testsuites>',
    "unknown element": '<testsuites><testsuite name="s" tests="1"><testcase name="a" '
                       'classname="c"><flaky/></testcase></testsuite></testsuites>',
    "skipped and failure": '<testsuites><testsuite name="s" tests="1"><testcase name="a" '
                           'classname="c"><skipped/><failure/></testcase></testsuite>'
                           '</testsuites>',
    "time not a number": '<testsuites><testsuite name="s" tests="0" time="soon"/>'
                         '</testsuites>',
    "not junit": '<report><test/></report>',
}


@pytest.mark.parametrize("why", sorted(BROKEN))
def test_junit_schema_rejects_broken_files(why: str) -> None:
    """Verifies junit.xsd rejects malformed JUnit files (it is not a schema that
    accepts anything)."""
    assert not XSD.is_valid(BROKEN[why])


def test_junit_schema_accepts_the_common_form() -> None:
    """Verifies junit.xsd accepts a hand-written file of the common Ant/Jenkins form."""
    assert XSD.is_valid(
        '<testsuites tests="2" failures="1"><testsuite name="s" tests="2" failures="1" '
        'time="1.5" timestamp="2026-01-01T00:00:00"><properties><property name="k" '
        'value="v"/></properties><testcase name="a" classname="c" time="0.5"/>'
        '<testcase name="b" classname="c"><failure message="m" type="t">text</failure>'
        '<system-out>out</system-out></testcase></testsuite></testsuites>')


@pytest.mark.parametrize("command", [
    ["check", "--bounds", "tiny"],
    ["diff", "--design", "upstream", "--design", "v6.19", "--bounds", "tiny"],
    ["replay", str(HANDWRITTEN)],
])
def test_unwritable_junit_is_exit_74(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                     command: list[str]) -> None:
    """Verifies a --junit FILE that cannot be written (a missing folder, a folder) stops
    before the run with exit 74 and one line."""
    for bad in (tmp_path / "missing" / "j.xml", tmp_path):
        code, out, err = run(capsys, *command, "--junit", str(bad))
        assert code == 74 and not out
        assert err.count("\n") == 1 and "--junit" in err and "Traceback" not in err


def test_junit_clashes_are_input_errors(capsys: pytest.CaptureFixture[str],
                                        tmp_path: Path) -> None:
    """Verifies --junit naming the --baseline file or an empty path is exit 2 with one
    line, before the run, and the baseline is left as it was."""
    code, out, _ = run(capsys, "check", "--bounds", "tiny", "--json")
    base = tmp_path / "main.json"
    base.write_text(out)
    code, out, err = run(capsys, "check", "--bounds", "tiny", "--baseline", str(base),
                         "--junit", str(tmp_path / "." / "main.json"))
    assert code == 2 and not out and "is the --baseline file" in err
    assert err.count("\n") == 1
    assert json.loads(base.read_text())["report"] == "check"
    with pytest.raises(SystemExit) as exc:
        main(["check", "--bounds", "tiny", "--junit", ""])
    assert exc.value.code == 2 and "an empty path" in capsys.readouterr().err


def test_junit_to_stdout_and_version_to_a_full_disk(tmp_path: Path) -> None:
    """Verifies --junit /dev/stdout beside the report is exit 2 (the report would be XML
    and JSON mixed), and --version onto a full device is exit 74, as every report."""
    import subprocess
    import sys

    exe = str(Path(sys.executable).parent / "luo-verify")
    res = subprocess.run([exe, "check", "--bounds", "tiny", "--json", "--junit",
                          "/dev/stdout"], capture_output=True, text=True, check=False)
    assert res.returncode == 2 and not res.stdout and "standard output" in res.stderr
    if Path("/dev/full").exists():
        with open("/dev/full", "w") as full:
            res = subprocess.run([exe, "--version"], stdout=full, stderr=subprocess.PIPE,
                                 text=True, check=False)
        assert res.returncode == 74 and "standard output" in res.stderr


def test_junit_times_the_search(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """Verifies the check's JUnit suite carries the search's time (timing, not zero)."""
    path = tmp_path / "j.xml"
    code, _out, _err = run(capsys, "check", "--bounds", "tiny", "--junit", str(path))
    assert code == 0
    suite = next(iter(JUnitXml.fromfile(str(path))))
    assert suite.time > 0
