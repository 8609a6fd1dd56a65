"""Counterexample traces as ITF JSON (the Apalache / Quint trace format).

A trace file holds ``#meta`` (format, design, bounds, property, tool version), ``vars``
and ``states``; each state carries the model variables plus ``mbt::actionTaken`` (the
kernel call), ``mbt::nondetPicks`` (its arguments) and ``luo::ret`` (``"0"`` or
``"-EXXX"``). Files are written with sorted-free, fixed key order and no timestamps, so
the same run writes the same bytes.

Reading is checks/replay.py (``load_trace``), against the JSON Schema ``itf.schema.json``.
"""

# itf-py (PyPI, 0.5.0) was evaluated for reading and writing this format and is not used:
# it only maps an already-parsed document to Python values (namedtuples, frozendict) and
# back, reads no file and validates nothing (a hand-written trace without "vars" raises
# KeyError, "states": null TypeError, a key starting with "_" ValueError, deep nesting
# RecursionError; "luo::ret": null passes), so none of the hardening of the loader is
# there; and its writer encodes every integer as {"#bigint": ...}, which would change the
# bytes this module writes (the committed suite is compared byte for byte).

from __future__ import annotations

import json
from collections.abc import Hashable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from luoverify.checks.explore import Step
from luoverify.model.core import Model
from luoverify.model.errno import ret_name

S = TypeVar("S", bound=Hashable)
TOOL = "luo-verify 0.1.0"


def trace_document(
    model: Model[S], steps: Sequence[Step[S]], meta: Mapping[str, Any]
) -> dict[str, Any]:
    states: list[dict[str, Any]] = []
    var_names: list[str] = []
    for i, step in enumerate(steps):
        variables = dict(model.view(step.state))
        if not var_names:
            var_names = list(variables)
        entry: dict[str, Any] = {"#meta": {"index": i}}
        entry.update(variables)
        entry["mbt::actionTaken"] = "init" if step.action is None else step.action.name
        entry["mbt::nondetPicks"] = (
            {} if step.action is None
            else step.action.picks())
        entry["luo::ret"] = ret_name(step.ret)
        states.append(entry)
    return {
        "#meta": {"format": "ITF", "format-description":
                  "https://apalache-mc.org/docs/adr/015adr-trace.html", "tool": TOOL,
                  **meta},
        "vars": var_names,
        "states": states,
    }


def dumps(doc: Mapping[str, Any]) -> str:
    return json.dumps(doc, indent=1, ensure_ascii=True) + "\n"


def write_trace(path: Path, doc: Mapping[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(dumps(doc))


# --- on-screen rendering -----------------------------------------------------------------

def _flatten(value: Any, prefix: str, out: dict[str, Any]) -> None:
    """Leaves by path; a record inside a list is one leaf per field, keyed by index."""
    if isinstance(value, dict):
        for k, v in value.items():
            _flatten(v, f"{prefix}.{k}" if prefix else k, out)
    elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        for i, v in enumerate(value):
            out[f"{prefix}[{i}]"] = _Record(v)
            _flatten(v, f"{prefix}[{i}]", out)
    else:
        out[prefix] = value


class _Record:
    """Marks a list element that is a record, so a whole new or gone record prints once."""

    def __init__(self, value: dict[str, Any]) -> None:
        self.value = value

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Record)

    def __hash__(self) -> int:
        return 0


def _compact(value: Any) -> str:
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_compact(v)}" for k, v in value.items()
                               if v not in ([], -1, False) or k in ("alive",)) + "}"
    return _fmt(value)


def changes(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[str]:
    """Leaf-level differences between two views, as ``path: old -> new`` lines.

    A record that appears or disappears (a new session, a closed file) prints as one
    line with its non-empty fields.
    """
    lines: list[str] = []
    for key, how, old, new in _diff(before, after):
        if how == "removed":
            lines.append(f"{key}: removed {_compact(old)}")
        elif how == "added":
            lines.append(f"{key}: added {_compact(new)}")
        else:
            lines.append(f"{key}: {_fmt(old)} -> {_fmt(new)}")
    return lines


def change_records(before: Mapping[str, Any], after: Mapping[str, Any]
                   ) -> list[dict[str, Any]]:
    """The differences :func:`changes` prints, as JSON values: ``{"var": path, "before":
    old, "after": new}``; a record that appears has ``before`` null, one that disappears
    ``after`` null."""
    return [{"var": key, "before": None if how == "added" else old,
             "after": None if how == "removed" else new}
            for key, how, old, new in _diff(before, after)]


def _diff(before: Mapping[str, Any], after: Mapping[str, Any]
          ) -> list[tuple[str, str, Any, Any]]:
    """(path, "added" | "removed" | "changed", old, new) for each difference."""
    a: dict[str, Any] = {}
    b: dict[str, Any] = {}
    _flatten(dict(before), "", a)
    _flatten(dict(after), "", b)
    out: list[tuple[str, str, Any, Any]] = []
    whole: list[str] = []
    for key in list(a) + [k for k in b if k not in a]:
        if any(key.startswith(w) and key != w for w in whole):
            continue
        old, new = a.get(key, _MISSING), b.get(key, _MISSING)
        if isinstance(old, _Record) and new is _MISSING:
            whole.append(key)
            out.append((key, "removed", old.value, None))
        elif isinstance(new, _Record) and old is _MISSING:
            whole.append(key)
            out.append((key, "added", None, new.value))
        elif isinstance(old, _Record) or isinstance(new, _Record):
            continue
        elif old != new and not (old == [] and new is _MISSING) and not (
                new == [] and old is _MISSING):
            out.append((key, "changed", old, new))
    return out


def script_steps(model: Model[S], steps: Sequence[Step[S]]) -> list[dict[str, Any]]:
    """A counterexample's calls as JSON, the facts :func:`render_script` prints: for each
    call after the cold boot, ``call`` (the kernel call), ``args`` (its arguments, as in a
    trace's ``mbt::nondetPicks``), ``action`` (as the script prints it), ``ret`` (``"0"``
    or ``"-EBUSY"`` ...) and ``changes`` (:func:`change_records` against the state
    before)."""
    out: list[dict[str, Any]] = []
    prev: Mapping[str, Any] | None = None
    for step in steps:
        view = model.view(step.state)
        if step.action is not None and prev is not None:
            out.append({"call": step.action.name, "args": step.action.picks(),
                        "action": str(step.action), "ret": ret_name(step.ret),
                        "changes": change_records(prev, view)})
        prev = view
    return out


_MISSING: Any = object()


def _fmt(v: Any) -> str:
    if isinstance(v, dict):
        return _compact(v)
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, list):
        return "[" + ", ".join(_fmt(x) for x in v) + "]"
    return str(v)


def render_script(model: Model[S], steps: Sequence[Step[S]], indent: str = "  ") -> str:
    """A counterexample as a kernel-call script with only what changed at each step."""
    out: list[str] = []
    prev: Mapping[str, Any] | None = None
    for i, step in enumerate(steps):
        view = model.view(step.state)
        if step.action is None:
            out.append(f"{indent}{i:>3}  (cold boot)")
        else:
            out.append(f"{indent}{i:>3}  {step.action} = {ret_name(step.ret)}")
        if prev is not None:
            for line in changes(prev, view):
                out.append(f"{indent}       {line}")
        prev = view
    return "\n".join(out)
