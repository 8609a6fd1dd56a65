"""Verifies that every kind of bad input a user can give ``luo-verify`` -- arguments, design
files, odd files -- ends in exit 2 with one line on stderr and no traceback, that a crash
of the tool is exit 70 (never a verdict), and that Ctrl-C gives exit 130 with the partial
result. Trace files have their own corpus (tests/test_trace_input.py)."""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from luoverify.checks import cli
from luoverify.checks.designs import load_design
from luoverify.model.design import Design, DesignError

ROOT = Path(__file__).resolve().parent.parent
UPSTREAM = "from luoverify.model.design import PROFILES\nDESIGN = PROFILES['upstream']\n"
REPLACE = ("from dataclasses import replace\nfrom luoverify.model.design import PROFILES\n")


def run(argv: list[str]) -> tuple[int, str, str]:
    """``luo-verify argv`` in this process: (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = cli.main(argv)
        except SystemExit as exc:  # argparse's usage errors
            code = int(exc.code or 0)
    return code, out.getvalue(), err.getvalue()


def assert_one_line_error(code: int, err: str, expect: str, want: int = 2) -> None:
    assert code == want, (code, err)
    assert "Traceback" not in err, err
    # warnings (a step replaced on one side only) may precede the one error line
    lines = [x for x in err.strip().splitlines() if not x.startswith("luo-verify: warning:")]
    assert len(lines) == 1 and lines[0].startswith("luo-verify: "), err
    assert expect in lines[0], (expect, lines[0])


# --- arguments ---------------------------------------------------------------------------

ARGUMENTS: list[tuple[list[str], str]] = [
    ([], "required"),
    (["nope"], "invalid choice"),
    (["check", "--bogus"], "unrecognized arguments"),
    (["check", "--pages", "x"], "invalid int value"),
    (["check", "--pages", "-1"], "pages=-1"),
    (["check", "--pages", "0"], "pages=0"),
    (["check", "--pages", "99999999999"], "pages"),
    (["check", "--kexecs", "-1"], "kexecs"),
    (["check", "--folios", "9"], "folios"),
    (["check", "--sessions", "1.5"], "invalid int value"),
    (["check", "--reboot", "sideways"], "invalid choice"),
    (["check", "--bounds", "nope"], "invalid choice"),
    (["check", "--design"], "expected one argument"),
    (["check", "--design", ""], "design"),
    (["check", "--design", "UPSTREAM"], "unknown design"),
    (["check", "--design", "mutant:"], "unknown mutant"),
    (["check", "--design", "mutant:NOPE"], "unknown mutant"),
    (["check", "--property", "nope"], "nope"),
    (["check", "--max-states", "0"], "--max-states"),
    (["check", "--max-states", "-5"], "--max-states"),
    (["check", "--max-seconds", "0"], "--max-seconds"),
    (["check", "--max-seconds", "-1"], "--max-seconds"),
    (["check", "--graph", "/tmp/luo-verify-graph.png"], "unknown format '.png'"),
    (["check", "--graph", "/tmp/luo-verify-graph"], "unknown format"),
    (["check", "--graph", "/nonexistent-dir/g.dot"], "--graph"),
    (["check", "--trace-dir", "/proc/version/x"], "--trace-dir"),
    (["prove", "--bmc", "-1"], "--bmc"),
    (["prove", "--bmc", "31"], "--bmc"),
    (["prove", "--bmc-only"], "--bmc-only"),
    (["prove", "--design", "legacy"], "cannot encode"),
    (["prove", "--timeout", "5"], "unrecognized arguments"),
    (["prove", "--design", "nope"], "unknown design"),
    (["replay"], "required"),
    (["replay", "/nonexistent.itf.json"], "nonexistent"),
    (["replay", "--design", "nope", "tests/traces/handwritten/kexec_simple.itf.json"],
     "unknown design"),
    (["traces"], "required"),
    (["traces", "--out", "/proc/version"], "--out"),
    (["traces", "--out", "tests/traces"], "not empty"),
    (["mutants", "--only", "LUO-M99"], "unknown mutant"),
    (["mutants", "--walks", "-1"], "--walks"),
    (["mutants", "--steps", "0"], "--steps"),
    (["mutants", "--bmc-depth", "-1"], "--bmc-depth"),
    (["mutants", "--jobs", "0"], "--jobs"),
    (["mutants", "--bounds", "huge"], "invalid choice"),
    (["diff", "--design", "upstream"], "exactly two"),
    (["diff", "--design", "upstream", "--design", "upstream"], "both designs"),
    (["diff", "--design", "upstream", "--design", "nope"], "unknown design"),
]


@pytest.mark.parametrize(("argv", "expect"), ARGUMENTS, ids=[" ".join(a) or "(none)"
                                                              for a, _ in ARGUMENTS])
def test_bad_arguments(argv: list[str], expect: str) -> None:
    """Verifies that a wrong argument is exit 2 with one line naming the problem."""
    code, _out, err = run(argv)
    assert_one_line_error(code, err, expect)


# --- design files --------------------------------------------------------------------------

DESIGN_FILES: list[tuple[str, str, str]] = [
    ("syntax", "DESIGN = (\n", "syntax error line 1"),
    ("indent", "x = 1\n  y = 2\n", "syntax error line 2"),
    ("raises", "x = 1\nraise ValueError('bad\\nthing')\n", "line 2 raised ValueError: bad thing"),
    ("exit0", "import sys\nsys.exit(0)\n", "called exit(0)"),
    ("exit1", "import sys\nsys.exit(1)\n", "called exit(1)"),
    ("exit-msg", "raise SystemExit('bye')\n", "called exit('bye')"),
    ("interrupt", "raise KeyboardInterrupt\n", "interrupted while loading"),
    ("os-error", "open('/nonexistent/x')\n", "raised FileNotFoundError"),
    ("import-error", "import no_such_module_here\n", "raised ModuleNotFoundError"),
    ("recursion", "def f():\n    return f()\nf()\n", "raised RecursionError"),
    ("prints", "print('hello')\n" + UPSTREAM + "raise RuntimeError('x')\n", "it printed: hello"),
    ("no-design", "x = 1\n", "does not define DESIGN"),
    ("design-str", "DESIGN = 'upstream'\n", "DESIGN is a str"),
    ("design-none", "DESIGN = None\n", "does not define DESIGN"),
    ("design-dict", "DESIGN = {'name': 'x'}\n", "DESIGN is a dict"),
    ("flag-int", REPLACE + "DESIGN = replace(PROFILES['upstream'], name='x', "
                           "check_session_kind=1)\n", "check_session_kind must be bool"),
    ("name-int", REPLACE + "DESIGN = replace(PROFILES['upstream'], name=3)\n",
     "DESIGN.name must be str"),
    ("bad-field", REPLACE + "DESIGN = replace(PROFILES['upstream'], nope=True)\n",
     "raised TypeError"),
    ("steps-list", UPSTREAM + "STEPS = []\n", "STEPS must be a dict"),
    ("steps-int-key", UPSTREAM + "STEPS = {1: print}\n", "must map a step name"),
    ("steps-value", UPSTREAM + "STEPS = {'model.do_finish': 3}\n", "must map a step name"),
    ("steps-unknown", UPSTREAM + "STEPS = {'model.nope': lambda self: 0}\n",
     "has no method 'nope'"),
    ("steps-private", UPSTREAM + "STEPS = {'model._session': lambda self, a, b: 0}\n",
     "is private"),
    ("steps-dunder", UPSTREAM + "STEPS = {'model.__init__': lambda self: 0}\n", "private"),
    ("steps-prefix", UPSTREAM + "STEPS = {'nope.x': lambda self: 0}\n",
     "expected one of model.*"),
    ("steps-ref", UPSTREAM + "STEPS = {'reference.kernel.nope': lambda self: 0}\n",
     "has no method 'nope'"),
    ("steps-memfd", UPSTREAM + "STEPS = {'reference.memfd.nope': lambda self: 0}\n",
     "has no method 'nope'"),
    ("steps-arity", UPSTREAM + "STEPS = {'model.do_finish': lambda self: 0}\n",
     "cannot replace do_finish"),
    ("steps-arity2", UPSTREAM + "STEPS = {'model.memfd_luo_unpreserve': "
                                "lambda self, f, g: None}\n", "cannot replace"),
    ("steps-kwnames", UPSTREAM + "def f(self, a, b, c):\n    return 0\n"
                                 "STEPS = {'model.do_finish': f}\n", "cannot replace"),
]


@pytest.mark.parametrize(("name", "body", "expect"), DESIGN_FILES,
                         ids=[n for n, _b, _e in DESIGN_FILES])
def test_bad_design_files(tmp_path: Path, name: str, body: str, expect: str) -> None:
    """Verifies that a design file that cannot be used is exit 2 with one line naming the
    file, never a traceback, never exit 0 or 1, and that nothing it prints reaches
    stdout."""
    path = tmp_path / f"{name}.py"
    path.write_text(body)
    code, out, err = run(["check", "--design", str(path), "--bounds", "tiny", "--json"])
    assert_one_line_error(code, err, expect)
    assert str(path) in err and out == ""


RUNTIME_STEPS: list[tuple[str, str, str]] = [
    ("returns-none", "def f(self, list, session, fault):\n    return None\n"
                     "STEPS = {'model.do_finish': f}\n", "returned None"),
    ("returns-str", "def f(self, list, session, fault):\n    return 'ok'\n"
                    "STEPS = {'model.do_finish': f}\n", "returned 'ok'"),
    ("raises", "def f(self, f):\n    raise RuntimeError('boom')\n"
               "STEPS = {'model.memfd_luo_unpreserve': f}\n", "raised RuntimeError: boom"),
    ("exits", "import sys\ndef f(self, f):\n    sys.exit(0)\n"
              "STEPS = {'model.memfd_luo_unpreserve': f}\n", "raised SystemExit"),
    ("genexit", "def f(self, f):\n    raise GeneratorExit('g')\n"
                "STEPS = {'model.memfd_luo_unpreserve': f}\n", "raised GeneratorExit"),
    ("returns-true", "def f(self, list, session, fault):\n    return True\n"
                     "STEPS = {'model.do_finish': f}\n", "returned True"),
    ("returns-huge", "def f(self, list, session, fault):\n    return 10**30\n"
                     "STEPS = {'model.do_finish': f}\n", "-4095..4095"),
    ("helper-none", "def f(self, s, m, fault):\n    return None\n"
                    "STEPS = {'model.memfd_luo_preserve': f}\n", "returns an int"),
    ("multi-line", "def f(self, f):\n    raise RuntimeError('one\\ntwo')\n"
                   "STEPS = {'model.memfd_luo_unpreserve': f}\n", "one two"),
    ("asserts", "def f(self, m):\n    assert False, 'no'\n"
                "STEPS = {'model.managed': f}\n", "raised AssertionError: no"),
    # the reference runs only to replay a counterexample: this model step makes one
    ("ref-raises", "def m(self, f):\n    self.kho_unpreserve(f.ser)\n    self.free_page(f.ser)\n"
                   "def r(self, args):\n    raise KeyError('k')\n"
                   "STEPS = {'model.memfd_luo_unpreserve': m, 'reference.memfd.unpreserve': r}\n",
     "raised KeyError"),
]


@pytest.mark.parametrize(("name", "body", "expect"), RUNTIME_STEPS,
                         ids=[n for n, _b, _e in RUNTIME_STEPS])
def test_replaced_steps_that_fail_while_running(tmp_path: Path, name: str, body: str,
                                                expect: str) -> None:
    """Verifies that a variant's replaced step failing during the search is the user's
    input error naming the step, not a violation (1) or a pass (0)."""
    path = tmp_path / f"{name}.py"
    path.write_text(UPSTREAM + body)
    code, _out, err = run(["check", "--design", str(path), "--bounds", "tiny", "--replay"])
    assert_one_line_error(code, err, expect)
    assert "STEPS[" in err


def test_a_step_that_prints_keeps_json_intact(tmp_path: Path) -> None:
    """Verifies that what a replaced step prints goes to stderr: --json stays one JSON
    object on stdout."""
    path = tmp_path / "chatty.py"
    path.write_text(UPSTREAM + "def f(self, f):\n    print('hello from the step')\n"
                    "    self.kho_unpreserve(f.ser)\n    self.free_page(f.ser)\n"
                    "STEPS = {'model.memfd_luo_unpreserve': f}\n")
    code, out, err = run(["check", "--design", str(path), "--bounds", "tiny", "--json"])
    assert code == 1 and json.loads(out)["verdict"] == "fail"
    assert "hello from the step" in err


def test_replay_under_another_design_diverges(tmp_path: Path) -> None:
    """Verifies that a valid trace replayed under a design that no longer offers one of
    its calls stops as a divergence (4), not as bad input (2)."""
    code, _out, _err = run(["check", "--design", "v6.19", "--bounds", "tiny",
                            "--trace-dir", str(tmp_path)])
    assert code == 1
    codes = {run(["replay", "--design", "upstream", str(t)])[0]
             for t in sorted(tmp_path.glob("*.itf.json"))}
    assert codes == {4}


def test_vacuity_alone_is_a_coverage_gap() -> None:
    """Verifies that a vacuity guard never reached (no kexec at these bounds) is the
    coverage-gap code 5, not a violation (1)."""
    code, out, _err = run(["check", "--bounds", "tiny", "--kexecs", "0"])
    assert code == 5 and "sometimes" in out


@pytest.mark.parametrize("how", ["pipe", "full", "closed"])
def test_output_that_cannot_be_written(how: str) -> None:
    """Verifies that a report that cannot be written (the reader closed the pipe, a full
    device, stdout closed) is exit 74 with one line, never a pass or a traceback."""
    cmd = [sys.executable, "-m", "luoverify.checks.cli", "check", "--bounds", "tiny",
           "--design", "v6.19"]
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    if how == "pipe":
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                env=env, cwd=ROOT)
        assert proc.stdout is not None and proc.stderr is not None
        proc.stdout.close()  # as `| head -0` does
        err = proc.stderr.read().decode()
        code = proc.wait()
    else:
        stdout: Any = open("/dev/full", "w") if how == "full" else subprocess.DEVNULL  # noqa: SIM115
        res = subprocess.run(cmd, stdout=stdout, stderr=subprocess.PIPE, text=True,
                             env=env, cwd=ROOT, check=False, close_fds=True,
                             preexec_fn=(lambda: os.close(1)) if how == "closed" else None)
        code, err = res.returncode, res.stderr
        if how == "full":
            stdout.close()
    assert_one_line_error(code, err, "standard output", want=74)


def test_odd_files_as_designs(tmp_path: Path) -> None:
    """Verifies that a directory, a FIFO, a device and a missing file given as a design
    are refused without being opened (a FIFO would block), exit 2, one line."""
    fifo = tmp_path / "fifo.py"
    os.mkfifo(fifo)
    big = tmp_path / "big.py"
    with big.open("wb") as fh:
        fh.truncate(2 << 20)
    cases = [(str(tmp_path), "not a regular file"), (str(fifo), "not a regular file"),
             ("/dev/zero", "not a regular file"), ("/dev/null", "not a regular file"),
             (str(tmp_path / "missing.py"), "does not exist"), (str(big), "larger than")]
    for spec, expect in cases:
        code, _out, err = run(["check", "--design", spec, "--bounds", "tiny"])
        assert_one_line_error(code, err, expect)


SNIPPETS = [
    UPSTREAM, REPLACE, "DESIGN = 3\n", "import sys\nsys.exit(0)\n", "print('x')\n",
    "raise ValueError('v')\n", "STEPS = {}\n", "STEPS = {'model.do_finish': print}\n",
    "STEPS = {'model.nope': len}\n", "STEPS = None\n", "DESIGN = PROFILES['v6.19']\n",
    "DESIGN = replace(PROFILES['upstream'], name='v')\n", "def (\n", "x = [\n", "\0",
    "import os\n", "raise KeyboardInterrupt\n", "DESIGN = replace(DESIGN, name=1)\n",
]


@settings(max_examples=150, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.one_of(
    st.lists(st.sampled_from(SNIPPETS), max_size=5).map("".join),
    st.text(max_size=200),
    st.binary(max_size=100).map(lambda b: b.decode("latin-1"))))
def test_random_design_bodies_never_crash_the_loader(tmp_path: Path, body: str) -> None:
    """Verifies that whatever a design file holds, loading it gives a Design or a
    one-line DesignError, never another exception and never output on stdout."""
    path = tmp_path / "random_design.py"
    path.write_text(body, encoding="utf-8", errors="surrogateescape")
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        try:
            design = load_design(str(path))
        except DesignError as exc:
            assert "\n" not in str(exc) and str(path) in str(exc)
        else:
            assert isinstance(design, Design)
    assert out.getvalue() == ""


# --- the tool's own failures and interrupts ------------------------------------------------

def test_internal_error_is_not_a_verdict(monkeypatch: pytest.MonkeyPatch) -> None:
    """Verifies that a bug of the tool exits 70 with one line naming the saved
    traceback, never 0 or 1."""
    def broken(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(cli, "run_check", broken)
    code, out, err = run(["check", "--bounds", "tiny"])
    assert_one_line_error(code, err, "internal error (RuntimeError: a bug)", want=70)
    saved = Path(err.strip().rsplit(" ", 1)[-1])
    try:
        assert "Traceback" in saved.read_text() and "a bug" in saved.read_text()
    finally:
        saved.unlink()
    assert out == ""


@pytest.mark.parametrize("engine", ["generic", "compiled"])
def test_sigint_gives_the_partial_result(engine: str) -> None:
    """Verifies that Ctrl-C during ``check`` exits 130 with one line on stderr and the
    partial result as JSON (inconclusive, the states explored so far), on both engines
    (the compiled one is built first: Ctrl-C while gcc runs has no partial result)."""
    cmd = [sys.executable, "-m", "luoverify.checks.cli", "check", "--bounds", "ci", "--json",
           "--no-progress", "--engine", engine]
    if engine == "compiled":
        from luoverify.checks.engine import compiler

        if compiler() is None:
            pytest.skip("no C compiler")
        cmd.append("--no-symmetry")  # minutes: long enough to interrupt
        subprocess.run([*cmd, "--max-states", "1"], capture_output=True, check=False,
                       cwd=ROOT)
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=ROOT)
    time.sleep(4)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, (proc.returncode, err)
    doc = json.loads(out)
    assert doc["verdict"] == "inconclusive" and not doc["complete"]
    assert doc["states"] > 0 and "interrupted" in doc["limit"]
    assert "Traceback" not in err and len(err.strip().splitlines()) <= 1
