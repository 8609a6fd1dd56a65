"""``luo-verify replay`` and ``check --replay``: counterexamples reproduced on the
reference implementation, faithful traces, divergences, and bad input."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from luoverify.checks.cli import main
from luoverify.checks.replay import load_trace, replay
from luoverify.model.design import PROFILES

HERE = Path(__file__).parent
SUITE = HERE / "traces" / "upstream-ci"
HANDWRITTEN = HERE / "traces" / "handwritten"


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def v619_traces(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], Path]:
    """``check --design v6.19 --replay`` at the default bound, with its trace files."""
    out = tmp_path_factory.mktemp("v619")
    from luoverify.checks.run import run_check
    from luoverify.model.bounds import NAMED_BOUNDS
    from luoverify.specs.properties import CATALOGUE

    report = run_check(PROFILES["v6.19"], NAMED_BOUNDS["ci"], CATALOGUE, bounds_name="ci",
                       trace_dir=out, replay=True)
    return report.to_json(timings=False), out


def test_every_v619_counterexample_reproduces(v619_traces: tuple[dict[str, Any], Path]
                                             ) -> None:
    """Verifies that every counterexample check finds in 6.19 at the default bound is
    reproduced on the reference's concrete page frames, by check --replay."""
    report, _ = v619_traces
    import jsonschema

    from luoverify import checks

    schema = json.loads((Path(checks.__file__).parent / "report.schema.json").read_text())
    jsonschema.validate(report, schema)
    assert report["verdict"] == "fail"
    violated = [n for n, p in report["properties"].items() if p["status"] == "violated"]
    assert len(violated) >= 4
    assert report["replay"]["replayed"] == report["replay"]["reproduced"] >= len(violated)
    for name in violated:
        entry = report["properties"][name]
        assert entry["reproduced"] is True, name
        for extra in entry["also"]:
            assert extra["reproduced"] is True, (name, extra)


def test_replay_cli_on_v619_traces_exits_1(v619_traces: tuple[dict[str, Any], Path],
                                           capsys: pytest.CaptureFixture[str]) -> None:
    """Verifies that replaying each 6.19 trace file exits 1 and names the page frame,
    who holds it on the reference, and the step that broke it."""
    _, tdir = v619_traces
    files = sorted(tdir.glob("*.itf.json"))
    assert len(files) >= 6
    for f in files:
        code, out, _ = run(capsys, "replay", str(f))
        doc = json.loads(f.read_text())
        assert code == 1, (f.name, out)
        assert f"VIOLATED on the reference at step {len(doc['states']) - 1}" in out
        assert doc["#meta"]["property"] in out
    code, out, _ = run(capsys, "replay", str(tdir / "v6.19.single_owner.itf.json"), "--json")
    result = json.loads(out)
    assert result["status"] == "violated"
    owners = result["violation"]["pages"]["0"]
    assert any("memfd slot 0" in o for o in owners)
    assert sum("serialized folio" in o for o in owners) == 2  # two luo_files name it


def test_upstream_suite_replays_faithfully() -> None:
    """Verifies that every trace of the committed upstream regression suite replays on
    the reference with the same return codes and the same abstract state."""
    manifest = json.loads((SUITE / "manifest.json").read_text())
    assert manifest["covered"] == manifest["coverable"] > 0
    files = sorted(SUITE.glob("*.itf.json"))
    assert [f.name for f in files] == [t["file"] for t in manifest["traces"]]
    for f in files:
        result = replay(load_trace(f), PROFILES["upstream"])
        assert result.status == "faithful", (f.name, result.to_text())


def test_traces_regenerate_identically(tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    """Verifies that luo-verify traces at the ci bound covers 100 % of the transition
    classes and writes byte for byte the suite kept in tests/traces/upstream-ci (run
    ``luo-verify traces --force --out tests/traces/upstream-ci`` after a model change)."""
    code, out, _ = run(capsys, "traces", "--out", str(tmp_path))
    assert code == 0, out
    assert "(100.0 %)" in out
    for f in sorted(SUITE.iterdir()):
        assert (tmp_path / f.name).read_bytes() == f.read_bytes(), f.name
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        p.name for p in SUITE.iterdir())


def test_handwritten_trace_replays(capsys: pytest.CaptureFixture[str]) -> None:
    """Verifies that a hand-written trace (actions, arguments, return codes only)
    replays with exit 0."""
    code, out, _ = run(capsys, "replay", str(HANDWRITTEN / "kexec_simple.itf.json"))
    assert code == 0, out
    assert "replayed faithfully" in out


def test_wrong_return_code_diverges(tmp_path: Path,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    """Verifies that a trace edited to expect a wrong return code exits 4 and names
    the step."""
    doc = json.loads((SUITE / "001.itf.json").read_text())
    step = next(i for i, s in enumerate(doc["states"]) if s["luo::ret"] == "0" and i > 2)
    doc["states"][step]["luo::ret"] = "-EBUSY"
    bad = tmp_path / "edited.itf.json"
    bad.write_text(json.dumps(doc))
    code, out, _ = run(capsys, "replay", str(bad))
    assert code == 4
    assert f"DIVERGED at step {step}:" in out and "the trace expects -EBUSY" in out
    code, out, _ = run(capsys, "replay", str(bad), "--json")
    assert json.loads(out)["divergence"]["step"] == step


def test_edited_state_diverges(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Verifies that a recorded state that does not match the model is a divergence."""
    doc = json.loads((SUITE / "001.itf.json").read_text())
    doc["states"][2]["faults_left"] = 7
    bad = tmp_path / "edited.itf.json"
    bad.write_text(json.dumps(doc))
    code, out, _ = run(capsys, "replay", str(bad))
    assert code == 4
    assert "DIVERGED at step 2" in out and "faults_left" in out


def test_fixed_design_rejects_v619_counterexample(
        v619_traces: tuple[dict[str, Any], Path], capsys: pytest.CaptureFixture[str]) -> None:
    """Verifies that replaying 6.19's double-preservation counterexample under upstream
    diverges where upstream returns EBUSY (the fix), with a note on the design."""
    _, tdir = v619_traces
    code, out, _ = run(capsys, "replay", str(tdir / "v6.19.single_owner.itf.json"),
                       "--design", "upstream")
    assert code == 4
    assert "returned -EBUSY, the trace expects 0" in out
    assert "recorded under design v6.19" in out


_REBOOT = '{"mbt::actionTaken": "reboot", "mbt::nondetPicks": {}, "luo::ret": "0"}'


@pytest.mark.parametrize(("content", "message"), [
    (None, "cannot read"),
    ("not json", "is not JSON"),
    ('{"a": 1}', "not an ITF trace"),
    ('{"states": [{"mbt::actionTaken": "defrost"}]}', "unknown action 'defrost'"),
    ('{"states": [{"mbt::actionTaken": "finish", "mbt::nondetPicks": '
     '{"list": "in", "session": 0}, "luo::ret": "0"}]}', "is not callable here"),
    ('{"#meta": {"bounds": "huge"}, "states": [' + _REBOOT + ']}', "unknown bounds 'huge'"),
    ('{"#meta": {"bounds": {"pages": 99}}, "states": [' + _REBOOT + ']}',
     "$['#meta'].bounds: bound pages=99"),
    ('{"states": []}', "at least one step"),
    ('{"states": [{"mbt::actionTaken": "reboot", "mbt::nondetPicks": {}}]}',
     "missing 'luo::ret'"),
    ('{"states": [{"mbt::actionTaken": "reboot", "luo::ret": "-EWHAT"}]}',
     "unknown return code"),
])
def test_bad_input_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                               content: str | None, message: str) -> None:
    """Verifies that bad trace input exits 2 with one line naming the problem."""
    path = tmp_path / "t.json"
    if content is not None:
        path.write_text(content)
    code, out, err = run(capsys, "replay", str(path))
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1 and message in err, err


def test_unknown_design_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "replay", str(HANDWRITTEN / "kexec_simple.itf.json"),
                       "--design", "v9.99")
    assert code == 2 and "unknown design 'v9.99'" in err
