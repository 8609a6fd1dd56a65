"""Exhaustive breadth-first exploration of any :class:`~luoverify.model.core.Model`.

Storage (chosen for the performance issue): each distinct state is kept once, as the
model's compact ``encode`` bytes (~100 bytes for the LUO model), as a key of one dict
that maps it to its BFS index; parent index, action id and depth live in ``array``
columns. States are numbered in BFS order, so the queue is just the index range, and the
first violation found for a property is a shortest one. The cyclic garbage collector is
paused during the search (nothing stored is cyclic; a collection over millions of live
tuples costs seconds).

Counterexamples are rebuilt from the parent links and then *concretized*: the stored
states are symmetry representatives, so the trace is re-run from the initial state,
choosing at each step the first enabled action whose successor has the stored
representative, which gives one consistently-labelled kernel-call script.
"""

from __future__ import annotations

import gc
import itertools
import signal
import sys
import threading
import time
from array import array
from collections.abc import Callable, Hashable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from luoverify.model.core import Action, Model, Outcome
from luoverify.model.property import Property

S = TypeVar("S", bound=Hashable)
#: entries of the raw-successor -> canonical-form memo before it is emptied (~200 B each)
CANON_CACHE_LIMIT = 1_000_000


@dataclass
class OutcomeStats:
    fired: int = 0
    new_states: int = 0


@dataclass
class KindStats:
    """Coverage of one action kind: in how many states it was enabled, and per outcome."""

    enabled: int = 0
    outcomes: dict[int, OutcomeStats] = field(default_factory=dict)


@dataclass
class Step(Generic[S]):
    """One transition of a concrete trace. ``action`` is None for the initial state."""

    action: Action | None
    ret: int
    state: S
    events: tuple[tuple[str, int], ...] = ()

    def outcome(self) -> Outcome[S]:
        return Outcome(self.ret, self.state, self.events)


@dataclass
class Counterexample(Generic[S]):
    prop: str
    message: str
    steps: list[Step[S]]

    @property
    def length(self) -> int:
        """Number of kernel calls in the trace."""
        return len(self.steps) - 1

    def transitions(self) -> list[tuple[S, Action, Outcome[S]]]:
        """(pre-state, call, outcome) for every call of the trace."""
        out = []
        for prev, step in itertools.pairwise(self.steps):
            assert step.action is not None
            out.append((prev.state, step.action, step.outcome()))
        return out


@dataclass
class Edges:
    """Transitions as four int columns (source, destination, action id, return value)."""

    src: array[int]
    dst: array[int]
    act: array[int]
    ret: array[int]

    def __len__(self) -> int:
        return len(self.src)

    def __iter__(self) -> Iterator[tuple[int, int, int, int]]:
        return zip(self.src, self.dst, self.act, self.ret, strict=True)


@dataclass
class ExploreResult(Generic[S]):
    states: int
    transitions: int
    depth: int
    seconds: float
    complete: bool
    #: per property: "holds", "violated", "unknown", or "not_applicable"
    status: dict[str, str]
    notes: dict[str, str]
    counterexamples: dict[str, Counterexample[S]]
    #: property -> label bit -> shortest counterexample whose path has that label
    extra_counterexamples: dict[str, dict[int, Counterexample[S]]]
    coverage: dict[str, KindStats]
    #: the explored graph, kept when asked for or when a graph property needs it
    edges: Edges | None
    actions: list[Action]
    keys: list[bytes]
    limit_reason: str | None = None
    #: states reached by a violation and therefore not expanded
    pruned: int = 0
    #: the BFS tree (a shortest-path tree): parent state index and the action id of the
    #: edge from it, per state (-1 for the initial states)
    parent: array[int] = field(default_factory=lambda: array("i"))
    via: array[int] = field(default_factory=lambda: array("i"))
    #: per violated property: seconds from the start until its first violation was seen
    found_seconds: dict[str, float] = field(default_factory=dict)
    #: the search was stopped by SIGINT (Ctrl-C); ``limit_reason`` says so
    interrupted: bool = False
    #: the compiled engine: (wall, CPU) seconds of its search alone, all threads' CPU;
    #: bytes per stored state (key, index, tree, hash table); threads
    search_seconds: tuple[float, float] | None = None
    bytes_per_state: float | None = None
    #: the compiled engine: bytes of the graph kept for the graph properties (0: none)
    graph_bytes: int | None = None
    threads: int = 1

    @property
    def rate(self) -> float:
        return self.states / self.seconds if self.seconds > 0 else float("inf")


@dataclass
class ExploreOptions:
    max_states: int | None = None
    #: stop after this many seconds (the result is then incomplete)
    max_seconds: float | None = None
    keep_graph: bool = False
    progress: bool = False
    #: properties judged impossible at these bounds: name -> reason
    not_applicable: dict[str, str] = field(default_factory=dict)
    #: do not expand a state reached by violating a safety property (as TLC and SPIN stop
    #: at an error): every counterexample then violates only its own property on the way,
    #: and a buggy design's space stays small. Off = explore past violations (--continue).
    prune_violations: bool = True
    #: classify(pre, action, outcome) -> bitmask of labels (e.g. real defects) the
    #: transition exhibits; each state keeps the union along its BFS path, and the first
    #: violation of each property per label is kept as an extra counterexample.
    classify: Callable[[Any, Action, Outcome[Any]], int] | None = None
    #: the labels ``classify`` can give a call of this name (None: any); lets the
    #: compiled engine skip violations that cannot add a label (checks/engine.py)
    labels_of_call: Callable[[str], int] | None = None
    #: stop as soon as a state has been expanded in which some safety property was
    #: violated (the search is then incomplete; every counterexample found is still a
    #: shortest one). For mutation testing: "is this mutant caught, and how?"
    stop_at_first: bool = False
    #: stop once every property has a counterexample (each still a shortest one)
    stop_when_all: bool = False
    #: the first SIGINT (Ctrl-C) stops the search with a partial result (``interrupted``)
    #: instead of raising KeyboardInterrupt (``check`` reports what it explored)
    partial_on_sigint: bool = False


class _Progress:
    """A progress line on stderr (tqdm), only for long runs on a terminal."""

    def __init__(self, enabled: bool) -> None:
        self.bar: Any = None
        if enabled:
            from tqdm import tqdm

            self.bar = tqdm(unit=" states", file=sys.stderr, mininterval=0.5,
                            dynamic_ncols=True, leave=False)
        self.last = 0

    def update(self, states: int, depth: int, queued: int) -> None:
        if self.bar is None:
            return
        self.bar.update(states - self.last)
        self.last = states
        self.bar.set_postfix(depth=depth, queue=queued, refresh=False)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


@dataclass(frozen=True)
class _Plan:
    """The properties one search checks, sorted by where the search checks them."""

    #: state properties, checked on every stored state
    always: list[Property]
    #: step properties, checked on every transition whose action can break them
    steps: list[Property]
    #: reachability goals on a state, and on a transition
    some_state: list[Property]
    some_step: list[Property]
    #: properties of the whole explored graph, judged after the search
    graphs: list[Property]


def _plan(properties: Sequence[Property], not_applicable: dict[str, str]) -> _Plan:
    """Sort ``properties`` by kind, leaving out those in ``not_applicable``."""
    live = [p for p in properties if p.name not in not_applicable]
    return _Plan(
        always=[p for p in live if p.kind == "always"],
        steps=[p for p in live if p.kind == "step"],
        some_state=[p for p in live if p.kind == "sometimes" and not p.on_step],
        some_step=[p for p in live if p.kind == "sometimes" and p.on_step],
        graphs=[p for p in live if p.kind == "graph"],
    )


#: a witness found by the search: (state index, action id or -1, message)
_Witness = tuple[int, int, str]


@dataclass
class _Search:
    """Everything the breadth-first search stores, filled in by :func:`_bfs`.

    States are numbered in BFS order; ``keys``, ``parent``, ``via``, ``depth_of`` and
    ``masks`` have one row per state.
    """

    #: encoded canonical state -> its index
    index: dict[bytes, int] = field(default_factory=dict)
    keys: list[bytes] = field(default_factory=list)
    parent: array[int] = field(default_factory=lambda: array("i"))
    via: array[int] = field(default_factory=lambda: array("i"))
    depth_of: array[int] = field(default_factory=lambda: array("H"))
    #: per state: the union of the labels (``classify`` bits) along its BFS path
    masks: array[int] = field(default_factory=lambda: array("Q"))
    #: action id -> action, in the order the actions were first enabled
    action_list: list[Action] = field(default_factory=list)
    #: every transition, filled only when the graph is kept
    edges: Edges = field(default_factory=lambda: Edges(array("i"), array("i"), array("i"),
                                                       array("i")))
    coverage: dict[str, KindStats] = field(default_factory=dict)
    #: first violation per safety property
    found: dict[str, _Witness] = field(default_factory=dict)
    #: seconds from the start until each entry of ``found``
    found_at: dict[str, float] = field(default_factory=dict)
    #: (property, label bit) -> first violation whose path carries that label
    found_by_label: dict[tuple[str, int], _Witness] = field(default_factory=dict)
    #: first witness per reachability goal
    reached: dict[str, _Witness] = field(default_factory=dict)
    #: states reached by a violation and not expanded
    pruned: set[int] = field(default_factory=set)
    transitions: int = 0
    limit_reason: str | None = None


def explore(
    model: Model[S],
    properties: Sequence[Property],
    options: ExploreOptions | None = None,
) -> ExploreResult[S]:
    """Breadth-first search of every reachable state, checking ``properties``.

    ``options`` (default :class:`ExploreOptions`) sets the limits, pruning and labelling.
    The result numbers states in BFS order (``keys``, ``parent`` and ``via`` have one row
    per state), gives each property a status (``holds``, ``violated``, ``unknown`` or
    ``not_applicable``) and each violated safety or graph property a shortest concrete
    counterexample; times are wall-clock seconds. A limit reached leaves ``complete``
    False and says why in ``limit_reason``; it is not an error. Raises ``AssertionError``
    when a counterexample cannot be concretized (the model's symmetry reduction is not a
    symmetry).
    """
    opts = options or ExploreOptions()
    start = time.perf_counter()
    plan = _plan(properties, opts.not_applicable)
    keep_graph = opts.keep_graph or bool(plan.graphs)
    gc_was = gc.isenabled()
    gc.disable()
    progress = _Progress(opts.progress)
    stop = _StopOnSigint(opts.partial_on_sigint)
    try:
        search = _bfs(model, plan, opts, keep_graph, start, progress, stop.requested)
    finally:
        stop.restore()
        progress.close()
        if gc_was:
            gc.enable()
    complete = search.limit_reason is None
    status, notes, cexs = _verdicts(model, properties, opts.not_applicable, search, complete)
    extras = _label_counterexamples(model, properties, search)
    if plan.graphs:
        _judge_graphs(model, plan.graphs, search, complete, status, notes, cexs)
    seconds = time.perf_counter() - start
    return ExploreResult(
        states=len(search.keys),
        transitions=search.transitions,
        depth=max(search.depth_of) if search.depth_of else 0,
        seconds=seconds,
        complete=complete,
        status=status,
        notes=notes,
        counterexamples=cexs,
        extra_counterexamples=extras,
        coverage=search.coverage,
        edges=search.edges if keep_graph else None,
        actions=search.action_list,
        keys=search.keys,
        limit_reason=search.limit_reason,
        pruned=len(search.pruned),
        parent=search.parent,
        via=search.via,
        found_seconds=search.found_at,
        interrupted=bool(stop.requested),
    )


class _StopOnSigint:
    """While the search runs, the first SIGINT (Ctrl-C) asks it to stop after the state
    it is expanding, so the caller gets the partial result (``interrupted``); a second
    one interrupts at once (KeyboardInterrupt). Only in the main thread (elsewhere
    Python delivers no signals)."""

    def __init__(self, enabled: bool) -> None:
        #: non-empty once SIGINT arrived (a list: the BFS loop reads it without a call)
        self.requested: list[bool] = []
        self._previous: Any = None
        if enabled and threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handle)

    def _handle(self, signum: int, frame: Any) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested.append(True)

    def restore(self) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
            self._previous = None


def _bfs(
    model: Model[S],
    plan: _Plan,
    opts: ExploreOptions,
    keep_graph: bool,
    start: float,
    progress: _Progress,
    stop: list[bool],
) -> _Search:
    """The search itself: store every reachable state, record the first witnesses.

    The hot loop works on local aliases of the :class:`_Search` columns (a local is
    cheaper than an attribute in CPython) and writes the two counters back at the end.
    """
    search = _Search()
    index = search.index
    canon_cache: dict[bytes, bytes] = {}
    keys = search.keys
    parent = search.parent
    via = search.via
    depth_of = search.depth_of
    masks = search.masks
    action_ids: dict[Action, int] = {}
    action_list = search.action_list
    edges = search.edges
    edge_src, edge_dst, edge_act, edge_ret = edges.src, edges.dst, edges.act, edges.ret
    coverage = search.coverage
    kind_of: dict[Action, str] = {}
    found = search.found
    found_at = search.found_at
    found_by_label = search.found_by_label
    reached = search.reached
    always, steps = plan.always, plan.steps
    some_state, some_step = plan.some_state, plan.some_step
    transitions = 0
    limit_reason: str | None = None
    prune = opts.prune_violations
    classify = opts.classify
    #: a model that says it reduces nothing (LuoModel(symmetry=False)) needs no canonical
    #: form and no memo of it
    no_symmetry = getattr(model, "symmetry", True) is False
    steps_for: dict[str, list[Property]] = {}
    pruned = search.pruned
    bad_states: set[int] = set()  # states that violate an always property themselves
    revived: list[int] = []

    def record(name: str, idx: int, aid: int, msg: str, mask: int) -> None:
        if name not in found:
            found[name] = (idx, aid, msg)
            found_at[name] = time.perf_counter() - start
        while mask:
            bit = mask & -mask
            mask ^= bit
            if (name, bit) not in found_by_label:
                found_by_label[(name, bit)] = (idx, aid, msg)

    def add(state: S, par: int, aid: int, depth: int, bad: bool, mask: int,
            data: bytes | None = None) -> int:
        if data is None:
            data = model.encode(state)
        masks.append(mask)
        idx = len(keys)
        index[data] = idx
        keys.append(data)
        parent.append(par)
        via.append(aid)
        depth_of.append(depth)
        for prop in always:
            if prune or prop.name not in found:
                msg = prop.check(state)
                if msg is not None:
                    bad = True
                    bad_states.add(idx)
                    record(prop.name, idx, -1, msg, mask)
        if bad and prune:
            pruned.add(idx)
        for prop in some_state:
            if prop.name not in reached:
                msg = prop.check(state)
                if msg is not None:
                    reached[prop.name] = (idx, -1, msg)
        return idx

    for init in model.init_states():
        c = model.canonical(init)
        if model.encode(c) not in index:
            add(c, -1, -1, 0, False, 0)
    nxt_index = 0
    while nxt_index < len(keys) or revived:
        if opts.max_states is not None and len(keys) >= opts.max_states:
            limit_reason = (f"state limit {opts.max_states} reached with "
                            f"{len(keys) - nxt_index} states still queued")
            break
        if (opts.max_seconds is not None and nxt_index & 0x3FF == 0
                and time.perf_counter() - start >= opts.max_seconds):
            limit_reason = (f"time limit {opts.max_seconds:g} s reached with "
                            f"{len(keys) - nxt_index} states still queued")
            break
        if stop:
            limit_reason = (f"interrupted (SIGINT) with {len(keys) - nxt_index} states "
                            "still queued")
            break
        if revived:
            cur = revived.pop()
        else:
            cur = nxt_index
            nxt_index += 1
            if cur in pruned:
                continue
        state = model.decode(keys[cur])
        depth = depth_of[cur]
        seen_kinds: set[str] = set()
        for action in model.actions(state):
            aid = action_ids.get(action)
            if aid is None:
                aid = len(action_list)
                action_ids[action] = aid
                action_list.append(action)
                kind_of[action] = model.action_kind(action)
            kind = kind_of[action]
            stats = coverage.get(kind)
            if stats is None:
                stats = coverage[kind] = KindStats()
            if kind not in seen_kinds:
                seen_kinds.add(kind)
                stats.enabled += 1
            out = model.next_state(state, action)
            transitions += 1
            bad = False
            # the labels of this transition's path, needed only for a violation or a
            # new state: classified lazily (most transitions reach a known state)
            tmask = -1
            step_props = steps_for.get(action.name)
            if step_props is None:  # the step properties this call can break
                step_props = steps_for[action.name] = [
                    p for p in steps if p.triggers is None or action.name in p.triggers]
            for prop in step_props:
                if prune or prop.name not in found:
                    msg = prop.check(state, action, out)
                    if msg is not None:
                        bad = True
                        if tmask < 0:
                            tmask = masks[cur] | (
                                classify(state, action, out) if classify else 0)
                        record(prop.name, cur, aid, msg, tmask)
            for prop in some_step:
                if prop.name not in reached:
                    msg = prop.check(state, action, out)
                    if msg is not None:
                        reached[prop.name] = (cur, aid, msg)
            found_dst: int | None
            nxt: S | None = None
            cdata = b""
            if out.state == state and not bad:
                found_dst = cur  # an error that changed nothing: no canonical form needed
            elif no_symmetry:
                nxt = out.state  # the canonical form is the state itself
                cdata = model.encode(nxt)
                found_dst = index.get(cdata)
            else:
                # many transitions reach the same raw successor: memoize its canonical
                # form by its bytes (bounded, so memory stays proportional to states)
                raw = model.encode(out.state)
                cached = canon_cache.get(raw)
                if cached is None:
                    nxt = model.canonical(out.state)
                    cached = model.encode(nxt)
                    if len(canon_cache) >= CANON_CACHE_LIMIT:
                        canon_cache.clear()
                    canon_cache[raw] = cached
                cdata = cached
                found_dst = index.get(cdata)
            o = stats.outcomes.get(out.ret)
            if o is None:
                o = stats.outcomes[out.ret] = OutcomeStats()
            o.fired += 1
            if found_dst is None:
                if nxt is None:
                    nxt = model.decode(cdata)
                if tmask < 0:
                    tmask = masks[cur] | (classify(state, action, out) if classify else 0)
                dst = add(nxt, cur, aid, depth + 1, bad, tmask, cdata)
                o.new_states += 1
            else:
                dst = found_dst
                if not bad and dst in pruned and dst not in bad_states:
                    # first reached by a violating step, now by a clean one: expand it
                    pruned.discard(dst)
                    if dst < cur:
                        revived.append(dst)
            if keep_graph:
                edge_src.append(cur)
                edge_dst.append(dst)
                edge_act.append(aid)
                edge_ret.append(out.ret)
        if cur & 0x3FF == 0:
            progress.update(len(keys), depth, len(keys) - nxt_index)
        if opts.stop_at_first and found:
            limit_reason = "stopped at the first violation"
            break
        if opts.stop_when_all and len(found) >= len(always) + len(steps):
            limit_reason = "stopped: every property has a counterexample"
            break
    search.transitions = transitions
    search.limit_reason = limit_reason
    return search


def _verdicts(
    model: Model[S],
    properties: Sequence[Property],
    not_applicable: dict[str, str],
    search: _Search,
    complete: bool,
) -> tuple[dict[str, str], dict[str, str], dict[str, Counterexample[S]]]:
    """Status, note and counterexample of every non-graph property (and of every property
    judged not applicable), in the order of ``properties``."""
    status: dict[str, str] = {}
    notes: dict[str, str] = {}
    cexs: dict[str, Counterexample[S]] = {}
    found, reached = search.found, search.reached
    for prop in properties:
        if prop.name in not_applicable:
            status[prop.name] = "not_applicable"
            notes[prop.name] = not_applicable[prop.name]
        elif prop.kind in ("always", "step"):
            if prop.name in found:
                status[prop.name] = "violated"
                idx, aid, msg = found[prop.name]
                notes[prop.name] = msg
                cexs[prop.name] = _counterexample_of(model, prop, search, idx, aid, msg)
            else:
                status[prop.name] = "holds" if complete else "unknown"
        elif prop.kind == "sometimes":
            if prop.name in reached:
                status[prop.name] = "holds"
                notes[prop.name] = reached[prop.name][2]
            else:
                status[prop.name] = "violated" if complete else "unknown"
                notes[prop.name] = "never reached: properties may hold vacuously"
    return status, notes, cexs


def _label_counterexamples(
    model: Model[S], properties: Sequence[Property], search: _Search
) -> dict[str, dict[int, Counterexample[S]]]:
    """Per property and label bit, the first counterexample whose path has that label."""
    extras: dict[str, dict[int, Counterexample[S]]] = {}
    for (name, bit), (idx, aid, msg) in sorted(search.found_by_label.items()):
        prop = next(p for p in properties if p.name == name)
        extras.setdefault(name, {})[bit] = _counterexample_of(model, prop, search, idx, aid,
                                                              msg)
    return extras


def _judge_graphs(
    model: Model[S],
    graphs: list[Property],
    search: _Search,
    complete: bool,
    status: dict[str, str],
    notes: dict[str, str],
    cexs: dict[str, Counterexample[S]],
    stuck_of: Callable[[Property], tuple[int, str] | None] | None = None,
) -> None:
    """Judge the graph properties on the explored graph, adding to ``status``, ``notes``
    and ``cexs``; a graph that is incomplete or pruned leaves them unknown. ``stuck_of``
    finds a property's first stuck state and note (default: on ``search.edges``, with
    networkx; the compiled engine passes its own, in C)."""
    from luoverify.checks.graphs import check_graph_property

    for prop in graphs:
        if not complete or search.pruned:
            status[prop.name] = "unknown"
            notes[prop.name] = ("the graph is incomplete" if not complete else
                                "states past a violation were not expanded "
                                "(use --continue)")
            continue
        stuck = (stuck_of(prop) if stuck_of is not None else
                 check_graph_property(model, search.keys, search.edges, prop))
        if stuck is None:
            status[prop.name] = "holds"
        else:
            idx, gmsg = stuck
            status[prop.name] = "violated"
            notes[prop.name] = gmsg
            cexs[prop.name] = _counterexample_of(model, prop, search, idx, -1, gmsg)


def _counterexample_of(
    model: Model[S], prop: Property, search: _Search, idx: int, aid: int, msg: str
) -> Counterexample[S]:
    return _counterexample(model, prop, search.keys, search.parent, search.via,
                           search.action_list, idx, aid, msg)


def path_to(parent: array[int], via: array[int], idx: int) -> list[tuple[int, int]]:
    """(state index, action id that led to it) from the root to ``idx``."""
    path: list[tuple[int, int]] = []
    while idx >= 0:
        path.append((idx, via[idx]))
        idx = parent[idx]
    path.reverse()
    return path


def _counterexample(
    model: Model[S],
    prop: Property,
    keys: list[bytes],
    parent: array[int],
    via: array[int],
    action_list: list[Action],
    idx: int,
    final_aid: int,
    msg: str,
) -> Counterexample[S]:
    """A concrete trace to state ``idx`` (plus the violating step, for step properties)."""
    path = path_to(parent, via, idx)
    relabeller = getattr(model, "canonical_map", None)
    if relabeller is None:
        steps, cur = _concretize_by_search(model, keys, path)
    else:
        steps, cur, frame = _concretize_by_maps(model, keys, path, action_list)
    if final_aid >= 0:
        if relabeller is not None:
            stored = action_list[final_aid]
            action = model.relabel_action(stored, frame)  # type: ignore[attr-defined]
            out = model.next_state(cur, action)
            last = Step(action, out.ret, out.state, out.events)
        else:
            def violates(a: Action, o: Outcome[S]) -> bool:
                return prop.check(cur, a, o) is not None

            last = _find_step(model, cur, violates)
        steps.append(last)
        assert last.action is not None
        msg = prop.check(cur, last.action, last.outcome()) or msg
    elif prop.kind in ("always",):
        msg = prop.check(cur) or msg
    return Counterexample(prop.name, msg, steps)


def trace_to(model: Model[S], result: ExploreResult[S], idx: int,
             final_aid: int = -1) -> list[Step[S]]:
    """A concrete shortest trace from the initial state to stored state ``idx``, then
    along the stored edge ``final_aid`` out of it (if given), in one labelling."""
    path = path_to(result.parent, result.via, idx)
    if getattr(model, "canonical_map", None) is None:
        steps, cur = _concretize_by_search(model, result.keys, path)
        if final_aid >= 0:
            want = result.actions[final_aid]
            steps.append(_find_step(model, cur, lambda a, o: a == want))
        return steps
    steps, cur, frame = _concretize_by_maps(model, result.keys, path, result.actions)
    if final_aid >= 0:
        action = model.relabel_action(result.actions[final_aid], frame)  # type: ignore[attr-defined]
        out = model.next_state(cur, action)
        steps.append(Step(action, out.ret, out.state, out.events))
    return steps


def _concretize_by_search(
    model: Model[S], keys: list[bytes], path: list[tuple[int, int]]
) -> tuple[list[Step[S]], S]:
    """For models without relabelling maps: pick, at each step, an action whose
    successor has the stored representative (needs an exact canonical form)."""
    targets = [keys[i] for i, _ in path]
    cur = model.decode(targets[0])
    steps: list[Step[S]] = [Step(None, 0, cur)]
    for target in targets[1:]:

        def reaches(a: Action, o: Outcome[S], t: bytes = target) -> bool:
            return model.encode(model.canonical(o.state)) == t

        out = _find_step(model, cur, reaches)
        steps.append(out)
        cur = out.state
    return steps, cur


def _concretize_by_maps(
    model: Model[S], keys: list[bytes], path: list[tuple[int, int]],
    action_list: list[Action],
) -> tuple[list[Step[S]], S, Any]:
    """Replay the stored path in one consistent labelling.

    The stored path is r0 -a0-> raw1 ~ r1 -a1-> raw2 ~ r2 ... where each r is the
    representative of the raw successor before it. Keeping the composite relabelling
    ``frame`` (representative ids -> concrete ids), each stored action is renamed into
    the concrete labelling and run there; the result must equal the representative's raw
    successor renamed the same way (a check that the reduction is a real symmetry).
    """
    m: Any = model
    rep = model.decode(keys[path[0][0]])
    cur = rep
    frame: Any = m.identity_frame(rep)
    # start from the model's own initial state, not its stored representative (they
    # differ when the initial state is not symmetric, e.g. scratch pages come first)
    for init in model.init_states():
        canon, perm = m.canonical_map(init)
        if model.encode(canon) == keys[path[0][0]]:
            cur, frame = init, m.invert(perm)
            break
    steps: list[Step[S]] = [Step(None, 0, cur)]
    for idx, aid in path[1:]:
        stored = action_list[aid]
        raw = model.next_state(rep, stored).state
        action = m.relabel_action(stored, frame)
        out = model.next_state(cur, action)
        canon, perm = m.canonical_map(raw)
        if model.encode(canon) != keys[idx]:
            raise AssertionError("the stored path is not reproducible")
        mine, my_perm = m.canonical_map(out.state)
        if mine == canon:
            # the concrete successor has the same representative: map straight back
            frame = m.invert(my_perm)
        else:
            # identical free pages may have been picked in another order: follow the call
            frame = m.carry(frame, rep, stored, raw)
            if m.relabel(raw, frame) != out.state:
                raise AssertionError(f"symmetry check failed replaying {action}")
            frame = m.compose(frame, perm)
        steps.append(Step(action, out.ret, out.state, out.events))
        rep, cur = canon, out.state
    return steps, cur, frame


def _find_step(
    model: Model[S], cur: S, accept: Callable[[Action, Outcome[S]], bool]
) -> Step[S]:
    for action in model.actions(cur):
        out = model.next_state(cur, action)
        if accept(action, out):
            return Step(action, out.ret, out.state, out.events)
    raise AssertionError("counterexample could not be concretized: the model's symmetry "
                         "reduction is not a symmetry of its transition relation")
