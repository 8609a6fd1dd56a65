"""``--baseline REPORT.json``: compare a run with an earlier report, fail only on what got
worse.

Pure functions over two JSON documents (the earlier report and this run's, both as
``--json`` prints them). Timing fields (``seconds``, ``states_per_second``, a mutant's
``seconds`` and BMC ``seconds``), state counts, the tool version and the Z3 resource use
are never compared. A regression is:

* ``check``: a property violated now that was not violated in the baseline (a new
  violation, including a ``sometimes`` vacuity guard never reached); a property that held
  and is now ``unknown`` (worse verdict: inconclusive; a note only when this run's search
  stopped at violations, which leaves a graph property unknown); a violated property that now
  exhibits a real defect it did not; a complete search that is now incomplete; an outcome
  that fired in the baseline and never fires now, in a complete search that did not stop
  at violations (a coverage drop; when the search stopped at violations the lost outcomes
  are listed as notes: the violation already fails the run, and the checker itself does
  not judge coverage on such a search);
* ``mutants``: a mutant the baseline caught that this run does not, or a new mutant that
  survives.

Everything that got better is listed as an improvement. Only reports of the same kind,
the same design family (``design_base``: a variant file derived from ``upstream`` and
``upstream`` itself are one family) and equal bounds (every field; the name may differ)
are compared; otherwise :class:`BaselineError` says what differs (exit 2).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from luoverify.checks.replay import TraceError, read_trace_bytes

#: the schema file of each kind of report a baseline can be
SCHEMAS = {"check": "report.schema.json", "mutants": "mutants.schema.json"}


class BaselineError(Exception):
    """The baseline cannot be used: unreadable, not a report of this kind, or a report of
    another design family or other bounds (one-line message; exit 2)."""


@dataclass
class Comparison:
    """What got worse (``regressions``: each fails the run), what got better, and what
    changed without being either (``notes``)."""

    regressions: list[str] = field(default_factory=list)
    improvements: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def to_json(self, file: str) -> dict[str, Any]:
        """The ``baseline`` section of a report."""
        return {"file": file, "regressions": self.regressions,
                "improvements": self.improvements}


def load(path: Path, kind: str) -> dict[str, Any]:
    """Read a ``kind`` report (``check`` or ``mutants``) written by ``--json``."""
    import jsonschema  # type: ignore[import-untyped, unused-ignore]

    try:  # a regular file of at most 16 MiB: never a device, a FIFO or a directory
        data = read_trace_bytes(path, what="luo-verify report")
        text = data.decode("utf-8")
    except TraceError as exc:
        raise BaselineError(f"--baseline: {exc}") from None
    except UnicodeDecodeError:
        raise BaselineError(f"--baseline: cannot read {path}: not UTF-8 text") from None
    try:
        doc = json.loads(text)
    except RecursionError:
        raise BaselineError(f"--baseline: {path} is not a luo-verify report: its JSON is "
                            "nested too deeply to read") from None
    except ValueError as exc:
        raise BaselineError(f"--baseline: {path} is not JSON ({exc})") from None
    if not isinstance(doc, dict) or doc.get("report") != kind:
        found = doc.get("report") if isinstance(doc, dict) else None
        what = (f"a luo-verify {found} report" if isinstance(found, str)
                else "no luo-verify report (no \"report\" field)")
        raise BaselineError(f"--baseline: {path} is {what}; expected the --json report "
                            f"of luo-verify {kind}")
    schema = json.loads(resources.files("luoverify.checks").joinpath(SCHEMAS[kind])
                        .read_text(encoding="utf-8"))
    error = jsonschema.exceptions.best_match(
        jsonschema.Draft202012Validator(schema).iter_errors(doc))
    if error is not None:
        where = "/".join(str(p) for p in error.absolute_path) or "(top)"
        raise BaselineError(f"--baseline: {path} is not a valid luo-verify {kind} report: "
                            f"{where}: {error.message[:200]}")
    return doc


def _bounds(doc: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in doc["bounds"].items() if k != "name"}


def incompatible(baseline: dict[str, Any], current: dict[str, Any]) -> str | None:
    """Why the two reports cannot be compared (another design family, other bounds), or
    None."""
    if current["report"] == "check" and baseline["design_base"] != current["design_base"]:
        return (f"--baseline: the baseline is of design family {baseline['design_base']} "
                f"(design {baseline['design']}), this run of {current['design_base']} "
                f"(design {current['design']})")
    if current["report"] == "check":
        for key, flag in (("stop_at_violations", "--continue"), ("symmetry", "--no-symmetry")):
            if key in current and baseline.get(key) != current[key]:
                return (f"--baseline: the baseline was searched with {key}="
                        f"{baseline.get(key)}, this run with {key}={current[key]} (the "
                        f"{flag} option): the two searches do not reach the same states")
    a, b = _bounds(baseline), _bounds(current)
    if a != b:
        differ = ", ".join(f"{k} {a.get(k)} vs {b.get(k)}" for k in sorted(set(a) | set(b))
                           if a.get(k) != b.get(k))
        return f"--baseline: other bounds (baseline vs this run: {differ})"
    return None


def _outcomes(doc: dict[str, Any]) -> dict[str, int]:
    """``kind = outcome`` -> how often it fired."""
    return {f"{kind} = {ret}": o["fired"]
            for kind, row in doc["coverage"]["kinds"].items()
            for ret, o in row["outcomes"].items()}


def compare_check(baseline: dict[str, Any], current: dict[str, Any]) -> Comparison:
    """Compare two ``check --json`` reports of one design family and equal bounds."""
    out = Comparison()
    before_props: dict[str, Any] = baseline["properties"]
    explained: set[str] = set()
    for name, now in current["properties"].items():
        before = before_props.get(name)
        was = before["status"] if before is not None else "not checked"
        status = now["status"]
        ids = now.get("defects", [])
        if status == "violated" and was != "violated":
            exhibits = f"; exhibits {', '.join(ids)}" if ids else ""
            length = f" in {now['length']} calls" if "length" in now else ""
            out.regressions.append(
                f"new violation: {name} ({was} -> violated{length}{exhibits}): "
                f"{now.get('message', '')}")
            explained.update(ids)
        elif status == "violated" and before is not None:
            new = [i for i in ids if i not in before.get("defects", [])]
            if new:
                out.regressions.append(f"{name}: still violated, and now exhibits "
                                       f"{', '.join(new)} as well")
                explained.update(new)
        elif status == "unknown" and was in ("holds", "not_applicable"):
            line = f"{name} {was} -> unknown ({now.get('message', 'inconclusive')})"
            if current["pruned"]:  # not established past the violations that stop it
                out.notes.append(line)
            else:
                out.regressions.append(f"verdict worse: {line}")
        elif was in ("violated", "unknown") and status in ("holds", "not_applicable"):
            out.improvements.append(f"{name}: {was} -> {status}")
        elif was == "violated" and status == "unknown":
            out.notes.append(f"{name}: violated -> unknown "
                             f"({now.get('message', 'inconclusive')})")
        elif was == "violated" and before is not None:
            gone = [i for i in before.get("defects", []) if i not in ids]
            if gone:
                out.improvements.append(f"{name}: no longer exhibits {', '.join(gone)}")
    unchecked = [name for name in before_props if name not in current["properties"]]
    if unchecked:
        out.notes.append(f"in the baseline, not checked in this run: {', '.join(unchecked)}")
    new_defects = [i for i in current["defects"]
                   if i not in baseline["defects"] and i not in explained]
    if new_defects:
        out.regressions.append(f"new real defects exhibited: {', '.join(new_defects)}")
    if baseline["complete"] and not current["complete"]:
        out.regressions.append(f"verdict worse: the search no longer completes "
                               f"({current.get('limit', 'a limit was reached')})")
    elif current["complete"] and not baseline["complete"]:
        out.improvements.append("the search completes (the baseline's did not)")
    was_fired, fired = _outcomes(baseline), _outcomes(current)
    judged = current["complete"] and not current["pruned"]
    lost = sorted(set(was_fired) - set(fired))
    if judged:
        out.regressions += [f"coverage drop: {outcome} fired {was_fired[outcome]}x in the "
                            "baseline, never in this run" for outcome in lost]
    elif lost:
        out.notes.append(f"{len(lost)} outcomes of the baseline not reached (the search "
                         f"stopped at violations or a limit): {', '.join(lost)}")
    for outcome in sorted(set(fired) - set(was_fired)):
        out.improvements.append(f"coverage: {outcome} fires now ({fired[outcome]}x), "
                                "never in the baseline")
    for gap in current["coverage"]["missing"] + current["coverage"]["undeclared"]:
        if gap not in baseline["coverage"]["missing"] + baseline["coverage"]["undeclared"] \
                and gap not in was_fired:
            out.regressions.append(f"coverage gap: {gap}")
    if baseline["verdict"] != current["verdict"]:
        line = f"verdict {baseline['verdict']} -> {current['verdict']}"
        (out.notes if out.regressions else out.improvements).append(line)
    return out


def compare_mutants(baseline: dict[str, Any], current: dict[str, Any]) -> Comparison:
    """Compare two ``mutants --json`` reports of equal bounds."""
    out = Comparison()
    before = {m["id"]: m for m in baseline["mutants"]}
    now = {m["id"]: m for m in current["mutants"]}
    for mid, m in now.items():
        b = before.get(mid)
        if b is None:
            if not m["caught"]:
                out.regressions.append(f"new mutant {mid} survives (expected to break "
                                       f"{m['expect']})")
            else:
                out.notes.append(f"new mutant {mid}: caught")
        elif b["caught"] and not m["caught"]:
            out.regressions.append(f"mutant {mid} no longer caught (expected to break "
                                   f"{m['expect']}; the baseline caught it by "
                                   f"{', '.join(b['violated'])})")
        elif m["caught"] and not b["caught"]:
            out.improvements.append(f"mutant {mid} caught now by {', '.join(m['violated'])}")
        elif b.get("reproduced") and m.get("reproduced") is False:
            out.notes.append(f"mutant {mid}: its counterexample no longer reproduces on "
                             "the reference")
    unrun = [mid for mid in before if mid not in now]
    if unrun:
        out.notes.append(f"mutants in the baseline, not run now: {', '.join(unrun)}")
    return out


def compare(baseline: dict[str, Any], current: dict[str, Any]) -> Comparison:
    """Compare two reports of the same kind (``check`` or ``mutants``)."""
    if current["report"] == "mutants":
        return compare_mutants(baseline, current)
    return compare_check(baseline, current)
