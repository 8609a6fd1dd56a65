"""The ``luo-verify check`` command as a user and a CI script use it."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from luoverify import checks
from luoverify.checks.cli import main


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_upstream_tiny_passes(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "check", "--bounds", "tiny")
    assert code == 0, out
    assert "verdict: PASS" in out
    assert "states/s" in out and "transitions" in out and "depth" in out


def test_v619_tiny_fails_with_named_defects(capsys: pytest.CaptureFixture[str],
                                             tmp_path: Path) -> None:
    code, out, _ = run(capsys, "check", "--design", "v6.19", "--bounds", "tiny",
                       "--trace-dir", str(tmp_path))
    assert code == 1
    assert "verdict: FAIL" in out
    assert "LUO-M3" in out and "LUO-M7" in out
    traces = sorted(tmp_path.glob("*.itf.json"))
    assert traces, "every counterexample is written as a trace file"
    doc = json.loads(traces[0].read_text())
    assert doc["#meta"]["format"] == "ITF" and doc["#meta"]["design"] == "v6.19"
    first, last = doc["states"][0], doc["states"][-1]
    assert first["mbt::actionTaken"] == "init"
    assert {"mbt::actionTaken", "mbt::nondetPicks", "luo::ret"} <= set(last)
    assert set(doc["vars"]) <= set(first)


def test_json_report_matches_schema(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "check", "--design", "v6.19", "--bounds", "tiny", "--json")
    assert code == 1
    report = json.loads(out)
    schema = json.loads((Path(checks.__file__).parent / "report.schema.json").read_text())
    jsonschema.validate(report, schema)
    assert report["verdict"] == "fail"
    violated = [k for k, v in report["properties"].items() if v["status"] == "violated"]
    assert len(violated) >= 4


def test_same_run_same_bytes(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """Verifies determinism: two runs write byte-identical traces and JSON (less timings)."""
    outs = []
    for n in (1, 2):
        d = tmp_path / f"run{n}"
        code, out, _ = run(capsys, "check", "--design", "v6.19", "--bounds", "tiny",
                           "--json", "--trace-dir", str(d))
        assert code == 1
        report = json.loads(out)
        report["seconds"] = report["states_per_second"] = None
        report["engine"].pop("search_seconds", None)
        report["engine"].pop("search_cpu_seconds", None)
        for entry in report["properties"].values():
            entry.pop("trace", None)
            for also in entry.get("also", []):
                also.pop("trace", None)
        outs.append((json.dumps(report, sort_keys=True),
                     {p.name: p.read_bytes() for p in sorted(d.iterdir())}))
    assert outs[0][0] == outs[1][0]
    assert outs[0][1] == outs[1][1]


def test_state_limit_is_inconclusive(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "check", "--bounds", "tiny", "--max-states", "50")
    assert code == 3
    assert "INCOMPLETE" in out and "INCONCLUSIVE" in out


@pytest.mark.parametrize("args, fragment", [
    (["--design", "nosuch"], "unknown design"),
    (["--design", "missing.py"], "does not exist"),
    (["--bounds", "huge"], "invalid choice"),
    (["--pages", "0"], "pages=0"),
    (["--property", "nosuch"], "unknown property"),
    (["--max-states", "0"], "--max-states"),
    (["--trace-dir", "/proc/no/such"], "--trace-dir: cannot use"),
    (["--graph", "/proc/no/such.dot"], "--graph: cannot write"),
])
def test_bad_input_is_one_line_exit_2(capsys: pytest.CaptureFixture[str], args: list[str],
                                      fragment: str) -> None:
    with pytest.raises(SystemExit) as exc:
        code = main(["check", *args])
        raise SystemExit(code)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert fragment in err
    assert "Traceback" not in err


@pytest.mark.parametrize("body, fragment", [
    ("DESIGN = 1\n", "not a luoverify.model.design.Design"),
    ("x = (\n", "syntax error"),
    ("raise RuntimeError('boom')\n", "raised RuntimeError: boom"),
    ("X = 1\n", "does not define DESIGN"),
    ("from dataclasses import replace\nfrom luoverify.model.design import PROFILES\n"
     "DESIGN = replace(PROFILES['upstream'], check_session_kind='yes')\n", "must be bool"),
])
def test_bad_design_file(capsys: pytest.CaptureFixture[str], tmp_path: Path, body: str,
                         fragment: str) -> None:
    path = tmp_path / "variant.py"
    path.write_text(body)
    code, _, err = run(capsys, "check", "--design", str(path), "--bounds", "tiny")
    assert code == 2
    assert fragment in err and len(err.strip().splitlines()) == 1


def test_variant_file_is_checked(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """Verifies a reviewer's variant: upstream without the session-kind check fails
    ops_on_right_side."""
    path = tmp_path / "nokind.py"
    path.write_text("from dataclasses import replace\n"
                    "from luoverify.model.design import PROFILES\n"
                    "DESIGN = replace(PROFILES['upstream'], name='no-kind-check',\n"
                    "                 check_session_kind=False)\n")
    code, out, _ = run(capsys, "check", "--design", str(path), "--bounds", "tiny", "--json")
    assert code == 1
    report = json.loads(out)
    assert report["design"] == "no-kind-check"
    assert report["properties"]["ops_on_right_side"]["status"] == "violated"
    assert "LUO-M7" in report["defects"]


def test_graph_export(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    for name in ("g.graphml", "g.dot"):
        code, _, _ = run(capsys, "check", "--bounds", "tiny", "--graph", str(tmp_path / name))
        assert code == 0
        text = (tmp_path / name).read_text()
        assert ("graphml" in text) if name.endswith("graphml") else text.startswith("digraph")


def test_time_limit_is_inconclusive(capsys: pytest.CaptureFixture[str]) -> None:
    """Verifies --max-seconds stops the search and reports it inconclusive (exit 3)."""
    code, out, _ = run(capsys, "check", "--bounds", "ci", "--max-seconds", "0.3",
                       "--no-progress")
    assert code == 3
    assert "time limit 0.3 s reached" in out and "INCONCLUSIVE" in out
    code, _, err = run(capsys, "check", "--max-seconds", "0")
    assert code == 2 and "--max-seconds must be positive" in err


def test_bound_options_follow_the_bounds_fields(capsys: pytest.CaptureFixture[str]) -> None:
    """Verifies check has one override option per Bounds field, in field order, and that
    an override reaches the explored bounds."""
    from dataclasses import fields

    from luoverify.model.bounds import Bounds

    with pytest.raises(SystemExit) as exc:
        main(["check", "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    where = [out.index(f"--{f.name} ") for f in fields(Bounds)]
    assert where == sorted(where)
    code, out, _ = run(capsys, "check", "--bounds", "tiny", "--pages", "4", "--reboot",
                       "atomic", "--json", "--no-progress")
    bounds = json.loads(out)["bounds"]
    assert code == 0 and bounds["name"] == "tiny+overrides"
    assert bounds["pages"] == 4 and bounds["reboot"] == "atomic"


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    """Verifies ``--version`` prints the installed version (exit 0) and every check
    report carries it."""
    from importlib.metadata import version

    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert f"luo-verify {version('luo-verify')}" in capsys.readouterr().out
    code, out, _ = run(capsys, "check", "--bounds", "tiny", "--json")
    assert code == 0 and json.loads(out)["tool"] == {"name": "luo-verify",
                                                     "version": version("luo-verify"),
                                                     "z3": version("z3-solver")}
