"""What every ``--json`` report of ``luo-verify`` says about itself.

Each report (``check``, ``prove``, ``mutants``, ``replay``, ``traces``, ``diff``) names
its kind (``report``), the tool that wrote it (``tool``: name, version, and the
z3-solver version), the design it is about (``design``, ``design_base``: the profile it
derives from, ``design_flags``, ``design_steps``: the steps a variant file replaces) and
the bounds (their name and every field of :class:`Bounds`). A CI job can then tell which
run a report came from, and ``--baseline`` (checks/baseline.py) can refuse to compare two
reports of different designs or bounds. Nothing here is timing: two runs write the same.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from typing import Any

from luoverify.checks.exits import tool_version
from luoverify.model.bounds import Bounds
from luoverify.model.design import Design

#: the kinds of JSON report, one per command (and one schema each: ``<kind>.schema.json``;
#: the check report's schema is ``report.schema.json``)
REPORT_KINDS = ("check", "prove", "mutants", "replay", "traces", "diff")


def z3_version() -> str:
    """The installed z3-solver version (read from the package metadata: no Z3 import)."""
    try:
        return version("z3-solver")
    except PackageNotFoundError:  # pragma: no cover - z3-solver is a core dependency
        return "unknown"


def tool_json() -> dict[str, str]:
    """``tool``: the name and version of luo-verify, and the z3-solver it runs with (not
    the Python version: the committed trace suite's manifest must not depend on it)."""
    return {"name": "luo-verify", "version": tool_version(), "z3": z3_version()}


def design_json(design: Design) -> dict[str, Any]:
    """``design`` (its name), ``design_base`` (the profile it derives from: its design
    family; its own name when it names none), ``design_flags`` and ``design_steps``."""
    return {"design": design.name, "design_base": design.base or design.name,
            "design_flags": design.flags(),
            "design_steps": [name for name, _fn in design.steps]}


def bounds_json(name: str, bounds: Bounds) -> dict[str, Any]:
    """``bounds``: the name it was given on the command line and every field."""
    return {"name": name, **bounds.as_dict()}


def header(kind: str, design: Design | None, bounds_name: str | None,
           bounds: Bounds | None) -> dict[str, Any]:
    """The leading fields of a report of ``kind`` (a value of :data:`REPORT_KINDS`)."""
    assert kind in REPORT_KINDS, kind
    out: dict[str, Any] = {"report": kind, "tool": tool_json()}
    if design is not None:
        out.update(design_json(design))
    if bounds is not None and bounds_name is not None:
        out["bounds"] = bounds_json(bounds_name, bounds)
    return out
