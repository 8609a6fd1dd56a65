"""Exit codes of ``luo-verify``: each means one thing (README.md, "Exit codes").

CI systems act on these; a crash of the tool is never read as a verdict, and a user's
mistake is never read as a violation.
"""

from __future__ import annotations

from typing import Final

#: every property holds (check, prove, mutants: every mutant caught; replay: faithful;
#: diff: the designs behave the same)
EXIT_PASS: Final = 0
#: a property is violated (diff: the designs differ; mutants: a mutant survives)
EXIT_FAIL: Final = 1
#: the user's input is wrong: arguments, a design file (including its code raising,
#: exiting or being interrupted while it loads or runs), a trace file; one line on stderr
EXIT_USAGE: Final = 2
#: inconclusive: a state, time or Z3 resource limit was reached before a verdict
EXIT_INCONCLUSIVE: Final = 3
#: replay: the reference implementation diverged from the model
EXIT_DIVERGED: Final = 4
#: coverage gap: every property holds but an expected outcome never fired (vacuity: a
#: failure, but not a violation)
EXIT_COVERAGE: Final = 5
#: the report could not be written: standard output closed by its reader (a broken pipe)
#: or full, or an output file (--graph, --trace-dir, --out) that cannot be written
EXIT_OUTPUT: Final = 74
#: an internal error of the tool (a bug, including a real disagreement between two of
#: its checkers): one line on stderr naming the file the traceback was saved to
EXIT_INTERNAL: Final = 70
#: interrupted (Ctrl-C / SIGINT): one line, and for check / mutants the partial result
EXIT_INTERRUPTED: Final = 130

def tool_version() -> str:
    """The installed luo-verify version (pyproject.toml), for --version and the reports."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("luo-verify")
    except PackageNotFoundError:  # running from a tree that was never installed
        return "unknown"


MEANINGS: Final = {
    EXIT_PASS: "every property holds",
    EXIT_FAIL: "a property is violated (diff: the designs differ)",
    EXIT_USAGE: "input error: arguments, design file or trace file",
    EXIT_INCONCLUSIVE: "inconclusive: a state, time or Z3 resource limit was reached",
    EXIT_DIVERGED: "replay: the reference implementation diverged from the model",
    EXIT_COVERAGE: "coverage gap: an expected outcome never fired",
    EXIT_OUTPUT: "the report or an output file could not be written",
    EXIT_INTERNAL: "internal error of luo-verify (traceback saved, path on stderr)",
    EXIT_INTERRUPTED: "interrupted",
}
