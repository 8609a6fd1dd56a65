"""``luo-verify replay``: drive the reference implementation through a trace.

At every step the action is issued to the model (without symmetry reduction, so every page
frame is addressable) and to the reference implementation (reference); the step
replays faithfully when

* the reference returns what the trace expects (``luo::ret``) and what the model returns,
* the reference state, mapped to a model state (the refinement mapping), equals the
  model's state, and
* when the trace records state variables (a trace written by ``check``), the model's state
  equals them.

Then every ``always`` and ``step`` property of the catalogue is evaluated on the
*reference's* concrete pages. Outcomes: ``faithful`` (exit 0), ``violated`` (exit 1: the
trace replays faithfully and the reference really breaks a property; the report names the
page frames and everyone who holds them), ``diverged`` (exit 4: the first step where the
reference, the model and the trace disagree). Bad input is a :class:`TraceError` (exit 2).

Trace files are ITF JSON. A hand-written trace needs only, per step, ``mbt::actionTaken``
(the call), ``mbt::nondetPicks`` (its arguments) and ``luo::ret``; ``#meta`` may give
``design`` and ``bounds`` (a named bound, or an object of bound fields). README.md lists
the vocabulary.

A trace is data people share, so nothing in it is trusted: :func:`load_trace` reads only a
regular file of at most :data:`MAX_TRACE_BYTES`, decodes it as strict UTF-8, parses it as
strict JSON (no NaN, no duplicate key, bounded nesting), validates it against
``itf.schema.json`` (JSON Schema, with ``jsonschema``) before interpreting anything, and
reports every problem as a one-line :class:`TraceError` naming the file and the JSON path.
``#meta.design`` is read only by :func:`design_name_from_meta`, which accepts a built-in
profile or ``mutant:ID`` and never a file: replaying a trace runs no code the user did not
name on the command line.
"""

from __future__ import annotations

import codecs
import functools
import itertools
import json
import os
import re
import stat
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Final

from luoverify.checks.header import header
from luoverify.checks.itf import changes
from luoverify.model import errno as E
from luoverify.model import state as st
from luoverify.model.bounds import DEFAULT_BOUNDS, NAMED_BOUNDS, Bounds
from luoverify.model.core import Action, Outcome
from luoverify.model.design import PROFILES, Design
from luoverify.model.factory import model_for
from luoverify.model.legacy import LegacyKernel
from luoverify.model.luo import Kernel, LuoModel
from luoverify.model.property import Property
from luoverify.model.state import (
    DEVICE,
    FAULTS,
    GLOB,
    INCOMING,
    KEXECS,
    MEMFDS,
    OUTGOING,
    PHASE,
    REBOOTING,
    S_FILES,
    State,
    view,
)
from luoverify.reference import NotCallable, ReferenceDriver, reference_for
from luoverify.specs.defects import BY_ID
from luoverify.specs.properties import CATALOGUE

EXIT_FAITHFUL, EXIT_VIOLATED, EXIT_DIVERGED = 0, 1, 4
ACTIONS = tuple(sorted({n[3:] for k in (Kernel, LegacyKernel) for n in dir(k)
                       if n.startswith("do_")}))
MODEL_VARS = ("kexecs", "phase", "faults_left", "rebooting", "device_open", "deserialization",
              "outgoing", "incoming", "memfds", "pages")
#: a trace file larger than this is refused (the committed traces are below 100 KiB)
MAX_TRACE_BYTES: Final = 16 << 20
#: JSON nested deeper than this is refused before validation (a recorded trace nests 9)
MAX_TRACE_DEPTH: Final = 32
#: an integer literal with more digits than this is refused while parsing
MAX_INT_DIGITS: Final = 30
#: the JSON Schema every trace is validated against (package data of luoverify.checks)
SCHEMA_FILE: Final = "itf.schema.json"
#: schema errors examined to find the first problem in document order
_MAX_ERRORS: Final = 200


class TraceError(Exception):
    """The trace cannot be replayed as given (one-line message; exit 2).

    Control and other unprintable characters of the message (which may quote the file's
    contents or its name) are escaped, so the message is always exactly one line.
    """

    def __init__(self, message: str) -> None:
        super().__init__(_one_line(message))


def _one_line(text: str) -> str:
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii")
                   for c in text)


@dataclass
class TraceStep:
    call: str
    picks: dict[str, Any]
    ret: int | None
    vars: dict[str, Any] | None


@dataclass
class Trace:
    design: str | None
    bounds: Bounds
    bounds_name: str
    steps: list[TraceStep]
    property: str | None = None
    #: where the trace came from (the file name), for error messages
    source: str = "trace"


# --- reading a trace file ----------------------------------------------------------------

def _mib(n: int) -> str:
    return f"{n >> 20} MiB" if n and n % (1 << 20) == 0 else f"{n} bytes"


def _file_kind(mode: int) -> str:
    for test, kind in ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO"),
                       (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
                       (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return kind
    return "not a regular file"


def read_trace_bytes(path: Path, what: str = "trace file") -> bytes:
    """The bytes of trace file ``path``: a regular file (checked with ``stat`` before it is
    opened, so a FIFO never blocks and a device is never read) of at most
    :data:`MAX_TRACE_BYTES` bytes (at most that many plus one are read). ``what`` names
    the file in the messages (``--baseline`` reads its report with this too)."""
    limit = MAX_TRACE_BYTES
    try:
        info = os.stat(path)
    except (OSError, ValueError) as exc:
        raise TraceError(f"cannot read {path}: {getattr(exc, 'strerror', None) or exc}"
                         ) from None
    if not stat.S_ISREG(info.st_mode):
        raise TraceError(f"{path} is {_file_kind(info.st_mode)}, not a {what} "
                         "(a regular file)")
    if info.st_size > limit:
        raise TraceError(f"{path} is larger than {_mib(limit)}, the most a {what} may "
                         f"have ({info.st_size} bytes)")
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
    try:
        fd = os.open(path, flags | getattr(os, "O_CLOEXEC", 0))
        with os.fdopen(fd, "rb") as f:
            if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):  # replaced since the stat
                raise TraceError(f"{path} is not a {what} (a regular file)")
            data = f.read(limit + 1)
    except OSError as exc:
        raise TraceError(f"cannot read {path}: {exc.strerror or exc}") from None
    if len(data) > limit:
        raise TraceError(f"{path} is larger than {_mib(limit)}, the most a {what} may "
                         "have")
    return data


class _NotJson(ValueError):
    """What strict parsing refuses that Python's json module would accept."""


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _NotJson(f"duplicate key {_repr(key)} in an object")
            seen.add(key)
    return obj


def _no_constant(name: str) -> Any:
    raise _NotJson(f"{name} is not a JSON value")


def _bounded_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise _NotJson(f"an integer of {len(text.lstrip('-'))} digits (at most "
                       f"{MAX_INT_DIGITS})")
    return int(text)


def parse_trace_bytes(data: bytes, source: str = "trace") -> Any:
    """The JSON document in ``data``: strict UTF-8 (no byte order mark), strict JSON (no
    NaN or Infinity, no duplicate key, integers of at most :data:`MAX_INT_DIGITS` digits).
    Not yet validated: :func:`parse_trace` does that."""
    if data.startswith(codecs.BOM_UTF8):
        raise TraceError(f"{source} starts with a byte order mark (EF BB BF): save it as "
                         "UTF-8 without one")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise TraceError(f"{source} is not UTF-8: byte 0x{data[exc.start]:02x} at offset "
                         f"{exc.start} ({exc.reason})") from None
    try:
        return json.loads(text, object_pairs_hook=_unique_keys, parse_constant=_no_constant,
                          parse_int=_bounded_int)
    except json.JSONDecodeError as exc:
        raise TraceError(f"{source} is not JSON: {exc.msg} (line {exc.lineno}, column "
                         f"{exc.colno})") from None
    except RecursionError:
        raise TraceError(f"{source} is not a trace: its JSON is nested too deeply to read "
                         f"(a trace nests at most {MAX_TRACE_DEPTH} levels)") from None
    except ValueError as exc:  # _NotJson, or a limit of the json module
        raise TraceError(f"{source} is not JSON: {exc}") from None


# --- validation: the schema first, then the meaning --------------------------------------

@functools.cache
def _validator() -> Any:
    """A validator for ``itf.schema.json`` in which only JSON integers are integers (not
    ``1.0``, not ``true``)."""
    from jsonschema import validators  # type: ignore[import-untyped, unused-ignore]

    schema = json.loads(resources.files("luoverify.checks").joinpath(SCHEMA_FILE)
                        .read_text(encoding="utf-8"))
    base = validators.validator_for(schema)
    checker = base.TYPE_CHECKER.redefine(
        "integer", lambda _checker, v: isinstance(v, int) and not isinstance(v, bool))
    return validators.extend(base, type_checker=checker)(schema)


def _too_deep(doc: Any, limit: int) -> bool:
    """Whether ``doc`` nests arrays and objects more than ``limit`` levels (iteratively:
    the check itself cannot overflow the stack)."""
    stack: list[tuple[Any, int]] = [(doc, 1)]
    while stack:
        value, depth = stack.pop()
        children = value.values() if isinstance(value, dict) else value
        if depth > limit:
            return True
        stack.extend((c, depth + 1) for c in children if isinstance(c, (dict, list)))
    return False


def _repr(value: str, width: int = 60) -> str:
    """A string quoted on one line, clipped to ``width`` characters."""
    return repr(value[:width]) + ("..." if len(value) > width else "")


def _shown(value: Any) -> str:
    """What a JSON value is, in a message: ``null``, ``the string '0'``, ``an array``."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return f"the number {value!r}"
    if isinstance(value, str):
        return f"the string {_repr(value)}"
    return "an array" if isinstance(value, list) else "an object"


def _json_path(path: Sequence[Any]) -> str:
    """A JSONPath (RFC 9535) to the value at ``path``: ``$.states[3]['luo::ret']``."""
    out = "$"
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        elif re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", part):
            out += f".{part}"
        else:
            out += f"[{_repr(part)}]"
    return out


def _key_at_fault(err: Any) -> str | None:
    """The member an error is about: the first missing one of ``required`` or
    ``dependentRequired``, the first unexpected one of ``additionalProperties``."""
    obj = err.instance
    if not isinstance(obj, dict):
        return None
    if err.validator == "required":
        return next((k for k in err.validator_value if k not in obj), None)
    if err.validator == "dependentRequired":
        return next((d for k, deps in err.validator_value.items() if k in obj
                     for d in deps if d not in obj), None)
    if err.validator == "additionalProperties":
        allowed = err.schema.get("properties", {})
        return next((k for k in obj if k not in allowed), None)
    return None


def _position(doc: Any, err: Any) -> tuple[int, ...]:
    """Where an error is in the document, for finding the first one: indices of array
    elements and of object members in their order in the file; a missing member comes
    after the members present."""
    pos: list[int] = []
    node = doc
    for part in err.absolute_path:
        pos.append(list(node).index(part) if isinstance(node, dict) else part)
        node = node[part]
    key = _key_at_fault(err)
    if key is not None and isinstance(node, dict):
        pos.append(list(node).index(key) if key in node else len(node))
    return tuple(pos)


_MISSING_IN_STEP: Final = {
    "mbt::actionTaken": "every step names its call",
    "mbt::nondetPicks": "every step gives its call's arguments ({} for none)",
    "luo::ret": "every step gives the return code it expects",
}


def _call_of(doc: Any, path: Sequence[Any]) -> str:
    call = doc["states"][path[1]].get("mbt::actionTaken")
    return call if call in ACTIONS or call == "init" else "the call"


def _describe(doc: Any, err: Any) -> str:
    """One line for a schema error: its JSON path and what is wrong, in the trace's
    vocabulary (the call, the argument, what it must be)."""
    path = list(err.absolute_path)
    where = _json_path(path)
    inst, kind, key = err.instance, err.validator, _key_at_fault(err)
    in_state = len(path) == 2 and path[0] == "states"
    in_picks = len(path) == 3 and path[0] == "states" and path[2] == "mbt::nondetPicks"
    if kind in ("required", "dependentRequired") and key is not None:
        if not path:
            return f"not an ITF trace: {where}: missing {_repr(key)}"
        if in_state and key in MODEL_VARS:
            return (f"{where}: records some model variables but not {key} (a recorded "
                    f"state has all of {', '.join(MODEL_VARS)}; a hand-written one none)")
        if in_state and key in _MISSING_IN_STEP:
            return f"{where}: missing {_repr(key)}: {_MISSING_IN_STEP[key]}"
        if in_picks:
            return f"{where}: {_call_of(doc, path)}: missing argument {_repr(key)}"
        return f"{where}: missing {_repr(key)}"
    if kind == "additionalProperties" and key is not None:
        allowed = ", ".join(err.schema.get("properties", {})) or "none"
        if not path:
            return (f"not an ITF trace: {where}: unknown key {_repr(key)} (a trace has "
                    f"{allowed})")
        if in_picks:
            return (f"{where}: {_call_of(doc, path)} takes no argument {_repr(key)} (its "
                    f"arguments: {allowed})")
        return f"{where}: unknown key {_repr(key)} (known: {allowed})"
    if path == ["states"] and kind == "minItems":
        return f"{where}: a trace needs at least one step after the initial state"
    if path[-1:] == ["mbt::actionTaken"] and isinstance(inst, str):
        if inst == "init":
            return f"{where}: 'init' may only be the first state"
        return f"{where}: unknown action {_repr(inst)} (known: {', '.join(ACTIONS)})"
    desc = err.schema.get("description") if isinstance(err.schema, dict) else None
    if path[-1:] == ["luo::ret"] and isinstance(inst, str) and kind == "anyOf":
        return f"{where}: unknown return code {_repr(inst)}: expected {desc}"
    if in_picks or (len(path) == 4 and path[2] == "mbt::nondetPicks"):
        label = f"{_call_of(doc, path)}: {path[3]}" if len(path) == 4 else (
            f"{_call_of(doc, path)}'s arguments")
    elif in_state:
        label = f"state {path[1]}"
    else:
        named = [i for i, p in enumerate(path) if isinstance(p, str)]
        label = (path[named[-1]] + "".join(f"[{p}]" for p in path[named[-1] + 1:])
                 if named else "the trace")
    if desc:
        return f"{where}: {label} must be {desc}, got {_shown(inst)}"
    message = str(err.message)
    return f"{where}: {label}: {message[:120]}{'...' if len(message) > 120 else ''}"


def _schema_problem(doc: Any) -> str | None:
    """The first problem (in document order) of ``doc`` against the schema, or None."""
    errors = list(itertools.islice(_validator().iter_errors(doc), _MAX_ERRORS))
    if not errors:
        return None
    return _describe(doc, min(errors, key=lambda e: _position(doc, e)))


def _bounds_of(meta: Mapping[str, Any], source: str) -> tuple[Bounds, str]:
    spec = meta.get("bounds", DEFAULT_BOUNDS)
    known = ", ".join(sorted(NAMED_BOUNDS))
    if isinstance(spec, str):
        if spec not in NAMED_BOUNDS:
            raise TraceError(f"{source}: $['#meta'].bounds: unknown bounds {_repr(spec)} "
                             f"(known: {known})")
        return NAMED_BOUNDS[spec], spec
    fields = {k: v for k, v in spec.items() if k != "name"}
    name = spec.get("name", DEFAULT_BOUNDS)
    if name not in NAMED_BOUNDS:
        raise TraceError(f"{source}: $['#meta'].bounds.name: unknown bounds {_repr(name)} "
                         f"(known: {known})")
    base = NAMED_BOUNDS[name]
    try:
        bounds = base.with_overrides(**fields)
    except (TypeError, ValueError) as exc:
        raise TraceError(f"{source}: $['#meta'].bounds: {exc}") from None
    if bounds != base:
        name += "+overrides"
    return bounds, name


def parse_trace(doc: Any, source: str = "trace") -> Trace:
    """A :class:`Trace` from a parsed ITF document (recorded or hand-written).

    The document is validated against ``itf.schema.json`` before anything in it is
    interpreted; every problem is a :class:`TraceError` whose one-line message starts
    with ``source`` and names the JSON path of the first problem in the document.
    """
    if not isinstance(doc, dict) or not isinstance(doc.get("states"), list):
        raise TraceError(f"{source}: not an ITF trace: expected an object with a "
                         "\"states\" list")
    if _too_deep(doc, MAX_TRACE_DEPTH):
        raise TraceError(f"{source}: not a trace: nested more than {MAX_TRACE_DEPTH} "
                         "levels deep")
    problem = _schema_problem(doc)
    if problem is not None:
        raise TraceError(f"{source}: {problem}")
    meta = doc.get("#meta", {})
    bounds, bounds_name = _bounds_of(meta, source)
    steps: list[TraceStep] = []
    for i, entry in enumerate(doc["states"]):
        call = entry["mbt::actionTaken"]
        if call == "init":  # the schema allows it only first
            continue
        try:
            ret = E.parse_ret(entry["luo::ret"])
        except ValueError as exc:  # the schema's pattern admits only known codes
            raise TraceError(f"{source}: {_json_path(['states', i, 'luo::ret'])}: {exc}"
                             ) from None
        has_vars = "kexecs" in entry  # the schema: all of MODEL_VARS or none
        steps.append(TraceStep(call, dict(entry["mbt::nondetPicks"]), ret,
                               {v: entry[v] for v in MODEL_VARS} if has_vars else None))
    return Trace(meta.get("design"), bounds, bounds_name, steps, meta.get("property"),
                 source)


def load_trace(path: Path) -> Trace:
    """The trace in file ``path``, read, parsed and validated as the module docstring
    says; any problem is a one-line :class:`TraceError` naming ``path``."""
    return parse_trace(parse_trace_bytes(read_trace_bytes(path), str(path)), str(path))


def design_name_from_meta(trace: Trace) -> str | None:
    """The design ``#meta.design`` names, or None when the trace names none.

    Only a built-in profile (:data:`~luoverify.model.design.PROFILES`) or ``mutant:ID``
    (:data:`~luoverify.specs.defects.BY_ID`) is taken from a trace. Anything else (a
    ``.py`` path, the name of a design defined in a file, an unknown name) is a
    :class:`TraceError`: a trace is data people share, and replaying one never runs code
    the user did not name on the command line (``--design FILE``).
    """
    name = trace.design
    if name is None or name in PROFILES:
        return name
    where = f"{trace.source}: $['#meta'].design"
    if name.startswith("mutant:"):
        if name[len("mutant:"):] in BY_ID:
            return name
        raise TraceError(f"{where}: unknown mutant {_repr(name)} (known: "
                         f"mutant:{', mutant:'.join(BY_ID)})")
    if name.endswith(".py") or "/" in name or os.sep in name:
        raise TraceError(f"{where} names a file ({_repr(name)}); replay never runs code a "
                         "trace names: if you trust that file, name it on the command "
                         "line: --design FILE")
    raise TraceError(f"{where}: {_repr(name)} is neither a profile ({', '.join(PROFILES)}) "
                     "nor mutant:ID; if it is the design of a file you trust, name that "
                     "file on the command line: --design FILE")


@dataclass
class Violation:
    prop: str
    message: str
    step: int
    action: str
    pages: dict[int, list[str]]


@dataclass
class Divergence:
    step: int
    action: str
    what: str
    details: list[str]


@dataclass
class ReplayResult:
    design: str
    bounds_name: str
    #: the design object and the trace's bounds, for the JSON header (checks/header.py)
    design_obj: Design
    bounds: Bounds
    steps: list[tuple[str, int]] = field(default_factory=list)  # (action, ret) replayed
    violation: Violation | None = None
    divergence: Divergence | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def status(self) -> str:
        if self.divergence is not None:
            return "diverged"
        return "violated" if self.violation is not None else "faithful"

    @property
    def exit_code(self) -> int:
        return {"faithful": EXIT_FAITHFUL, "violated": EXIT_VIOLATED,
                "diverged": EXIT_DIVERGED}[self.status]

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = header("replay", self.design_obj, self.bounds_name,
                                     self.bounds)
        out.update({"status": self.status, "steps": len(self.steps),
                    "calls": [{"action": a, "ret": E.ret_name(r)} for a, r in self.steps],
                    "notes": self.notes})
        if self.violation is not None:
            v = self.violation
            out["violation"] = {"property": v.prop, "message": v.message, "step": v.step,
                                "action": v.action,
                                "pages": {str(p): who for p, who in v.pages.items()}}
        if self.divergence is not None:
            d = self.divergence
            out["divergence"] = {"step": d.step, "action": d.action, "what": d.what,
                                 "details": d.details}
        return out

    def to_text(self) -> str:
        lines = [f"luo-verify replay: design {self.design}, bounds {self.bounds_name}"]
        lines += [f"  note: {n}" for n in self.notes]
        for i, (action, ret) in enumerate(self.steps, 1):
            lines.append(f"  {i:>3}  {action} = {E.ret_name(ret)}")
        if self.divergence is not None:
            d = self.divergence
            lines.append(f"DIVERGED at step {d.step}: {d.action}: {d.what}")
            lines += [f"    {x}" for x in d.details]
        elif self.violation is not None:
            v = self.violation
            lines.append(f"VIOLATED on the reference at step {v.step}: {v.action}")
            lines.append(f"  {v.prop}: {v.message}")
            for p, who in sorted(v.pages.items()):
                lines.append(f"  page frame {p}: " + "; ".join(who))
            lines.append("verdict: the counterexample is real (reproduced on concrete pages)")
        else:
            lines.append("verdict: replayed faithfully; no property violated")
        return "\n".join(lines)


def _name_picks(step: TraceStep, driver: ReferenceDriver, state: State, index: int,
                source: str) -> tuple[dict[str, Any], str | None]:
    """The model's arguments for a step of a hand-written trace, and the concrete session
    name it gives (or None).

    ``create_session(name="vm-1")`` and ``retrieve_session(name=...)`` name a session as
    user space does: the name is classified on the reference with the kernel's rule
    (``ReferenceDriver.name_class``), since the model abstracts names to classes.
    ``retrieve_fd`` with a file position the session no longer has (its files were
    finished) stands for a token the session does not know: ``"unknown"``."""
    picks = dict(step.picks)
    raw: Any = None
    if step.call == "create_session":
        raw = picks.get("name")
        if not isinstance(raw, str) or raw in driver.NAME_CLASSES:
            return picks, None
    elif step.call == "retrieve_session" and isinstance(picks.get("name"), str):
        raw = picks.pop("name")
    elif step.call == "retrieve_fd" and isinstance(picks.get("file"), int):
        lst, sess = picks.get("list"), picks.get("session")
        sessions = state[OUTGOING] if lst == "out" else state[INCOMING]
        if (isinstance(sess, int) and 0 <= sess < len(sessions)
                and picks["file"] >= len(sessions[sess][S_FILES])):
            picks["file"] = "unknown"
        return picks, None
    else:
        return picks, None
    try:
        raw.encode("utf-8")
    except UnicodeEncodeError:
        raise TraceError(f"{source}: step {index}: {step.call}: a session name must be "
                         f"text that encodes as UTF-8 (as user space passes bytes), got "
                         f"{_repr(raw)}") from None
    key = "name" if step.call == "create_session" else "session"
    picks[key] = driver.name_class(step.call, raw)
    return picks, raw


def _shown_call(action: Action, raw_name: str | None) -> str:
    """The call as a report shows it: with the concrete session name a trace gave."""
    if raw_name is None:
        return str(action)
    name = json.dumps(raw_name, ensure_ascii=False)
    if len(name) > 72:
        name = name[:60] + f"...\" ({len(raw_name.encode('utf-8'))} bytes)"
    return f"{action.name}(name={name}) [{action}]"


def _context(model: LuoModel, state: State) -> str:
    """Why a call may not be callable: the state's phase, gates, budget and room."""
    b = model.bounds
    glob = state[GLOB]
    used = sum(m is not None for m in state[MEMFDS])
    phase = glob[PHASE]
    parts = [f"phase {st.PHASE_NAMES[phase] if phase < len(st.PHASE_NAMES) else phase}",
             f"{len(state[OUTGOING])} of {b.sessions} outgoing sessions (bound sessions)",
             f"{len(state[INCOMING])} incoming", f"{used} of {b.memfds} memfds",
             f"{glob[FAULTS]} of {b.faults} faults left",
             f"{glob[KEXECS]} of {b.kexecs} kexecs done"]
    if not model.design.legacy:
        deser = glob[st.DESER]
        device = ("open" if glob[DEVICE] else
                  "closed; deserialization failed, every open gives EIO"
                  if deser == st.DESER_FAILED else
                  "closed; its first open after the kexec deserializes the incoming "
                  "sessions (an open_device fault applies only to that open)"
                  if deser == st.DESER_PENDING else "closed (open_device first)")
        parts.insert(1, "/dev/liveupdate " + device)
        if deser == st.DESER_PENDING and not model.design.deserialize_validates_records:
            parts.insert(2, "this design does not check records (no corrupt:I fault)")
        if glob[REBOOTING]:
            parts.insert(1, "LUO's reboot gate closed (an outgoing close waits)")
        elif glob[PHASE] != st.RUNNING:
            parts.insert(1, "inside reboot()")
    return "; ".join(parts)


def _resolve(model: LuoModel, state: State, step: TraceStep, index: int,
             source: str, picks: dict[str, Any] | None = None) -> Action:
    enabled = [a for a in model.actions(state) if a.name == step.call]
    want = step.picks if picks is None else picks
    for a in enabled:
        if a.picks() == want:
            return a
    offered = ", ".join(str(a) for a in enabled) or "none"
    raise TraceError(f"{source}: step {index}: {step.call}"
                     f"({', '.join(f'{k}={v}' for k, v in step.picks.items())}) is not "
                     f"callable here (offered: {offered}; state: {_context(model, state)})")


def for_design(properties: Sequence[Property], design: Design) -> list[Property]:
    """The properties that speak about ``design``'s machine (``Property.designs``: a
    property of the session-based designs says nothing about the legacy machine)."""
    return [p for p in properties if p.designs == "all"
            or (p.designs == "legacy") == bool(design.legacy)]


def broken_properties(pre: State, action: Action, out: Outcome[State],
                      properties: Sequence[Property] = CATALOGUE) -> list[tuple[str, str]]:
    """(name, message) of every ``always`` property ``out.state`` breaks and every
    ``step`` property the transition breaks, in catalogue order: the oracle that replay,
    the mutants' random walks and the differential test apply to the reference."""
    broken: list[tuple[str, str]] = []
    for p in properties:
        if p.kind == "always":
            msg = p.check(out.state)
        elif p.kind == "step" and (p.triggers is None or action.name in p.triggers):
            msg = p.check(pre, action, out)
        else:
            continue
        if msg:
            broken.append((p.name, msg))
    return broken


def _pages_in(message: str) -> list[int]:
    return sorted({int(m) for m in re.findall(r"page (\d+)", message)})


def replay(trace: Trace, design: Design, *, compare_vars: bool = True,
           properties: Sequence[Property] = CATALOGUE,
           prefer: str | None = None) -> ReplayResult:
    """Replay ``trace`` on the reference under ``design`` (see the module docstring).
    When several properties break on the same step, ``prefer`` names the one to report
    (default: the property the trace's metadata names, a counterexample's own);
    otherwise the first in catalogue order."""
    if prefer is None:
        prefer = trace.property
    bounds = trace.bounds
    model = model_for(design, bounds, symmetry=False)
    driver = reference_for(design, bounds)
    result = ReplayResult(design.name, trace.bounds_name, design, bounds)
    properties = for_design(properties, design)
    state = model.init_states()[0]
    abstract = driver.abstract()
    if abstract != state:
        result.divergence = Divergence(0, "(cold boot)", "initial states differ",
                                       changes(view(state), view(abstract)))
        return result
    for index, tstep in enumerate(trace.steps, 1):
        picks, raw_name = _name_picks(tstep, driver, state, index, trace.source)
        try:
            action = _resolve(model, state, tstep, index, trace.source, picks)
        except TraceError as exc:
            if compare_vars:  # the trace's own design: the trace is wrong (exit 2)
                raise
            # another design than the one that recorded the trace: the designs behave
            # differently before this step, which is what the replay is asked to show
            result.divergence = Divergence(
                index, tstep.call, f"not callable under {design.name}: the designs differ "
                "before this step", [str(exc)])
            return result
        out = model.next_state(state, action)
        if raw_name is not None:
            driver.use_name(raw_name)
        shown = _shown_call(action, raw_name)
        try:
            ret, events = driver.apply(action)
        except NotCallable as exc:
            result.divergence = Divergence(index, shown, "the reference cannot issue "
                                           "this call", [str(exc)])
            return result
        result.steps.append((shown, ret))
        post = driver.abstract()
        if tstep.ret is not None and ret != tstep.ret:
            result.divergence = Divergence(
                index, shown, f"returned {E.ret_name(ret)}, the trace expects "
                f"{E.ret_name(tstep.ret)}", [f"model returns {E.ret_name(out.ret)}"])
            return result
        if ret != out.ret:
            result.divergence = Divergence(
                index, shown, f"reference returned {E.ret_name(ret)}, the model "
                f"{E.ret_name(out.ret)}", [])
            return result
        if post != out.state:
            result.divergence = Divergence(
                index, shown, "the reference state differs from the model's "
                "(model -> reference)", changes(view(out.state), view(post)))
            return result
        if compare_vars and tstep.vars is not None:
            mv = json.loads(json.dumps(view(out.state)))
            if mv != tstep.vars:
                result.divergence = Divergence(
                    index, shown, "the model's state differs from the state the "
                    "trace records (trace -> model)", changes(tstep.vars, mv))
                return result
        broken = broken_properties(abstract, action, Outcome(ret, post, events), properties)
        if broken:
            # several properties may break on one step: report the one asked about
            name, msg = next((b for b in broken if b[0] == prefer), broken[0])
            result.violation = _violation(driver, name, msg, index, action)
            rest = len(trace.steps) - index
            if rest > 0:
                result.notes.append(f"replay stops at the first violation: the trace's "
                                    f"{rest} later step(s) were not replayed")
            return result
        state, abstract = out.state, post
    return result


def _violation(driver: ReferenceDriver, prop: str, message: str, index: int,
               action: Action) -> Violation:
    """The violation with the census of the frames it names; when the message names no
    frame (a wrong return code, a lost handle), of every frame some object holds or names
    or KHO tracks at that step."""
    frames = range(len(driver.kernel.mem.frames))
    named = [p for p in _pages_in(message) if p in frames]
    if named:
        pages = {p: driver.census(p) for p in named}
    else:
        census = {p: driver.census(p) for p in frames}
        pages = {p: who for p, who in census.items()
                 if len(who) > 1 or "free" not in who[0] or "KHO" in who[0]}
    return Violation(prop, message, index, str(action), pages)
