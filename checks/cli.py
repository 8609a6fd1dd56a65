"""``luo-verify``: the command line.

Exit codes (checks/exits.py, README.md "Exit codes"): 0 every property holds; 1 a property
is violated (diff: the designs differ); 2 the user's input is wrong (one line on stderr);
3 inconclusive (a state, time or Z3 resource limit); 4 replay diverged from the model;
5 coverage gap (an expected outcome never fired); 70 internal error of the tool (one line,
the traceback saved to a file); 130 interrupted (check and mutants print the partial
result first).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import fields
from pathlib import Path
from typing import Any, Literal, TypeAlias, get_args, get_origin, get_type_hints

from junitparser import JUnitXml

from luoverify.checks import baseline, junit, steps
from luoverify.checks.designs import load_design
from luoverify.checks.exits import (
    EXIT_COVERAGE,
    EXIT_DIVERGED,
    EXIT_FAIL,
    EXIT_INCONCLUSIVE,
    EXIT_INTERNAL,
    EXIT_INTERRUPTED,
    EXIT_OUTPUT,
    EXIT_PASS,
    EXIT_USAGE,
    MEANINGS,
    tool_version,
)
from luoverify.checks.header import header
from luoverify.checks.run import ENGINES, EngineError, run_check, search_symmetry
from luoverify.checks.traces import SUITE_TRACE
from luoverify.model.bounds import DEFAULT_BOUNDS, NAMED_BOUNDS, Bounds
from luoverify.model.design import DEFAULT_DESIGN, PROFILES, STEP_CALLS, Design, DesignError
from luoverify.specs.properties import BY_NAME, select

#: help text of each bound override option ``--<field>``, by field of :class:`Bounds`
BOUND_HELP: dict[str, str] = {
    "sessions": "outgoing sessions at once",
    "files": "files per session",
    "memfds": "memfds at once",
    "pages": "physical pages",
    "folios": "folios per memfd",
    "kexecs": "live-update reboots",
    "faults": "injected faults",
    "scratch": "pages inside the KHO scratch region",
    "others": "pages other kernel users may hold at once",
    "reboot": "reboot() as one step or session by session",
}

#: what runs one subcommand: parsed arguments -> exit code
_Command: TypeAlias = Callable[[argparse.Namespace], int]
_Subparsers: TypeAlias = "argparse._SubParsersAction[_Parser]"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        """A usage error: one line on stderr, exit 2 (argparse would print the usage
        too)."""
        print(f"luo-verify: error: {message} (see {self.prog} --help)", file=sys.stderr)
        sys.exit(EXIT_USAGE)


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="luo-verify",
        description="Model checking of Linux LUO / KHO page ownership across "
                    "preserve, close, freeze, kexec and finish.",
        epilog="exit codes: " + "; ".join(f"{code} {what}" for code, what in MEANINGS.items())
        + ". With --baseline: 1 a regression against the baseline, 0 none; 2 also a "
          "baseline that cannot be compared (another design family, bounds or search).",
    )
    parser.add_argument("--version", action=_Version, nargs=0,
                        help="print the versions of luo-verify, z3-solver and Python")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for add in (_check_parser, _prove_parser, _replay_parser, _traces_parser,
                _mutants_parser, _diff_parser, _steps_parser):
        add(sub)
    return parser


class _Version(argparse.Action):
    """``--version``: unlike argparse's own, a failed write is not swallowed (it raises
    OSError, which :func:`main` turns into exit 74)."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: Any, option_string: str | None = None) -> None:
        from importlib.metadata import version

        sys.stdout.write(f"luo-verify {tool_version()} (z3-solver {version('z3-solver')}, "
                         f"python {sys.version.split()[0]})\n")
        sys.stdout.flush()
        parser.exit()


def _add_bounds(parser: argparse.ArgumentParser, helptext: str | None = None) -> None:
    parser.add_argument("--bounds", default=DEFAULT_BOUNDS, choices=sorted(NAMED_BOUNDS),
                        help=helptext)


def _add_bound_overrides(parser: argparse.ArgumentParser) -> None:
    """One ``--<field>`` option per field of :class:`Bounds`, in field order.

    An ``int`` field takes ``N``; a ``Literal`` field takes one of its values. The default
    is ``None`` (keep the named bound). Raises ``KeyError`` when a field has no entry in
    :data:`BOUND_HELP` and ``TypeError`` when its type is neither ``int`` nor a ``Literal``.
    """
    hints = get_type_hints(Bounds)
    for f in fields(Bounds):
        helptext = f"override: {BOUND_HELP[f.name]}"
        hint = hints[f.name]
        if hint is int:
            parser.add_argument(f"--{f.name}", type=int, metavar="N", help=helptext)
        elif get_origin(hint) is Literal:
            parser.add_argument(f"--{f.name}", choices=get_args(hint), help=helptext)
        else:
            raise TypeError(f"no command-line option for bound {f.name}: {hint!r}")


def _path(text: str) -> Path:
    """An argument that names a file: not empty (``Path("")`` would be the folder ``.``)."""
    if not text:
        raise argparse.ArgumentTypeError("an empty path")
    return Path(text)


def _add_junit(parser: argparse.ArgumentParser, cases: str) -> None:
    parser.add_argument("--junit", type=_path, metavar="FILE",
                        help=f"also write the result as JUnit XML to FILE: {cases} (exit "
                             "74 when FILE cannot be written)")


def _add_baseline(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument("--baseline", type=_path, metavar="REPORT.json",
                        help=f"compare with an earlier report ({what}): exit 1 only on a "
                             "regression, 0 otherwise; each regression and improvement is "
                             "one line on stderr")


def _junit_error(path: Path | None) -> str | None:
    """Whether --junit FILE can be written, before a long run: the error line, or None."""
    if path is None:
        return None
    if path.exists() and not path.is_file():
        return f"--junit: {path} exists and is not a regular file"
    existed = path.exists()
    try:
        with path.open("ab"):
            pass
    except OSError as exc:
        return f"--junit: cannot write {path}: {exc.strerror}"
    if not existed:
        path.unlink()
    return None


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:  # one does not exist (yet)
        return a.resolve() == b.resolve()


def _junit_clash(args: argparse.Namespace) -> str | None:
    """--junit FILE naming the --baseline file or standard output (where the report goes):
    the error line (exit 2), or None."""
    path: Path | None = getattr(args, "junit", None)
    if path is None:
        return None
    base: Path | None = getattr(args, "baseline", None)
    if base is not None and _same_file(path, base):
        return f"--junit {path} is the --baseline file: it would be overwritten"
    try:
        out, target = os.fstat(sys.stdout.fileno()), os.stat(path)
    except (OSError, ValueError, AttributeError):  # no such file yet, or no real stdout
        return None
    if (out.st_dev, out.st_ino) == (target.st_dev, target.st_ino):
        return (f"--junit {path} is standard output, where the report goes: "
                "give the JUnit file a path of its own")
    return None


def _write_junit(path: Path | None, make: Callable[[], JUnitXml]) -> None:
    """Write the JUnit document ``make()`` builds to ``path`` (when given)."""
    if path is not None:
        junit.write(path, make())


def _load_baseline(path: Path | None, current: dict[str, Any]) -> dict[str, Any] | None:
    """The --baseline report, checked against this run's header (``current``); raises
    BaselineError (exit 2) when it cannot be used."""
    if path is None:
        return None
    doc = baseline.load(path, current["report"])
    why = baseline.incompatible(doc, current)
    if why is not None:
        raise baseline.BaselineError(why)
    return doc


def _judge_baseline(path: Path, base: dict[str, Any], doc: dict[str, Any]
                    ) -> baseline.Comparison:
    """Compare ``doc`` (this run's report) with the baseline; add the ``baseline`` section
    to ``doc``; return the comparison."""
    cmp = baseline.compare(base, doc)
    doc["baseline"] = cmp.to_json(str(path))
    return cmp


def _baseline_exit(code: int, path: Path, cmp: baseline.Comparison) -> int:
    """Print the comparison (stderr, one line each); the exit code with a baseline: the
    run's own code when it is not a verdict (4, 70, 74, 130), else 1 on a regression and
    0 without one."""
    n = len(cmp.regressions)
    print(f"luo-verify: baseline {path}: {n} regression{'' if n == 1 else 's'}, "
          f"{len(cmp.improvements)} improvement{'' if len(cmp.improvements) == 1 else 's'}",
          file=sys.stderr)
    for line in cmp.regressions:
        print(f"luo-verify: regression: {line}", file=sys.stderr)
    for line in cmp.improvements:
        print(f"luo-verify: improved: {line}", file=sys.stderr)
    for line in cmp.notes:
        print(f"luo-verify: note: {line}", file=sys.stderr)
    if code in (EXIT_DIVERGED, EXIT_INTERNAL, EXIT_OUTPUT, EXIT_INTERRUPTED, EXIT_USAGE):
        return code
    return EXIT_FAIL if cmp.regressions else EXIT_PASS


def _check_parser(sub: _Subparsers) -> None:
    check = sub.add_parser(
        "check", help="explore every reachable state of a design at a bound",
        description="Exhaustive breadth-first search: every counterexample is a shortest "
                    "one. Exit 0 all hold, 1 violated, 2 bad input, 3 inconclusive, 4 a "
                    "counterexample did not replay (--replay), 5 coverage gap, 130 "
                    "interrupted (the partial result is printed).")
    check.set_defaults(func=_check)
    check.add_argument("--design", default=DEFAULT_DESIGN, metavar="NAME|FILE",
                       help=f"profile ({', '.join(PROFILES)}), mutant:ID, or a .py file "
                            f"defining DESIGN (default {DEFAULT_DESIGN})")
    _add_bounds(check, f"named bounds (default {DEFAULT_BOUNDS})")
    _add_bound_overrides(check)
    check.add_argument("--property", action="append", metavar="NAME", dest="props",
                       help="check only this property (repeatable); known: "
                            + ", ".join(BY_NAME))
    check.add_argument("--no-symmetry", action="store_true",
                       help="explore without symmetry reduction")
    check.add_argument("--continue", action="store_true", dest="go_on",
                       help="keep expanding states past a violation (default: a state "
                            "reached by a violation is recorded but not expanded, as TLC "
                            "and SPIN stop at an error)")
    check.add_argument("--engine", choices=ENGINES, default="auto",
                       help="compiled: the search in C generated from the relational "
                            "encoding (compiled once per design and bounds, then cached); "
                            "generic: the reference explorer; auto (default): compiled "
                            "where the encoding covers the design, else generic, and the "
                            "report says why")
    check.add_argument("--threads", type=int, metavar="N",
                       help="threads of the compiled engine, 1-8 (default: the CPUs this "
                            "process may use, at most 8); the result does not depend on it")
    check.add_argument("--max-states", type=int, metavar="N",
                       help="stop after N states (verdict inconclusive, exit 3)")
    check.add_argument("--max-seconds", type=float, metavar="S",
                       help="stop after S seconds (verdict inconclusive, exit 3)")
    check.add_argument("--json", action="store_true",
                       help="print one JSON object on stdout instead of the text report")
    check.add_argument("--trace-dir", type=Path, metavar="DIR",
                       help="write each counterexample as an ITF trace file in DIR")
    check.add_argument("--graph", type=Path, metavar="FILE",
                       help="write the explored state graph: .graphml (GraphML) or "
                            ".dot / .gv (DOT)")
    check.add_argument("--no-progress", action="store_true",
                       help="no progress line on stderr (it is shown only on a terminal)")
    check.add_argument("--replay", action="store_true",
                       help="replay every counterexample on the reference implementation "
                            "before reporting it (exit 4 if one does not reproduce)")
    _add_junit(check, "one test case per property, and one for coverage")
    _add_baseline(check, "a check --json report of the same design family and bounds")


def _prove_parser(sub: _Subparsers) -> None:
    pv = sub.add_parser(
        "prove", help="Z3: unbounded inductive proofs and bounded model checking",
        description="Prove every state property of the catalogue (with the auxiliary "
                    "invariants) inductive for any number of sessions, files, memfds, "
                    "pages and kexec cycles, one obligation per (action, property); a "
                    "failed obligation gets a counterexample to induction, upgraded to a "
                    "reachable counterexample when the exhaustive checker reaches one. "
                    "--bmc K adds bounded model checking to depth K at --bounds. Exit 0 "
                    "all proved, 1 a property violated, 2 bad input, 3 inconclusive (Z3 "
                    "reached its resource limit or answered unknown, or a CTI that is not "
                    "reachable).")
    pv.set_defaults(func=_prove)
    pv.add_argument("--design", default=DEFAULT_DESIGN, metavar="NAME|FILE",
                    help=f"profile, mutant:ID or design file (default {DEFAULT_DESIGN})")
    _add_bounds(pv, "bounds for BMC and for searching CTIs and their upgrades "
                    f"(default {DEFAULT_BOUNDS})")
    pv.add_argument("--bmc", type=int, default=0, metavar="K",
                    help="also run bounded model checking to depth K (default 0: off; "
                         "7 reaches every v6.19 counterexample at ci)")
    pv.add_argument("--bmc-only", action="store_true",
                    help="skip the inductive proof (a quick verdict on a broken design; "
                         "without a violation the verdict is then inconclusive)")
    pv.add_argument("--trace-dir", type=Path, metavar="DIR",
                    help="write BMC counterexamples and upgraded CTIs as ITF traces")
    pv.add_argument("--obligations", action="store_true",
                    help="list every obligation with its time (the table groups them by "
                         "action)")
    pv.add_argument("--json", action="store_true", help="print one JSON object")
    _add_junit(pv, "one test case per obligation and per BMC property")


def _replay_parser(sub: _Subparsers) -> None:
    rep = sub.add_parser(
        "replay", help="drive the reference implementation through a trace",
        description="Replay an ITF trace (from check --trace-dir, or hand-written: actions, "
                    "arguments, expected return codes) on the kernel-shaped reference "
                    "implementation, comparing with the model at every step. Exit 0 "
                    "faithful, 1 faithful and a property is violated on the concrete "
                    "pages, 2 bad input, 4 diverged.")
    rep.set_defaults(func=_replay)
    rep.add_argument("trace", type=Path, metavar="TRACE", help="an ITF JSON trace file")
    rep.add_argument("--design", metavar="NAME|FILE",
                     help="profile, mutant:ID or design file (default: the profile or "
                          "mutant the trace's #meta.design names, else "
                          f"{DEFAULT_DESIGN}); a design other than the one that recorded the "
                          "trace compares return codes only, not recorded states")
    rep.add_argument("--json", action="store_true", help="print one JSON object")
    _add_junit(rep, "one test case: the trace")


def _traces_parser(sub: _Subparsers) -> None:
    tr = sub.add_parser(
        "traces", help="write a regression suite of shortest traces covering the model",
        description="Explore a design at a bound and write a small set of shortest ITF "
                    "traces that together cover every transition class (action kind, "
                    "session side, return value, stage) of the bounded state graph, with "
                    "a manifest; every trace is replayed on the reference. Exit 0 when "
                    "coverage is 100 % and every trace replays, 4 when one diverges, 5 when "
                    "some class is not covered.")
    tr.set_defaults(func=_traces)
    tr.add_argument("--out", type=Path, required=True, metavar="DIR",
                    help="directory for the traces and manifest.json: new or empty, "
                         "unless --force")
    tr.add_argument("--force", action="store_true",
                    help="write into a non-empty --out, replacing the files an earlier "
                         "run wrote there (NNN.itf.json, manifest.json) and no others")
    tr.add_argument("--design", default=DEFAULT_DESIGN, metavar="NAME|FILE",
                    help=f"profile, mutant:ID or design file (default {DEFAULT_DESIGN})")
    _add_bounds(tr)
    tr.add_argument("--json", action="store_true", help="print the manifest as JSON")
    _add_junit(tr, "one test case per trace, and one for coverage")


def _mutants_parser(sub: _Subparsers) -> None:
    mu = sub.add_parser(
        "mutants", help="run every mutant of the catalogue against every checker",
        description="Each real LUO/KHO defect the model can express, injected alone on top "
                    "of upstream, against the exhaustive search (with replay of its "
                    "counterexample on the reference), Z3 bounded model checking and "
                    "differential random walks. Exit 0 when every mutant is caught by the "
                    "exhaustive search, 1 when one survives, 3 when a BMC cell reached Z3's "
                    "resource limit, 70 when BMC and the search disagree (a tool bug), 130 "
                    "interrupted (the rows finished are printed).")
    mu.set_defaults(func=_mutants)
    _add_bounds(mu)
    mu.add_argument("--only", action="append", metavar="ID",
                    help="run only this mutant (repeatable), e.g. LUO-M3")
    mu.add_argument("--walks", type=int, default=100, metavar="N",
                    help="differential random walks per mutant (0: skip; default 100)")
    mu.add_argument("--steps", type=int, default=60, metavar="N",
                    help="kernel calls per walk (default 60)")
    mu.add_argument("--bmc-depth", type=int, default=8, metavar="K",
                    help="Z3 BMC of each mutant's expected property up to K steps (0: "
                         "skip the BMC column; default 8)")
    mu.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1), metavar="N",
                    help="mutants run in N worker processes (default: min(2, CPUs))")
    mu.add_argument("--json", action="store_true", help="print one JSON object")
    _add_junit(mu, "one test case per mutant")
    _add_baseline(mu, "a mutants --json report of the same bounds")


def _steps_parser(sub: _Subparsers) -> None:
    st = sub.add_parser(
        "steps", help="list the kernel steps a variant file may replace",
        description="The step vocabulary: each kernel step a variant's STEPS may replace, "
                    "with what it models, its model key and its reference counterpart and "
                    "their signatures. Replace both sides of a step. Exit 0.")
    st.set_defaults(func=_steps)


def _steps(args: argparse.Namespace) -> int:
    print(steps.render())
    return EXIT_PASS


def _load_design(spec: str) -> Design:
    """load_design, then one warning line per step replaced on one side only."""
    design = load_design(spec)
    for warning in steps.warnings(design):
        print(f"luo-verify: warning: {warning}", file=sys.stderr)
    return design


def _diff_parser(sub: _Subparsers) -> None:
    df = sub.add_parser(
        "diff", help="what changes in behaviour between two designs",
        description="Explore two designs at the same bounds; list the calls they answer "
                    "differently (each with its shortest trace) and the properties whose "
                    "verdict changes. Exit 0 when they behave the same, 1 when they differ.")
    df.set_defaults(func=_diff)
    df.add_argument("--design", action="append", required=True, metavar="NAME|FILE",
                    help="give exactly two, e.g. --design upstream --design v6.19")
    _add_bounds(df)
    df.add_argument("--json", action="store_true", help="print one JSON object")
    _add_junit(df, "one test case per difference and per verdict change")


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``luo-verify`` on ``argv`` (default ``sys.argv[1:]``); return its exit code.

    The exit codes are those of the module docstring. A usage error found by the parser
    prints the usage and exits with status 2 (``SystemExit``), as ``--help`` exits with 0.
    """
    try:
        args = _parser().parse_args(argv)
    except OSError as err:  # --version could not print
        return _output_error(f"cannot write to standard output: {err.strerror or err}")
    run: _Command = args.func
    if sys.stdout is None:  # started with stdout closed: the report would vanish
        return _output_error("standard output is closed")
    if (clash := _junit_clash(args)) is not None:
        return _fail(clash)
    try:
        code = run(args)
        sys.stdout.flush()  # a failed write is reported here, not at interpreter exit
        return code
    except DesignError as exc:  # a variant's replaced step failed while it ran
        return _fail(str(exc))
    except KeyboardInterrupt:
        print("luo-verify: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except OSError as exc:  # stdout closed by its reader, a full disk, an unwritable file
        if isinstance(exc, BrokenPipeError) or exc.filename is None:
            return _output_error(f"cannot write the report to standard output: "
                                 f"{exc.strerror or exc}")
        return _output_error(f"cannot write {exc.filename}: {exc.strerror or exc}")
    except SystemExit:
        raise
    except BaseException as exc:  # a bug of the tool: one line, the traceback in a file
        if _is_interrupt(exc):
            print("luo-verify: interrupted", file=sys.stderr)
            return EXIT_INTERRUPTED
        return _internal_error()


def _is_interrupt(exc: BaseException) -> bool:
    """Ctrl-C that arrived inside a ctypes call into Z3 (raised as ArgumentError)."""
    return type(exc).__name__ == "ArgumentError" and "KeyboardInterrupt" in str(exc)


def _output_error(message: str) -> int:
    """The report could not be written: exit 74 (EX_IOERR), one line."""
    if sys.stdout is not None:
        with contextlib.suppress(OSError, ValueError):
            _silence_stdout()
    print(f"luo-verify: error: {message}", file=sys.stderr)
    return EXIT_OUTPUT


def _silence_stdout() -> None:
    """After EPIPE, point stdout at /dev/null so the interpreter's final flush is quiet."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


def _internal_error() -> int:
    """Save the current exception's traceback to a file; say where, in one line."""
    import tempfile
    import traceback

    fd, path = tempfile.mkstemp(prefix="luo-verify-crash-", suffix=".txt")
    with os.fdopen(fd, "w") as out:
        out.write(f"luo-verify {' '.join(sys.argv[1:])}\n\n")
        out.write(traceback.format_exc())
    err = " ".join(str(sys.exc_info()[1]).split())[:200]
    print(f"luo-verify: internal error ({type(sys.exc_info()[1]).__name__}: {err}); please "
          f"report it with the traceback saved in {path}", file=sys.stderr)
    return EXIT_INTERNAL


def _mutant_bounds_note(spec: str, bounds: Bounds) -> None:
    """A note on stderr when ``spec`` is a mutant whose catalogue bounds (what
    ``luo-verify mutants`` runs it at) these bounds do not meet: its defect may be out
    of reach, and a pass then says nothing about it."""
    from luoverify.specs.defects import BY_ID, resolve

    mid = resolve(spec.removeprefix("mutant:")) if spec.startswith("mutant:") else None
    mutant = BY_ID[mid] if mid is not None else None
    if mutant is None or not mutant.bounds:
        return
    need = {k: v for k, v in mutant.bounds.items() if getattr(bounds, k) != v}
    if need:
        want = " ".join(f"--{k} {v}" for k, v in need.items())
        have = " ".join(f"{k}={getattr(bounds, k)}" for k in need)
        print(f"luo-verify: note: {spec} is observable only at its catalogue bounds "
              f"({want}; `luo-verify mutants` uses them); these bounds have {have}",
              file=sys.stderr)


def _fail(message: str) -> int:
    """The user's input is wrong: one line (the message flattened), exit 2."""
    print(f"luo-verify: error: {' '.join(message.split())}", file=sys.stderr)
    return EXIT_USAGE


def _trace_dir_error(path: Path | None) -> str | None:
    """Create --trace-dir if needed; the error to report when it cannot be used."""
    if path is None:
        return None
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        return f"--trace-dir: cannot use {path}: {exc.strerror}"
    return None


def _check(args: argparse.Namespace) -> int:
    try:
        design = _load_design(args.design)
    except DesignError as exc:
        return _fail(str(exc))
    base = NAMED_BOUNDS[args.bounds]
    overrides = {f.name: getattr(args, f.name) for f in fields(Bounds)}
    try:
        bounds = base.with_overrides(**overrides)
        props = select(args.props)
    except ValueError as exc:
        return _fail(str(exc))
    bounds_name = args.bounds if bounds == base else f"{args.bounds}+overrides"
    _mutant_bounds_note(args.design, bounds)
    if args.max_states is not None and args.max_states < 1:
        return _fail("--max-states must be at least 1")
    if args.max_seconds is not None and not args.max_seconds > 0:
        return _fail("--max-seconds must be positive")
    if args.threads is not None and not 1 <= args.threads <= 8:
        return _fail("--threads must be 1 to 8")
    if (bad := _trace_dir_error(args.trace_dir)) is not None:
        return _fail(bad)
    if (bad := _junit_error(args.junit)) is not None:
        return _output_error(bad)
    try:
        base_doc = _load_baseline(args.baseline, {
            **header("check", design, bounds_name, bounds),
            "symmetry": search_symmetry(not args.no_symmetry, not args.go_on),
            "stop_at_violations": not args.go_on})
    except baseline.BaselineError as exc:
        return _fail(str(exc))
    if args.graph is not None:
        from luoverify.checks.graphs import GRAPH_FORMATS

        if args.graph.suffix not in GRAPH_FORMATS:
            return _fail(f"--graph: unknown format {args.graph.suffix or '(no suffix)'!r} "
                         f"of {args.graph}: expected {', '.join(GRAPH_FORMATS)}")
        if args.graph.exists() and not args.graph.is_file():
            return _fail(f"--graph: {args.graph} exists and is not a regular file")
        try:
            args.graph.touch()
        except OSError as exc:
            return _fail(f"--graph: cannot write {args.graph}: {exc.strerror}")
    progress = not args.no_progress and sys.stderr.isatty()
    STEP_CALLS.clear()
    try:
        report = run_check(design, bounds, props, bounds_name=bounds_name,
                           symmetry=not args.no_symmetry, max_states=args.max_states,
                           max_seconds=args.max_seconds,
                           progress=progress, keep_graph=args.graph is not None,
                           trace_dir=args.trace_dir, prune=not args.go_on,
                           replay=args.replay, engine=args.engine, threads=args.threads,
                           log=lambda line: print(f"luo-verify: {line}", file=sys.stderr))
    except EngineError as exc:
        return _fail(str(exc))
    if args.graph is not None:
        from luoverify.checks.graphs import write_graph

        r = report.result
        assert r.edges is not None
        write_graph(args.graph, report.model, r.keys, r.edges, r.actions)
    doc = report.to_json()
    cmp = None
    if base_doc is not None:
        cmp = _judge_baseline(args.baseline, base_doc, doc)
    if args.json:
        print(json.dumps(doc, indent=2))
    else:
        print(report.to_text())
    _write_junit(args.junit, lambda: junit.check_junit(report))
    for key, _fn in design.steps:  # a model step the search never reached
        if key.startswith("model.") and not STEP_CALLS[key] and report.result.complete:
            print(f"luo-verify: warning: STEPS[{key!r}] never ran in this check: the "
                  f"{design.base or 'design'} machine never calls it at these bounds",
                  file=sys.stderr)
    if args.replay:  # the one-sided steps again, beside the replay they weaken
        for warning in steps.warnings(design):
            print(f"luo-verify: warning: --replay: {warning}", file=sys.stderr)
    if report.result.interrupted:
        print(f"luo-verify: interrupted after {report.result.states:,} states; the "
              "report above is partial", file=sys.stderr)
    if cmp is not None:
        return _baseline_exit(report.exit_code, args.baseline, cmp)
    return report.exit_code


def _prove(args: argparse.Namespace) -> int:
    from luoverify.checks.prove import run_prove
    from luoverify.model.symbolic import unsupported

    try:
        design = _load_design(args.design)
    except DesignError as exc:
        return _fail(str(exc))
    bounds = NAMED_BOUNDS[args.bounds]
    _mutant_bounds_note(args.design, bounds)
    why = unsupported(design, bounds)
    if why:
        return _fail("cannot encode this run for Z3: " + "; ".join(why) +
                     " (luo-verify check explores it)")
    if not 0 <= args.bmc <= 30:
        return _fail("--bmc must be between 0 and 30")
    if args.bmc_only and args.bmc == 0:
        return _fail("--bmc-only needs --bmc K with K >= 1")
    if (bad := _trace_dir_error(args.trace_dir)) is not None:
        return _fail(bad)
    if (bad := _junit_error(args.junit)) is not None:
        return _output_error(bad)
    show = sys.stderr.isatty() and not args.json

    def progress(msg: str) -> None:
        if show:
            print(f"\r\033[K{msg[:100]}", end="", file=sys.stderr, flush=True)

    report = run_prove(design, bounds, bounds_name=args.bounds, bmc_depth=args.bmc,
                       trace_dir=args.trace_dir,
                       progress=progress, run_induction=not args.bmc_only)
    if show:
        print("\r\033[K", end="", file=sys.stderr)
    if args.json:
        print(json.dumps(report.to_json(), indent=2))
    else:
        print(report.to_text(every=args.obligations))
    _write_junit(args.junit, lambda: junit.prove_junit(report))
    return report.exit_code


def _diff(args: argparse.Namespace) -> int:
    from luoverify.checks.diff import diff_designs

    if len(args.design) != 2:
        return _fail("diff needs exactly two --design options")
    try:
        a, b = (_load_design(d) for d in args.design)
    except DesignError as exc:
        return _fail(str(exc))
    if a.name == b.name:
        return _fail(f"both designs are named {a.name!r}; give two different designs")
    if (bad := _junit_error(args.junit)) is not None:
        return _output_error(bad)
    report = diff_designs(a, b, NAMED_BOUNDS[args.bounds], args.bounds)
    print(json.dumps(report.to_json(), indent=2) if args.json else report.to_text())
    _write_junit(args.junit, lambda: junit.diff_junit(report))
    return EXIT_FAIL if report.verdicts or report.differences else EXIT_PASS


def _mutants(args: argparse.Namespace) -> int:
    from luoverify.checks.mutants import (
        MutantRow,
        bmc_agrees,
        mutants_json,
        run_mutants,
        to_text,
    )
    from luoverify.specs.defects import BY_ID, resolve

    for i, mid in enumerate(args.only or []):
        if resolve(mid) is None:
            return _fail(f"unknown mutant {mid!r}: expected one of {', '.join(BY_ID)}")
        args.only[i] = resolve(mid)  # an alias (MF3) runs the row it names (KHO-M11)
    if args.walks < 0 or args.steps < 1:
        return _fail("--walks must be >= 0 and --steps >= 1")
    if args.bmc_depth < 0 or args.jobs < 1:
        return _fail("--bmc-depth must be >= 0 and --jobs >= 1")
    if (bad := _junit_error(args.junit)) is not None:
        return _output_error(bad)
    try:
        base_doc = _load_baseline(args.baseline, header("mutants", None, args.bounds,
                                                        NAMED_BOUNDS[args.bounds]))
    except baseline.BaselineError as exc:
        return _fail(str(exc))
    from tqdm import tqdm

    n = len(args.only) if args.only else len(BY_ID)
    rows: list[MutantRow] = []
    interrupted = False
    with tqdm(total=n, desc="mutants", unit="mutant", file=sys.stderr, leave=False,
              disable=not sys.stderr.isatty() or args.json) as bar:
        def progress(row: MutantRow) -> None:
            rows.append(row)
            bar.set_postfix_str(f"{row.id} {'caught' if row.caught else 'SURVIVED'}")
            bar.update()

        try:
            run_mutants(args.bounds, walks=args.walks, steps=args.steps, only=args.only,
                        bmc_depth=args.bmc_depth, jobs=args.jobs, progress=progress)
        except KeyboardInterrupt:  # report the rows finished so far
            interrupted = True
    disagree = [r.id for r in rows if not bmc_agrees(r, args.bmc_depth)]
    limited = [r.id for r in rows if r.bmc == "inconclusive"]
    doc = mutants_json(rows, args.bounds, complete=not interrupted)
    cmp = None
    if base_doc is not None:
        cmp = _judge_baseline(args.baseline, base_doc, doc)
    if args.json:
        print(json.dumps(doc, indent=2))
    else:
        print(f"luo-verify mutants: {len(rows)} mutants, each one defect on top of "
              f"upstream (O1-O6: on top of legacy), bounds {args.bounds}")
        print(to_text(rows))
    _write_junit(args.junit, lambda: junit.mutants_junit(rows, doc))
    if interrupted:
        print(f"luo-verify: interrupted after {len(rows)} of {n} mutants", file=sys.stderr)
        return EXIT_INTERRUPTED
    if disagree:
        print(f"luo-verify: internal error: BMC and the exhaustive search disagree on "
              f"{', '.join(disagree)} (a tool bug: please report it)", file=sys.stderr)
        return EXIT_INTERNAL
    if cmp is None and not all(r.caught for r in rows):
        return EXIT_FAIL
    if limited:
        print(f"luo-verify mutants: BMC inconclusive for {', '.join(limited)} (Z3 reached "
              "its resource limit)", file=sys.stderr)
    if cmp is not None:  # with a baseline, only a regression fails the run
        return _baseline_exit(EXIT_PASS, args.baseline, cmp)
    return EXIT_INCONCLUSIVE if limited else EXIT_PASS


def _traces(args: argparse.Namespace) -> int:
    from luoverify.checks.traces import build_suite

    try:
        design = _load_design(args.design)
        args.out.mkdir(parents=True, exist_ok=True)
        present = sorted(args.out.iterdir())
    except DesignError as exc:
        return _fail(str(exc))
    except OSError as exc:
        return _fail(f"--out: cannot use {args.out}: {exc.strerror}")
    if (bad := _junit_error(args.junit)) is not None:
        return _output_error(bad)
    if present and not args.force:
        return _fail(f"--out: {args.out} is not empty ({len(present)} entries); give a new "
                     "or empty folder, or --force to replace the suite written there")
    ours = [p for p in present if p.name == "manifest.json" or SUITE_TRACE.fullmatch(p.name)]
    if any(p.is_dir() and not p.is_symlink() for p in ours):
        return _fail(f"--out: {args.out} holds a folder named like a suite file; remove it")
    import tempfile

    # the new suite is built aside: a failed run leaves the old one as it was
    with tempfile.TemporaryDirectory(dir=args.out, prefix=".luo-verify-") as tmp:
        suite = build_suite(design, NAMED_BOUNDS[args.bounds], Path(tmp),
                            bounds_name=args.bounds)
        for path in ours:  # a stale suite must not survive a regeneration
            path.unlink()
        for path in sorted(Path(tmp).iterdir()):
            path.replace(args.out / path.name)
    if args.json:
        print(json.dumps(suite.manifest(), indent=2))
    else:
        print(suite.to_text())
    _write_junit(args.junit, lambda: junit.traces_junit(suite))
    if not suite.replay_ok:
        return EXIT_DIVERGED
    return EXIT_PASS if suite.complete else EXIT_COVERAGE


def _replay(args: argparse.Namespace) -> int:
    from luoverify.checks.replay import TraceError, design_name_from_meta, load_trace, replay

    try:
        trace = load_trace(args.trace)
        # a trace is data: its #meta.design may name a profile or a mutant, never code
        name = args.design or design_name_from_meta(trace) or DEFAULT_DESIGN
        design = _load_design(name)
    except (TraceError, DesignError) as exc:
        return _fail(str(exc))
    same = trace.design is None or trace.design == design.name
    if (bad := _junit_error(args.junit)) is not None:
        return _output_error(bad)
    try:
        result = replay(trace, design, compare_vars=same)
    except TraceError as exc:
        return _fail(str(exc))
    if not same:
        result.notes.append(f"trace recorded under design {trace.design}; replayed under "
                            f"{design.name}: return codes compared, recorded states not")
    if args.json:
        print(json.dumps(result.to_json(), indent=2))
    else:
        print(result.to_text())
    _write_junit(args.junit, lambda: junit.replay_junit(result, args.trace))
    return result.exit_code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
