"""The compiled engine (issue #15): the LUO model's search in C generated from the encoding.

``explore_compiled(model, properties, options)`` answers what
:func:`luoverify.checks.explore.explore` answers (the same :class:`ExploreResult`:
counts, verdicts, shortest counterexamples, coverage, labelled extra counterexamples,
graph properties) for the designs and bounds the relational encoding covers, about two
orders of magnitude faster. How:

* ``checks/cgen.py`` emits the transition relation and the property forms of the
  encoding (``model/symbolic.py``, ``specs/zforms.py``) as C; ``checks/engine.c`` is the
  search (the explicit model's canonical form, packed states, pruning past violations,
  coverage, first witnesses, edges). gcc compiles both into a shared library, cached by
  the hash of every input (``cache_dir()``), loaded with ctypes.
* What C cannot answer is answered here from the stored states, in the explicit model:
  ``sometimes`` goals (a pass over the states in search order), the goal states of graph
  properties, the labels (``classify``) of violations, and every counterexample, which
  is rebuilt from the parent links and re-run through ``LuoModel.next_state`` by the
  generic explorer's own concretization (a stored state that the explicit model does not
  reproduce is an ``AssertionError``).

``unsupported(model, properties, options)`` lists why a search must stay on the generic
explorer (the encoding's own limits, a property without a Z3 form, no C compiler).
Numbers of states and transitions equal the generic explorer's (same canonical form);
state *numbering* differs (the encoding tries instances in its own order), so which of
several shortest counterexamples is reported may differ.
"""

from __future__ import annotations

import ctypes
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import time
from array import array
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from luoverify.checks import explore as ex
from luoverify.model import state as st
from luoverify.model import symbolic as sy
from luoverify.model.core import Action
from luoverify.model.luo import LuoModel
from luoverify.model.property import Property
from luoverify.model.state import State

#: the files whose text decides the generated C (a change to any rebuilds the library)
_INPUTS = (("luoverify.checks", "cgen.py"), ("luoverify.checks", "engine.c"),
           ("luoverify.model", "symbolic.py"), ("luoverify.model", "state.py"),
           ("luoverify.model", "design.py"), ("luoverify.model", "errno.py"),
           ("luoverify.specs", "zforms.py"))
_CFLAGS = ("-fPIC", "-fno-strict-aliasing")


def cache_dir() -> Path:
    """Where compiled engines are kept: ``$LUO_VERIFY_CACHE``, else
    ``$XDG_CACHE_HOME/luo-verify``, else ``~/.cache/luo-verify``."""
    if os.environ.get("LUO_VERIFY_CACHE"):
        return Path(os.environ["LUO_VERIFY_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "luo-verify"


#: engine.c MAXT
MAX_THREADS = 8


def default_threads() -> int:
    """The CPUs this process may run on, at most :data:`MAX_THREADS`."""
    return max(1, min(MAX_THREADS, len(os.sched_getaffinity(0))))


def compiler() -> str | None:
    """The C compiler the engine uses (``$CC`` or gcc or cc), or None."""
    for cand in (os.environ.get("CC"), "gcc", "cc"):
        if cand and shutil.which(cand):
            return cand
    return None


def unsupported(model: LuoModel, properties: Sequence[Property],
                not_applicable: dict[str, str]) -> list[str]:
    """Why this search cannot run on the compiled engine ([] when it can)."""
    why = list(dict.fromkeys(sy.unsupported(model.design, model.bounds)))
    from luoverify.specs import zforms as zf

    for p in properties if not why else ():  # (the design's reason covers the rest)
        if p.name in not_applicable or p.kind in ("sometimes", "graph"):
            continue  # judged here from the stored states
        if p.name == "no_preserved_in_scratch":
            continue  # no scratch page in the encoding: see _python_invariants
        if p.name not in zf.STATE_FORMS and p.name not in zf.STEP_FORMS:
            why.append(f"property {p.name} has no Z3 form ({zf.NOT_ENCODED.get(p.name, '')})")
    if compiler() is None:
        why.append("no C compiler (gcc or cc, or $CC) on PATH")
    return why


@dataclass(frozen=True)
class Library:
    """A compiled engine and what Python needs to read its results (see cgen.Generated)."""

    path: Path
    instances: list[sy.Inst]
    kinds: list[str]
    state_props: list[str]
    step_props: list[str]
    init: list[int]
    sizes: dict[str, int]
    #: the bytes of the one-dimensional fields in a slot state (cgen.Generated.layout)
    layout: dict[str, list[int]]
    #: CPU seconds spent building it now (0 when it came from the cache)
    build_seconds: float


def _fingerprint(model: LuoModel) -> str:
    h = hashlib.sha256()
    for pkg, name in _INPUTS:
        h.update(resources.files(pkg).joinpath(name).read_bytes())
    h.update(repr(model.design).encode())  # a frozen dataclass: every field
    h.update(repr(model.bounds).encode())
    h.update(" ".join(_CFLAGS).encode())
    return h.hexdigest()[:24]


def _inst_json(i: sy.Inst) -> list[Any]:
    return [i.name, [list(kv) for kv in i.args]]


def _cached(so: Path, meta: Path) -> dict[str, Any] | None:
    """The cache entry's metadata if the entry is whole (the library's SHA-256 is the one
    recorded when it was built), else None: a damaged entry is rebuilt, never loaded."""
    try:
        doc = json.loads(meta.read_text())
        ok = isinstance(doc, dict) and doc.get("sha256") == hashlib.sha256(
            so.read_bytes()).hexdigest() and all(
            k in doc for k in ("instances", "kinds", "state_props", "step_props", "init",
                               "sizes", "layout"))
    except (OSError, ValueError):
        return None
    return doc if ok else None


def _cache_dir_or_private(log: Callable[[str], None] | None) -> tuple[Path, bool]:
    """The cache folder, or a private temporary one when it cannot be written (then the
    engine is not kept: every run compiles); True when private."""
    d = cache_dir()
    try:
        d.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=d):
            pass
        return d, False
    except OSError as exc:
        if log:
            log(f"cannot use the engine cache {d} ({exc.strerror or exc}): compiling into "
                "a temporary folder (set LUO_VERIFY_CACHE to keep engines)")
        return Path(tempfile.mkdtemp(prefix="luo-verify-engine-")), True


def build(model: LuoModel, log: Callable[[str], None] | None = None) -> Library:
    """The compiled engine of ``model``'s design and bounds, from the cache or built now
    (needs a C compiler; ``ValueError`` for what the encoding does not cover,
    ``RuntimeError`` when the compiler or the file system fails)."""
    try:
        return _build(model, log)
    except OSError as exc:
        raise RuntimeError(f"building the engine: {exc}") from exc


def _build(model: LuoModel, log: Callable[[str], None] | None) -> Library:
    from luoverify.checks import cgen

    key = _fingerprint(model)
    d, private = _cache_dir_or_private(log)
    so, meta = d / f"engine-{key}.so", d / f"engine-{key}.json"
    t0 = time.process_time()
    c0 = os.times()
    doc = _cached(so, meta)
    if doc is None:
        if log:
            log(f"compiling the engine for {model.design.name}"
                + ("" if private else f" (cached in {d})"))

        def kind_of(inst: sy.Inst) -> str:
            return model.action_kind(Action(inst.name, inst.args))

        gen = cgen.generate(model.design, model.bounds, kind_of)
        cc = compiler()
        if cc is None:
            raise RuntimeError("no C compiler (gcc or cc, or $CC) on PATH")
        with tempfile.TemporaryDirectory(dir=d) as tmp:
            work = Path(tmp)
            (work / "gen.h").write_text(gen.header)
            objs, jobs = [], []
            for n, src in enumerate(gen.sources):
                (work / f"part{n}.c").write_text(src)
                objs.append(str(work / f"part{n}.o"))
                # the search at -O2; the generated instances at -O1 (straight-line code:
                # -O2 doubles gcc's time for a few per cent of search speed)
                opt = "-O2" if n == len(gen.sources) - 1 else "-O1"
                jobs.append(subprocess.Popen(
                    [cc, opt, *_CFLAGS, "-c", "-o", objs[-1], f"part{n}.c"], cwd=work,
                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
            try:
                for job in jobs:
                    _out, err = job.communicate()
                    if job.returncode != 0:
                        raise RuntimeError(f"{cc} failed: {err[-2000:]}")
            finally:  # Ctrl-C or a failed part: no compiler is left running
                for job in jobs:
                    if job.poll() is None:
                        job.kill()
                        job.wait()
            out = work / "engine.so"
            done = subprocess.run([cc, "-shared", "-o", str(out), *objs],
                                  capture_output=True, text=True, check=False)
            if done.returncode != 0 or not out.is_file():
                raise RuntimeError(f"{cc} failed: {done.stderr[-2000:] or 'no library'}")
            doc = {"instances": [_inst_json(i) for i in gen.instances], "kinds": gen.kinds,
                   "state_props": gen.state_props, "step_props": gen.step_props,
                   "init": gen.init, "sizes": gen.sizes, "layout": gen.layout,
                   "sha256": hashlib.sha256(out.read_bytes()).hexdigest()}
            (work / "meta.json").write_text(json.dumps(doc))
            # the library first, then the metadata naming its hash: a run that sees the
            # new metadata sees the library it describes (os.replace is atomic)
            os.replace(out, so)
            os.replace(work / "meta.json", meta)
    c1 = os.times()
    spent = (time.process_time() - t0) + (c1.children_user - c0.children_user) + (
        c1.children_system - c0.children_system)
    insts = [sy.Inst(n, tuple((k, v) for k, v in args)) for n, args in doc["instances"]]
    return Library(so, insts, doc["kinds"], doc["state_props"], doc["step_props"],
                   doc["init"], doc["sizes"], doc["layout"], spent)


_TICK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_int)


def _load(lib: Library) -> Any:
    """A private copy of the library: its search keeps global state, and dlopen of one
    path twice gives one copy."""
    tmp = tempfile.NamedTemporaryFile(suffix=".so", delete=False)  # noqa: SIM115
    tmp.close()
    try:
        shutil.copyfile(lib.path, tmp.name)
        c = ctypes.CDLL(tmp.name)
    except OSError as exc:
        raise RuntimeError(f"loading the engine: {exc}") from exc
    finally:
        os.unlink(tmp.name)  # the mapping stays valid
    for name in ("states", "transitions", "events", "edges", "graph_bytes"):
        getattr(c, name).restype = ctypes.c_int64
    c.bytes_per_state.restype = ctypes.c_double
    c.search.argtypes = [ctypes.c_char_p, ctypes.c_int64, ctypes.c_int, ctypes.c_int,
                         ctypes.c_int64, ctypes.c_int, ctypes.c_int, ctypes.c_int, _TICK,
                         ctypes.c_int]
    c.state_marshal.argtypes = [ctypes.c_int64, ctypes.c_char_p]
    c.state_slots.argtypes = [ctypes.c_int64, ctypes.c_char_p]
    vp = ctypes.c_void_p
    c.tree.argtypes = [vp, vp, vp]
    c.coverage.argtypes = [vp, vp, vp]
    c.events.argtypes = [vp]
    c.first_stuck.argtypes = [ctypes.c_char_p, ctypes.POINTER(ctypes.c_int64)]
    c.first_stuck.restype = ctypes.c_int64
    return c


class _Run:
    """One search on a loaded library, and the explicit-model views of its results."""

    def __init__(self, model: LuoModel, lib: Library) -> None:
        self.model = model
        self.lib = lib
        self.c = _load(lib)
        self.buf = ctypes.create_string_buffer(1 << 16)
        self.slot_buf = ctypes.create_string_buffer(4096)
        self._slots_of = -1
        self._slots = sy.S()
        self.n = 0
        self.parent = array("i")
        self.inst = array("h")
        self.flags = bytearray()
        self._states: dict[int, State] = {}
        #: action ids of the explicit actions the counterexamples use
        self.action_list: list[Action] = []
        self._aid: dict[tuple[int, int], int] = {}

    def state(self, i: int) -> State:
        """The stored (canonical) explicit state ``i``."""
        got = self._states.get(i)
        if got is None:
            got = st.decode(self.key(i))
            if len(self._states) > 100_000:
                self._states.clear()
            self._states[i] = got
        return got

    def key(self, i: int) -> bytes:
        """The stored state ``i`` as ``model.encode`` bytes (written by the engine)."""
        n = self.c.state_marshal(ctypes.c_int64(i), self.buf)
        return self.buf.raw[:n]

    def action(self, i: int, inst: int) -> Action:
        """The explicit call of instance ``inst`` in stored state ``i``: the slot state
        the engine expands (``symbolic.encode`` of the state), read for the fields that
        place objects in lists (``symbolic.positions``)."""
        if self._slots_of != i:
            self.c.state_slots(ctypes.c_int64(i), self.slot_buf)
            raw = self.slot_buf.raw
            self._slots = sy.S({k: tuple((raw[j] ^ 0x80) - 0x80 for j in idx)
                                for k, idx in self.lib.layout.items()})
            self._slots_of = i
        return sy.explicit_action(self._slots, self.lib.instances[inst])

    def aid(self, i: int, inst: int) -> int:
        key = (i, inst)
        got = self._aid.get(key)
        if got is None:
            got = self._aid[key] = len(self.action_list)
            self.action_list.append(self.action(i, inst))
        return got


class _Keys(Sequence[bytes]):
    """The stored states as the generic explorer's keys (``model.encode``), on demand."""

    def __init__(self, run: _Run) -> None:
        self.run = run

    def __len__(self) -> int:
        return self.run.n

    def __getitem__(self, i: Any) -> Any:
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(self.run.n))]
        return self.run.key(int(i))


class _Via:
    """Per state, the action id (into ``run.action_list``) of its tree edge."""

    def __init__(self, run: _Run) -> None:
        self.run = run

    def __getitem__(self, i: int) -> int:
        par = self.run.parent[i]
        return -1 if par < 0 else self.run.aid(par, self.run.inst[i])


def explore_compiled(model: LuoModel, properties: Sequence[Property],
                     options: ex.ExploreOptions | None = None,
                     log: Callable[[str], None] | None = None, threads: int | None = None
                     ) -> ex.ExploreResult[State]:
    """What ``explore(model, properties, options)`` answers, searched by the compiled
    engine with ``threads`` threads (default :func:`default_threads`; the result does
    not depend on it). ``options.max_seconds``, ``progress`` and ``partial_on_sigint``
    are honoured every 4096 expansions. Raises ``ValueError`` when :func:`unsupported`
    is not empty or ``threads`` is not 1..8."""
    opts = options or ex.ExploreOptions()
    threads = default_threads() if threads is None else threads
    if not 1 <= threads <= MAX_THREADS:
        raise ValueError(f"threads must be 1..{MAX_THREADS}, not {threads}")
    why = unsupported(model, properties, opts.not_applicable)
    if why:
        raise ValueError("; ".join(why))
    lib = build(model, log)
    # times (and --max-seconds) count from here: compiling is reported apart
    start = time.perf_counter()
    run = _Run(model, lib)
    plan = ex._plan(properties, opts.not_applicable)
    checked = {p.name for p in plan.always + plan.steps}
    live = 0
    for i, name in enumerate(lib.state_props):
        if name in checked:
            live |= 1 << i
    for j, name in enumerate(lib.step_props):
        if name in checked:
            live |= 1 << (len(lib.state_props) + j)
    progress = ex._Progress(opts.progress)
    stop = ex._StopOnSigint(opts.partial_on_sigint)
    why_stopped: list[str] = []

    def tick(states: int, queued: int, depth: int) -> int:
        progress.update(states, depth, queued)
        if stop.requested:
            why_stopped.append(f"interrupted (SIGINT) with {queued} states still queued")
            return 1
        if opts.max_seconds is not None and time.perf_counter() - start >= opts.max_seconds:
            why_stopped.append(f"time limit {opts.max_seconds:g} s reached with {queued} "
                               "states still queued")
            return 1
        return 0

    init = bytes(x & 0xFF for x in lib.init)
    keep_graph = opts.keep_graph or bool(plan.graphs)
    callback = _TICK(tick)
    w0, c0 = time.perf_counter(), time.process_time()
    try:
        rc = run.c.search(init, live, int(opts.prune_violations), int(model.symmetry),
                          -1 if opts.max_states is None else opts.max_states,
                          int(keep_graph), int(opts.stop_at_first), int(opts.stop_when_all),
                          callback, threads)
    finally:
        stop.restore()
        progress.close()
    search_seconds = (time.perf_counter() - w0, time.process_time() - c0)
    if rc < 0:
        raise MemoryError("the compiled engine ran out of memory")
    run.n = n = run.c.states()
    run.parent = array("i", bytes(4 * n))
    run.inst = array("h", bytes(2 * n))
    flags = (ctypes.c_uint8 * n)()
    run.c.tree(run.parent.buffer_info()[0], run.inst.buffer_info()[0], flags)
    run.flags = bytearray(flags)
    limit_reason = {0: None, 3: "stopped at the first violation",
                    4: "stopped: every property has a counterexample"}.get(rc)
    if rc == 1:
        limit_reason = f"state limit {opts.max_states} reached with states still queued"
    elif rc == 2:
        limit_reason = why_stopped[0] if why_stopped else "stopped"
    complete = limit_reason is None
    search = ex._Search()
    search.transitions = run.c.transitions()
    search.limit_reason = limit_reason
    search.keys = _Keys(run)  # type: ignore[assignment]
    search.parent = run.parent
    search.via = _Via(run)  # type: ignore[assignment]
    search.action_list = run.action_list
    search.pruned = {i for i in range(n) if run.flags[i] & 1}
    _coverage(run, search)
    _witnesses(run, plan, search, opts)
    _sometimes(run, plan, search)
    _python_invariants(run, plan, search)
    status, notes, cexs = ex._verdicts(model, properties, opts.not_applicable, search,
                                      complete)
    extras = ex._label_counterexamples(model, properties, search)
    if plan.graphs:
        ex._judge_graphs(model, plan.graphs, search, complete, status, notes, cexs,
                         _stuck_of(run))
    return ex.ExploreResult(
        states=n, transitions=search.transitions, depth=run.c.depth_max(),
        seconds=time.perf_counter() - start, complete=complete, status=status,
        notes=notes, counterexamples=cexs, extra_counterexamples=extras,
        coverage=search.coverage, edges=None,  # in C, for the graph properties only
        actions=run.action_list, keys=search.keys, limit_reason=limit_reason,
        pruned=len(search.pruned), parent=run.parent,
        via=search.via,
        found_seconds={}, interrupted=bool(stop.requested), search_seconds=search_seconds,
        bytes_per_state=run.c.bytes_per_state(), graph_bytes=run.c.graph_bytes(),
        threads=threads)


def _coverage(run: _Run, search: ex._Search) -> None:
    nk = len(run.lib.kinds)
    en = (ctypes.c_int64 * nk)()
    fi = (ctypes.c_int64 * (nk * 512))()
    ne = (ctypes.c_int64 * (nk * 512))()
    run.c.coverage(en, fi, ne)
    for k, kind in enumerate(run.lib.kinds):
        if not en[k]:
            continue
        stats = search.coverage[kind] = ex.KindStats(en[k])
        for r in range(512):
            if fi[k * 512 + r]:
                stats.outcomes[r - 256] = ex.OutcomeStats(fi[k * 512 + r], ne[k * 512 + r])
    search.coverage = dict(sorted(search.coverage.items()))


def _violation(run: _Run, prop: Property, idx: int, inst: int) -> str:
    """The property's message on the stored state (inst < 0) or transition."""
    rep = run.state(idx)
    if inst < 0:
        return prop.check(rep) or ""
    action = run.action(idx, inst)
    return prop.check(rep, action, run.model.next_state(rep, action)) or ""


def _witnesses(run: _Run, plan: ex._Plan, search: ex._Search, opts: ex.ExploreOptions) -> None:
    """``found`` (first violation per property) and, with ``classify``, the first
    violation per (property, label) from the engine's log of violations, in its order.

    A violation can add a label only through its path (the labels of its state) or its
    own call; with ``labels_of_call`` a violation that cannot add a label not yet
    recorded for its property is skipped without running the call (exact: what it
    could add is already there)."""
    by_name = {p.name: p for p in plan.always + plan.steps}
    names = run.lib.state_props + run.lib.step_props
    n_ev = run.c.events(None)
    evs = (ctypes.c_int64 * (3 * max(n_ev, 1)))()
    run.c.events(evs)
    masks: dict[int, int] = {0: 0} if run.n else {}
    classify = opts.classify
    labels_of = opts.labels_of_call
    #: per instance, the labels its call can add (-1: unknown, any)
    can_add = [labels_of(i.name) if labels_of else -1 for i in run.lib.instances]
    recorded: dict[str, int] = {}

    def transition_mask(i: int, inst: int) -> int:
        if classify is None or can_add[inst] == 0:
            return 0
        rep = run.state(i)
        action = run.action(i, inst)
        return classify(rep, action, run.model.next_state(rep, action))

    def mask_of(i: int) -> int:
        path = []
        while i not in masks:
            path.append(i)
            i = run.parent[i]
        m = masks[i]
        for j in reversed(path):
            m |= transition_mask(run.parent[j], run.inst[j])
            masks[j] = m
        return m

    for e in range(n_ev):
        p, idx, inst = evs[3 * e], evs[3 * e + 1], evs[3 * e + 2]
        name = names[p]
        prop = by_name[name]
        if name not in search.found:
            aid = -1 if inst < 0 else run.aid(idx, inst)
            search.found[name] = (idx, aid, _violation(run, prop, idx, inst))
        if classify is None:
            continue
        base = mask_of(idx)
        have = recorded.get(name, 0)
        add = -1 if inst >= 0 and can_add[inst] < 0 else (
            base | (can_add[inst] if inst >= 0 else 0))
        if add != -1 and not add & ~have:
            continue
        new = (base | (transition_mask(idx, inst) if inst >= 0 else 0)) & ~have
        if not new:
            continue
        recorded[name] = have | new
        aid = -1 if inst < 0 else run.aid(idx, inst)
        msg = _violation(run, prop, idx, inst)
        while new:
            bit = new & -new
            new ^= bit
            search.found_by_label[(name, bit)] = (idx, aid, msg)


def _sometimes(run: _Run, plan: ex._Plan, search: ex._Search) -> None:
    """Reachability goals, from the stored states in number order (state goals) and
    their transitions in the explicit model (step goals), until each is reached."""
    model = run.model
    states = [p for p in plan.some_state]
    steps = [p for p in plan.some_step]
    for i in range(run.n):
        if not states and not steps:
            return
        rep = run.state(i)
        for prop in list(states):
            msg = prop.check(rep)
            if msg is not None:
                search.reached[prop.name] = (i, -1, msg)
                states.remove(prop)
        if not steps or run.flags[i] & 1:
            continue
        for action in model.actions(rep):
            out = model.next_state(rep, action)
            for prop in list(steps):
                msg = prop.check(rep, action, out)
                if msg is not None:
                    search.reached[prop.name] = (i, -1, msg)
                    steps.remove(prop)


def _stuck_of(run: _Run) -> Callable[[Property], tuple[int, str] | None]:
    """For checks/explore.py _judge_graphs: the goal states are found here, in the
    explicit model; the first state that reaches none, in C."""
    from luoverify.checks.graphs import stuck_message

    def stuck_of(prop: Property) -> tuple[int, str] | None:
        goal = bytes(prop.check(run.state(i)) is not None for i in range(run.n))
        stuck = ctypes.c_int64()
        first = run.c.first_stuck(goal, ctypes.byref(stuck))
        if first == -2:
            raise MemoryError("the compiled engine ran out of memory")
        return None if first < 0 else (first, stuck_message(prop, stuck.value, run.n))

    return stuck_of


def _python_invariants(run: _Run, plan: ex._Plan, search: ex._Search) -> None:
    """State properties the encoding has no form for: ``no_preserved_in_scratch``. It
    constrains scratch pages only; the encoding has none (``symbolic.unsupported``
    refuses bounds with scratch pages), and no call makes a page scratch (the flag is
    set only by ``state.initial_state``). So it is checked on the initial state, where a
    scratch page would have to be; any other such property is refused."""
    for prop in plan.always:
        if prop.name in run.lib.state_props:
            continue
        if prop.name != "no_preserved_in_scratch":
            raise ValueError(f"{prop.name} has no Z3 form: use --engine generic")
        if prop.check(run.state(0)) is not None or any(
                pg[st.P_SCRATCH] for pg in run.state(0)[st.PAGES]):
            raise RuntimeError(f"{prop.name}: a scratch page in the compiled engine's "
                               "initial state; use --engine generic")
