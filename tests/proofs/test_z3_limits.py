"""Verifies that a Z3 verdict cannot depend on machine load: every query is limited by
Z3's deterministic resource count (rlimit), the clock is only a safety net, and two runs
of ``prove`` give the same verdicts and the same resource counts."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import z3

from luoverify.checks import prove
from luoverify.checks.designs import load_design
from luoverify.model.bounds import NAMED_BOUNDS


def _enclosing_functions(tree: ast.AST) -> dict[ast.AST, str]:
    owner: dict[ast.AST, str] = {}
    for fn in ast.walk(tree):
        if isinstance(fn, ast.FunctionDef):
            for node in ast.walk(fn):
                owner.setdefault(node, fn.name)
    return owner


def test_solvers_are_made_in_one_place_with_an_rlimit() -> None:
    """Verifies that prove.py makes every solver in ``new_solver`` and sets a wall-clock
    timeout nowhere else, and that the safety cap is far above any rlimit'd query."""
    tree = ast.parse(Path(prove.__file__).read_text())
    owner = _enclosing_functions(tree)
    made, timed = [], []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            if node.func.attr == "Solver":
                made.append(owner.get(node))
            if (node.func.attr == "set" and node.args
                    and isinstance(node.args[0], ast.Constant)
                    and node.args[0].value == "timeout"):
                timed.append(owner.get(node))
    assert made == ["new_solver"] and timed == ["new_solver"], (made, timed)
    assert prove.WALL_CAP_SECONDS >= 600
    assert all(limit > 0 for limit in prove.RLIMITS.values())


def test_every_query_runs_under_its_rlimit(monkeypatch: pytest.MonkeyPatch) -> None:
    """Verifies at run time that each solver of a BMC run carries an rlimit, and that a
    query that exhausts it is reported as the resource limit, not as a timeout."""
    seen: list[dict[str, Any]] = []
    real = z3.Solver.set

    def record(self: z3.Solver, *args: Any, **kwargs: Any) -> None:
        seen.append(dict(zip(args[::2], args[1::2], strict=True)) | kwargs)
        real(self, *args, **kwargs)

    monkeypatch.setattr(z3.Solver, "set", record)
    res = prove.bmc(load_design("v6.19"), NAMED_BOUNDS["tiny"], 2)
    assert {"rlimit": prove.RLIMITS["bmc"]} in seen
    assert res.found and not res.unknown and res.usage.queries > 0
    monkeypatch.setitem(prove.RLIMITS, "bmc", 1)  # nothing can be decided in 1 unit
    starved = prove.bmc(load_design("v6.19"), NAMED_BOUNDS["tiny"], 2)
    assert starved.unknown and starved.usage.rlimit_reached > 0
    assert all("resource limit" in why for why in starved.unknown_why.values())
    assert starved.usage.wall_cap_reached == 0


def _prove(design: str, seed: str) -> dict[str, Any]:
    env = dict(os.environ, PYTHONHASHSEED=seed)
    res = subprocess.run([sys.executable, "-m", "luoverify.checks.cli", "prove", "--design",
                          design, "--json"], capture_output=True, text=True, env=env,
                         check=False)
    assert res.returncode in (0, 1), res.stderr
    doc: dict[str, Any] = json.loads(res.stdout)
    doc["exit"] = res.returncode
    return doc


@pytest.mark.parametrize("design", ["upstream", "mutant:LUO-M3"])
def test_two_runs_give_the_same_verdicts_and_counts(design: str) -> None:
    """Verifies that two runs of ``prove`` (fresh processes, different hash seeds) give
    the same verdict, the same per-obligation statuses and the same rlimit counts."""
    a, b = _prove(design, "1"), _prove(design, "2")
    assert a["exit"] == b["exit"] == (0 if design == "upstream" else 1)
    assert a["verdict"] == b["verdict"]
    assert a["properties"] == b["properties"]
    key = [(o["action"], o["property"], o["status"], o["rlimit"]) for o in a["obligations"]]
    assert key == [(o["action"], o["property"], o["status"], o["rlimit"])
                   for o in b["obligations"]]
    assert a["z3"] == b["z3"] and a["z3"]["wall_cap_reached"] == 0
