"""``--junit FILE``: the result of a command as JUnit XML, for CI services to display.

One ``<testsuite>`` per run, with the tool, design and bounds as ``<properties>``, and one
``<testcase>`` per thing the command judges:

* ``check``: per property (a violation is a ``<failure>`` whose text is the
  counterexample script the text report prints; ``unknown`` an ``<error>``;
  ``not_applicable`` ``<skipped>``), and one ``coverage`` case;
* ``prove``: per induction obligation (``action / property``) and per BMC property;
* ``mutants``: per mutant (a survivor is a failure);
* ``replay``: the trace (violated: failure; diverged: error);
* ``traces``: per trace of the suite (diverged on replay: failure) and one ``coverage`` case;
* ``diff``: per difference and per verdict change (failures), or one passing case when
  the designs behave the same.

Written with junitparser; the file is valid against ``junit.xsd`` (tests/test_reports.py).
The same run writes the same bytes, except the ``time`` attributes (timing).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from junitparser import Error, Failure, JUnitXml, Skipped, TestCase, TestSuite

from luoverify.checks import itf
from luoverify.checks.header import tool_json
from luoverify.model import errno as E

if TYPE_CHECKING:
    from luoverify.checks.diff import DiffReport
    from luoverify.checks.mutants import MutantRow
    from luoverify.checks.prove import BmcTrace, ProveReport
    from luoverify.checks.replay import ReplayResult
    from luoverify.checks.run import CheckReport
    from luoverify.checks.traces import Suite


@dataclass(frozen=True)
class Case:
    """One test case: ``outcome`` is ``pass``, ``failure``, ``error`` or ``skipped``;
    ``message`` is one line, ``text`` the details (a counterexample script)."""

    name: str
    classname: str
    outcome: str = "pass"
    message: str = ""
    kind: str = ""
    text: str = ""
    seconds: float | None = None


def document(suite_name: str, properties: Mapping[str, str], cases: Sequence[Case],
             seconds: float | None = None) -> JUnitXml:
    """A ``<testsuites>`` document with one suite of ``cases``; ``seconds``: the whole
    run's time, for the suite and the document (default: the sum of the cases' times)."""
    suite = TestSuite(suite_name)
    for key, value in properties.items():  # before the cases, as junit.xsd requires
        suite.add_property(key, value)
    for c in cases:
        case = TestCase(c.name, c.classname,
                        None if c.seconds is None else round(c.seconds, 3))
        if c.outcome in ("failure", "error"):
            result: Failure | Error = (Failure(c.message, c.kind) if c.outcome == "failure"
                                       else Error(c.message, c.kind))
            if c.text:
                result.text = c.text
            case.result = [result]
        elif c.outcome == "skipped":
            case.result = [Skipped(c.message)]
        else:
            assert c.outcome == "pass", c.outcome
        suite.add_testcase(case)
    xml = JUnitXml("luo-verify")
    xml.add_testsuite(suite)
    xml.update_statistics()  # type: ignore[no-untyped-call, unused-ignore]
    if seconds is not None:
        suite.time = xml.time = round(seconds, 3)
    return xml


def to_bytes(xml: JUnitXml) -> bytes:
    """The document as UTF-8 XML, indented (as junitparser's own ``pretty`` writer does,
    from ``tostring``, which every junitparser version since 3.1 has)."""
    from xml.dom.minidom import parseString

    text: bytes = xml.tostring()  # type: ignore[no-untyped-call, unused-ignore]
    return parseString(text).toprettyxml(encoding="utf-8")  # our own document


def write(path: Path, xml: JUnitXml) -> None:
    """Write ``xml`` to ``path`` (an ``OSError`` names the file: the CLI exits 74)."""
    path.write_bytes(to_bytes(xml))


def _properties(header: Mapping[str, Any]) -> dict[str, str]:
    """The report header (checks/header.py) as suite properties."""
    tool = tool_json()
    out = {"luo-verify": tool["version"], "z3-solver": tool["z3"]}
    if "design" in header:
        out["design"] = str(header["design"])
        out["design_base"] = str(header.get("design_base", header["design"]))
    flags = header.get("design_flags")
    if isinstance(flags, dict):
        off = sorted(k for k, v in flags.items() if not v)
        out["design_flags_off"] = ", ".join(off) or "(none)"
    engine = header.get("engine")
    if isinstance(engine, dict):
        out["engine"] = str(engine.get("name"))
    bounds = header.get("bounds")
    if isinstance(bounds, dict):
        out["bounds"] = " ".join(f"{k}={v}" for k, v in bounds.items())
    return out


# --- one function per command ----------------------------------------------------------


def check_junit(report: CheckReport) -> JUnitXml:
    """``check --junit``: one case per property, and one for coverage."""
    r = report.result
    cls = f"luo-verify.check.{report.design.name}"
    cases: list[Case] = []
    for p in report.properties:
        status = r.status[p.name]
        cex = r.counterexamples.get(p.name)
        note = r.notes.get(p.name, "")
        if status == "holds":
            cases.append(Case(p.name, cls))
        elif status == "not_applicable":
            cases.append(Case(p.name, cls, "skipped", note))
        elif status == "unknown":
            cases.append(Case(p.name, cls, "error", note or "unknown", "inconclusive"))
        elif cex is not None:
            ids = report.defects.get(p.name, [])
            head = (f"counterexample: {p.name} ({cex.length} calls"
                    + (f"; exhibits {', '.join(ids)}" if ids else "") + ")")
            script = itf.render_script(report.model, cex.steps, indent="  ")
            text = "\n".join([head, script, f"       VIOLATED: {cex.message}",
                              *report._replay_text(p.name)])
            cases.append(Case(p.name, cls, "failure", cex.message, "violated", text))
        else:  # a sometimes property (vacuity guard) never reached
            cases.append(Case(p.name, cls, "failure", note or "violated", "coverage gap"))
    cov = report.coverage
    gaps = ([f"never fired: {k} = {E.ret_name(ret)}" for k, ret in cov.missing]
            + [f"undeclared outcome: {k} = {E.ret_name(ret)}" for k, ret in cov.undeclared])
    cases.append(Case("coverage", cls, "failure" if gaps else "pass",
                      f"{len(gaps)} coverage gaps" if gaps else "", "coverage gap",
                      "\n".join(gaps)))
    return document(f"luo-verify check {report.design.name}",
                    _properties(report.to_json(timings=False)), cases, r.seconds)


def _bmc_script(report: ProveReport, trace: BmcTrace) -> str:
    from luoverify.checks.explore import Step
    from luoverify.model.factory import model_for

    model = model_for(report.design, report.bounds, symmetry=False)
    steps = [Step(a, r, s) for a, r, s in trace.steps]
    return itf.render_script(model, steps, indent="  ") + f"\n       VIOLATED: {trace.message}"


def prove_junit(report: ProveReport) -> JUnitXml:
    """``prove --junit``: one case per induction obligation, one per BMC property."""
    cls = f"luo-verify.prove.{report.design.name}"
    cases: list[Case] = []
    for o in report.induction.obligations:
        name = f"{o.action} / {o.prop}"
        key = (o.action, o.prop)
        if o.status == "proved":
            cases.append(Case(name, cls, seconds=o.seconds))
            continue
        upgraded = report.upgrades.get(key)
        if upgraded is not None:
            cases.append(Case(name, cls, "failure", upgraded.message, "violated",
                              "upgraded to a reachable counterexample:\n"
                              + _bmc_script(report, upgraded), o.seconds))
        else:
            why = report.ctis.get(key)
            what = ("counterexample to induction, not shown reachable" if o.status == "cti"
                    else f"not proved ({o.status})")
            cases.append(Case(name, cls, "error", what, "inconclusive",
                              why if isinstance(why, str) else "", o.seconds))
    b = report.bmc
    if b is not None:
        for prop in b.checked:
            name = f"bmc depth {b.depth} / {prop}"
            if prop in b.found:
                tr = b.found[prop]
                cases.append(Case(name, cls, "failure", tr.message, "violated",
                                  _bmc_script(report, tr)))
            elif prop in b.unknown:
                cases.append(Case(name, cls, "error", b.unknown_why.get(prop, "unknown"),
                                  "inconclusive"))
            else:
                cases.append(Case(name, cls))
    return document(f"luo-verify prove {report.design.name}",
                    _properties(report.to_json(timings=False)), cases, report.seconds)


def mutants_junit(rows: Sequence[MutantRow], header: Mapping[str, Any]) -> JUnitXml:
    """``mutants --junit``: one case per mutant; a survivor is a failure."""
    cases: list[Case] = []
    for r in rows:
        cls = f"luo-verify.mutants.{r.base}"
        if r.caught:
            cases.append(Case(r.id, cls, seconds=r.seconds))
        else:
            cases.append(Case(r.id, cls, "failure",
                              f"survived: no property violated at bounds {r.bounds} "
                              f"(expected {r.expect})", "survived",
                              f"{r.title}\n{r.source}", r.seconds))
    return document("luo-verify mutants", _properties(header), cases)


def replay_junit(result: ReplayResult, trace: Path) -> JUnitXml:
    """``replay --junit``: one case, the trace."""
    cls = f"luo-verify.replay.{result.design}"
    script = "\n".join(f"  {i:>3}  {a} = {E.ret_name(r)}"
                       for i, (a, r) in enumerate(result.steps, 1))
    if result.divergence is not None:
        d = result.divergence
        case = Case(trace.name, cls, "error", f"diverged at step {d.step}: {d.action}: "
                    f"{d.what}", "diverged", "\n".join([script, *d.details]))
    elif result.violation is not None:
        v = result.violation
        pages = [f"  page frame {p}: " + "; ".join(who) for p, who in sorted(v.pages.items())]
        case = Case(trace.name, cls, "failure", f"{v.prop}: {v.message}", "violated",
                    "\n".join([script, f"VIOLATED on the reference at step {v.step}: "
                               f"{v.action}", *pages]))
    else:
        case = Case(trace.name, cls)
    return document(f"luo-verify replay {trace.name}", _properties(result.to_json()), [case])


def traces_junit(suite: Suite) -> JUnitXml:
    """``traces --junit``: one case per trace (diverged on replay: failure), and one for
    the coverage of the transition classes."""
    cls = f"luo-verify.traces.{suite.design.name}"
    cases: list[Case] = []
    for t in suite.traces:
        ok = t.replay in ("faithful", "violated", "not run")
        cases.append(Case(t.file, cls, "pass" if ok else "failure",
                          "" if ok else f"replay {t.replay}", "diverged",
                          "" if ok else "covers:\n" + "\n".join(t.covers)))
    missing = sorted(set(suite.coverable) - set(suite.covered))
    cases.append(Case("coverage", cls, "failure" if missing else "pass",
                      f"{len(missing)} transition classes not covered" if missing else "",
                      "coverage gap", "\n".join(missing)))
    return document(f"luo-verify traces {suite.design.name}",
                    _properties(suite.manifest()), cases)


def diff_junit(report: DiffReport) -> JUnitXml:
    """``diff --junit``: one failure per difference and per verdict change; one passing
    case when the designs behave the same."""
    cls = f"luo-verify.diff.{report.a}.{report.b}"
    cases: list[Case] = []
    for name, (va, vb) in report.verdicts.items():
        cases.append(Case(f"verdict {name}", cls, "failure",
                          f"{report.a}: {va}, {report.b}: {vb}", "verdict changes"))
    for d in report.differences:
        answers = ", ".join(f"{k} {v}" for k, v in d.answers.items())
        cases.append(Case(f"{d.call}: {answers}", cls, "failure", answers, "differs",
                          "\n".join(f"  {i:>2}  {call}" for i, call in enumerate(d.trace, 1))))
    if not cases:
        cases.append(Case("behaviour", cls))
    doc = report.to_json()
    props = _properties(doc)
    props["designs"] = f"{report.a} vs {report.b}"
    return document(f"luo-verify diff {report.a} {report.b}", props, cases)
