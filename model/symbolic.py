"""The LUO/KHO model as a symbolic transition relation (for Z3: BMC and induction).

One encoding, three readings. Every action is written once, below, against a *universe*
``U`` that says what a state field is and how to quantify over objects:

* :class:`Finite` with Python values -- the encoding *runs*: fields are tuples of ints and
  bools. ``tests/proofs/test_symbolic.py`` runs it on every reachable state of a small instance
  and checks that it yields exactly the successors of ``LuoModel.next_state`` (decoded
  back to explicit states), and that every property's Z3 form agrees with its predicate;
* :class:`Finite` with Z3 constants -- the same code builds the bounded transition
  relation used by bounded model checking (``checks/prove.py``): one Z3 variable per field
  element, objects are slots ``0..n-1``;
* :class:`Unbounded` -- the same code over uninterpreted sorts ``Page``, ``Memfd``,
  ``Sess``, ``File``: fields are Z3 arrays, "for every page" is a quantifier or a lambda.
  The inductive proofs use this reading: they hold for any number of sessions, files,
  memfds, pages, folios per memfd and kexec cycles.

Representation (relational: objects are identities, not list positions). A session or
file is a slot with an ``exists`` flag and a creation number ``seq``; the explicit model's
list order is the order of ``seq`` (sessions are serialized, files frozen and popped in
that order). A file carries two memberships: ``file_live`` (in its session's file list) and
``file_in_snapshot`` (an entry of its session's serialized snapshot), so a snapshot entry
outlives the file it was taken from (6.19, LUO-M11) without a separate sort. Page-valued
fields come with a ``has`` flag instead of ``-1``, because an uninterpreted sort has no "none".

Where the Unbounded reading over-approximates (sound for safety: every explicit step is
admitted, and some steps the explicit model never takes are admitted too):

* allocation preference: the explicit allocator takes the free page with the smallest
  (referenced, tracked, stamped, content, index); unbounded, any free page, and any
  allocation may fail with ENOMEM (a kernel allocation can always fail);
* order: the first failing file of a session is any failing file (the serialization
  cursor is exact: the unfrozen outgoing session with the smallest ``seq``);
* bounds: the limits on sessions, files per session, memfds, other users' pages,
  kexecs and faults are not imposed;
* memfd_create allocates any set of free pages (any size);
* a memfd retrieve's folio failure (``insert``) fails one of the file's folios; without
  the KHO-M11 fix a chosen subset of the folios is left reserved (the kernel leaves those
  after the failing one: their order is not encoded).

Not encoded (``unsupported()`` names them; ``luo-verify prove`` rejects such runs with exit
2): scratch pages, atomic reboot, memfds of more than one folio in the bounded readings
(the decoder would need folio order), designs without the restore stamp check (KHO-M6),
and variant files that replace steps.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import z3

from luoverify.model import errno as E
from luoverify.model import state as st
from luoverify.model.bounds import Bounds
from luoverify.model.core import Action
from luoverify.model.design import Design
from luoverify.model.luo import (
    INSERT_ERRNO,
    MEMFD_PRESERVE_FAULTS,
    MEMFD_RETRIEVE_FAULTS,
    preserve_fault_points,
    retrieve_fault_points,
)
from luoverify.model.state import State

T = Any  # a term: a Python int/bool (concrete reading) or a z3 expression

Fn = Callable[..., Any]  # a predicate or map over objects, written as a lambda

# --------------------------------------------------------------------------- term helpers
# They fold Python values, so the concrete reading never builds a Z3 term.


def If(c: T, a: T, b: T) -> T:
    if c is True:
        return a
    if c is False:
        return b
    if a is b:
        return a
    return z3.If(c, a, b)


def _fold(xs: Sequence[T], unit: bool, build: Callable[..., T]) -> T:
    """``build(*xs)`` with the unit dropped and the absorbing value (``not unit``)
    short-circuiting: the shared body of And and Or."""
    out = []
    for x in xs:
        if x is (not unit):
            return not unit
        if x is not unit:
            out.append(x)
    if not out:
        return unit
    return out[0] if len(out) == 1 else build(*out)


def And(*xs: T) -> T:
    return _fold(xs, True, z3.And)


def Or(*xs: T) -> T:
    return _fold(xs, False, z3.Or)


def Not(x: T) -> T:
    if isinstance(x, bool):
        return not x
    return z3.Not(x)


def Implies(a: T, b: T) -> T:
    return Or(Not(a), b)


def Eq(a: T, b: T) -> T:
    if isinstance(a, (bool, int)) and isinstance(b, (bool, int)):
        return a == b
    return a == b


def In(x: T, values: Sequence[int]) -> T:
    return Or(*[Eq(x, v) for v in values])


def b2i(x: T) -> T:
    return If(x, 1, 0)


def lex_lt(a: Sequence[T], b: Sequence[T]) -> T:
    """Lexicographic ``a < b`` of two equally long key tuples."""
    if not a:
        return False
    return Or(a[0] < b[0], And(Eq(a[0], b[0]), lex_lt(a[1:], b[1:])))


# ------------------------------------------------------------------------------ universes

DOMAINS = ("P", "M", "S", "F")  # pages, memfds, sessions, files
DOM_NAMES = {"P": "Page", "M": "Memfd", "S": "Sess", "F": "File"}


class Finite:
    """Objects are slots ``0..n-1``; fields are tuples (of Python values or Z3 terms)."""

    exact = True

    def __init__(self, sizes: dict[str, int]) -> None:
        self.sizes = sizes
        self.assumptions: list[T] = []

    def elems(self, d: str) -> range:
        return range(self.sizes[d])

    def get(self, a: Sequence[T], i: T) -> T:
        if isinstance(i, int):
            return a[i]
        out = a[-1]
        for k in range(len(a) - 2, -1, -1):
            out = _ite_tree(i == k, a[k], out)
        return out

    def tab(self, d: str, f: Callable[[T], T]) -> tuple[T, ...]:
        return tuple(f(i) for i in self.elems(d))

    def upd(self, a: Sequence[T], i: T, v: T) -> tuple[T, ...]:
        return tuple(If(Eq(i, k), v, a[k]) for k in range(len(a)))

    def all(self, d: str, f: Callable[[T], T]) -> T:
        return And(*[f(i) for i in self.elems(d)])

    def any(self, d: str, f: Callable[[T], T]) -> T:
        return Or(*[f(i) for i in self.elems(d)])

    def count(self, d: str, f: Callable[[T], T]) -> T:
        total: T = 0
        for i in self.elems(d):
            c = f(i)
            if c is True:
                total = total + 1
            elif c is not False:
                total = total + If(c, 1, 0)
        return total

    def at_least_two(self, d: str, f: Callable[[T], T]) -> T:
        return self.count(d, f) >= 2

    def choose(self, d: str, cond: Callable[[T], T],
               key: Callable[[T], Sequence[T]] | None = None,
               fresh: bool = False) -> tuple[T, T]:
        """The first element with ``cond`` and the smallest ``key`` (ties: lowest slot)."""
        found: T = False
        best: T = 0
        best_key: tuple[T, ...] | None = None
        for i in self.elems(d):
            c = cond(i)
            if c is False:
                continue
            k = tuple(key(i)) if key is not None else ()
            if best_key is None:
                take = c
                best, best_key = If(take, i, best), k
            else:
                take = And(c, Or(Not(found), lex_lt(k, best_key)))
                best = If(take, i, best)
                best_key = tuple(If(take, x, y) for x, y in zip(k, best_key, strict=True))
            found = Or(found, c)
        return found, best

    def bounded(self, cond: T) -> T:
        """A limit of the bounds (kept in the bounded readings)."""
        return cond


class Unbounded:
    """Objects are elements of uninterpreted sorts; fields are Z3 arrays."""

    exact = False

    def __init__(self) -> None:
        self.sorts = {d: z3.DeclareSort(DOM_NAMES[d]) for d in DOMAINS}
        self.assumptions: list[T] = []
        self._fresh = itertools.count()

    def sort(self, d: str) -> z3.SortRef:
        return self.sorts[d]

    def fresh(self, d: str, name: str) -> T:
        return z3.Const(f"{name}!{next(self._fresh)}", self.sorts[d])

    def get(self, a: T, i: T) -> T:
        return a[i]

    def tab(self, d: str, f: Callable[[T], T]) -> T:
        x = self.fresh(d, "x")
        return z3.Lambda([x], lift(f(x)))

    def upd(self, a: T, i: T, v: T) -> T:
        return z3.Store(a, i, lift(v))

    def all(self, d: str, f: Callable[[T], T]) -> T:
        x = self.fresh(d, "x")
        body = f(x)
        if isinstance(body, bool):
            return body
        return z3.ForAll([x], body)

    def any(self, d: str, f: Callable[[T], T]) -> T:
        x = self.fresh(d, "x")
        body = f(x)
        if isinstance(body, bool):
            return body
        return z3.Exists([x], body)

    def count(self, d: str, f: Callable[[T], T]) -> T:
        raise TypeError("counting is not first-order: the unbounded reading drops limits")

    def at_least_two(self, d: str, f: Callable[[T], T]) -> T:
        x, y = self.fresh(d, "x"), self.fresh(d, "y")
        return z3.Exists([x, y], z3.And(x != y, lift(f(x)), lift(f(y))))

    def choose(self, d: str, cond: Callable[[T], T],
               key: Callable[[T], Sequence[T]] | None = None,
               fresh: bool = False) -> tuple[T, T]:
        """Any element with ``cond``, or none (over-approximates the ordered choice).

        ``fresh``: a new object (session, file, memfd). The kernel has no limit on them,
        so the unbounded reading assumes one exists (a model may interpret a sort as a
        finite set; this keeps "no free slot" out of it)."""
        c = self.fresh(d, "pick")
        if fresh:
            self.assumptions.append(lift(cond(c)))
            return True, c
        found = z3.Bool(f"found!{next(self._fresh)}")
        self.assumptions.append(z3.Implies(found, lift(cond(c))))
        return found, c

    def bounded(self, cond: T) -> T:
        return True


def lift(v: T) -> T:
    if isinstance(v, bool):
        return z3.BoolVal(v)
    if isinstance(v, int):
        return z3.IntVal(v)
    return v


Universe = Finite | Unbounded

# ----------------------------------------------------------------------------- the state
# name -> (kind, domains): kind "int" | "bool" | "P" (a page) | "M" (a memfd) | "S"
SCALARS: dict[str, str] = {"kexecs": "int", "phase": "int", "faults": "int", "seq": "int",
                           "rebooting": "int", "device": "int", "deser": "int"}
FIELDS: dict[str, tuple[str, tuple[str, ...]]] = {
    # pages
    "owner": ("int", ("P",)),
    "kho_tracked": ("bool", ("P",)),
    "stamped": ("bool", ("P",)),
    "content": ("int", ("P",)),
    # memfds
    "memfd_alive": ("bool", ("M",)),
    "memfd_user_fd": ("bool", ("M",)),
    "memfd_folio": ("bool", ("M", "P")),
    # sessions
    "session_exists": ("bool", ("S",)),
    "session_status": ("int", ("S",)),
    "session_seq": ("int", ("S",)),
    "session_has_block": ("bool", ("S",)),
    "session_block": ("P", ("S",)),
    "session_frozen": ("bool", ("S",)),
    "session_vetoed": ("bool", ("S",)),
    "session_snapshot": ("bool", ("S",)),
    "snapshot_has_block": ("bool", ("S",)),
    "snapshot_block": ("P", ("S",)),
    # files
    "file_live": ("bool", ("F",)),
    "file_in_snapshot": ("bool", ("F",)),
    "file_session": ("S", ("F",)),
    "file_seq": ("int", ("F",)),
    "file_state": ("int", ("F",)),
    "file_has_memfd": ("bool", ("F",)),
    "file_memfd": ("M", ("F",)),
    "file_has_ser": ("bool", ("F",)),
    "file_ser": ("P", ("F",)),
    "file_folio": ("bool", ("F", "P")),
    "file_handle": ("bool", ("F",)),
    "file_tried": ("bool", ("F",)),
    "file_expect_known": ("bool", ("F", "P")),
    "file_expect": ("int", ("F", "P")),
    "snapshot_has_ser": ("bool", ("F",)),
    "snapshot_ser": ("P", ("F",)),
    "snapshot_folio": ("bool", ("F", "P")),
    "snapshot_handle": ("bool", ("F",)),
}

OUT_STATUSES = (st.OUT_OPEN, st.OUT_CLOSING)
IN_STATUSES = (st.IN_NEW, st.IN_RETRIEVED, st.IN_FINISHED, st.IN_STUCK, st.IN_RELISTED)


class S(dict[str, Any]):
    """A symbolic (or concrete) state: field name -> scalar or array."""

    def with_(self, **changes: Any) -> S:
        out = S(self)
        out.update(changes)
        return out


@dataclass(frozen=True)
class Inst:
    """One action instance: a kernel call with its arguments as terms.

    ``name`` and ``args`` follow ``LuoModel.actions``; object arguments are slots (or
    constants of a sort) instead of list positions: ``session`` a session slot, ``file``
    a file slot (its session is the file's), ``memfd`` / ``page`` slots.
    """

    name: str
    args: tuple[tuple[str, Any], ...]

    def arg(self, key: str) -> Any:
        for k, v in self.args:
            if k == key:
                return v
        return None

    def __str__(self) -> str:
        return f"{self.name}({', '.join(f'{k}={v}' for k, v in self.args)})"


@dataclass
class Step:
    """What one action instance does: enabled when ``guard``; returns ``ret``."""

    guard: T
    ret: T
    post: S
    #: a restore was refused (no stamp) -- restore_once
    refused: T
    #: the handler's retrieve() ran, and whether it had run before -- data_intact and
    #: retrieve_at_most_once
    hretrieve: T
    hretrieve_again: T
    #: the file slot the handler's retrieve ran for (data_intact), or None
    rfile: T
    #: the bounded reading ran out of slots (the bound is too small for the encoding)
    overflow: T


def unsupported(design: Design, bounds: Bounds | None) -> list[str]:
    """Why this design / bounds cannot be encoded (empty: it can)."""
    why = []
    if design.legacy:
        why.append("the legacy global state machine (model/legacy.py) is not encoded: "
                   "the symbolic encoding reads the session-based model")
    if design.steps:
        why.append("the design replaces kernel steps (a variant file with STEPS): the "
                   "symbolic encoding only reads Design flags")
    if not design.restore_checks_stamp:
        why.append("restore without the stamp check (KHO-M6) is not encoded")
    if not design.metadata_outside_scratch:
        why.append("scratch pages are not encoded (KHO-M7)")
    if bounds is not None:
        if bounds.scratch:
            why.append(f"scratch pages are not encoded (bound scratch={bounds.scratch})")
        if bounds.folios > 1:
            why.append(f"the bounded encoding has memfds of at most one folio "
                       f"(bound folios={bounds.folios})")
        if bounds.reboot != "interleaved":
            why.append("only the interleaved reboot is encoded (bound reboot=atomic)")
    return why


def slot_sizes(b: Bounds) -> dict[str, int]:
    """Slots the bounded reading needs: incoming and outgoing sessions coexist (2S);
    a session's files plus snapshot entries that outlived them (6.19) need up to 3F per
    session pair. Running out is detected (``overflow``) and reported, never ignored."""
    return {"P": b.pages, "M": b.memfds, "S": 2 * b.sessions, "F": 3 * b.sessions * b.files}


class SymbolicLuo:
    """The actions of :class:`luoverify.model.luo.LuoModel`, over a universe ``U``."""

    def __init__(self, design: Design, bounds: Bounds, U: Universe) -> None:
        self.d = design
        self.b = bounds
        self.U = U

    # ------------------------------------------------------------------ variables
    def variables(self, tag: str) -> S:
        """Fresh Z3 variables for one state (``tag`` distinguishes steps)."""
        U = self.U
        s = S()
        for name in SCALARS:
            s[name] = z3.Int(f"{name}@{tag}")
        for name, (kind, doms) in FIELDS.items():
            if isinstance(U, Finite):
                s[name] = _fin_vars(f"{name}@{tag}", kind, [U.sizes[d] for d in doms])
            else:
                rng = (z3.IntSort() if kind == "int" else z3.BoolSort() if kind == "bool"
                       else U.sort(kind))
                s[name] = z3.Array(f"{name}@{tag}", *[U.sort(d) for d in doms], rng)
        return s

    def init(self) -> S:
        """The cold-booted machine (concrete values in the finite reading)."""
        U = self.U
        assert isinstance(U, Finite)
        sz = U.sizes
        s = S(kexecs=0, phase=st.RUNNING, faults=self.b.faults, seq=0, rebooting=0, device=1,
              deser=st.DESER_DONE)
        for name, (kind, doms) in FIELDS.items():
            zero: Any = False if kind == "bool" else 0
            if name == "owner":
                zero = st.FREE
            s[name] = _const(zero, [sz[d] for d in doms])
        return s

    # ------------------------------------------------------------------ helpers
    def g(self, s: S, name: str, *idx: T) -> T:
        a = s[name]
        for i in idx:
            a = self.U.get(a, i)
        return a

    def set1(self, s: S, name: str, i: T, v: T) -> S:
        return s.with_(**{name: self.U.upd(s[name], i, v)})

    def setrow(self, s: S, name: str, i: T, row: Callable[[T], T]) -> S:
        """``name[i][p] = row(p)`` for every p (2-D fields indexed by F or M, then P)."""
        U = self.U
        if isinstance(U, Finite):
            new = tuple(U.tab("P", row) if Eq(i, k) is True else
                        tuple(If(Eq(i, k), row(p), s[name][k][p]) for p in U.elems("P"))
                        for k in range(len(s[name])))
            return s.with_(**{name: new})
        a = s[name]
        x = U.fresh(FIELDS[name][1][0], "r")
        p = U.fresh("P", "p")
        return s.with_(**{name: z3.Lambda([x, p], If(x == i, lift(row(p)), a[x, p]))})

    def get2(self, s: S, name: str, i: T, p: T) -> T:
        U = self.U
        if isinstance(U, Finite):
            return U.get(U.get(s[name], i), p)
        return s[name][i, p]

    def map_f(self, s: S, name: str, f: Callable[[T], T]) -> S:
        return s.with_(**{name: self.U.tab("F", f)})

    def map_fp(self, s: S, name: str, f: Callable[[T, T], T]) -> S:
        U = self.U
        if isinstance(U, Finite):
            return s.with_(**{name: tuple(tuple(f(i, p) for p in U.elems("P"))
                                          for i in U.elems("F"))})
        x, p = U.fresh("F", "x"), U.fresh("P", "p")
        return s.with_(**{name: z3.Lambda([x, p], lift(f(x, p)))})

    def map_mp(self, s: S, name: str, f: Callable[[T, T], T]) -> S:
        U = self.U
        if isinstance(U, Finite):
            return s.with_(**{name: tuple(tuple(f(i, p) for p in U.elems("P"))
                                          for i in U.elems("M"))})
        x, p = U.fresh("M", "x"), U.fresh("P", "p")
        return s.with_(**{name: z3.Lambda([x, p], lift(f(x, p)))})

    def map(self, s: S, name: str, d: str, f: Callable[[T], T]) -> S:
        return s.with_(**{name: self.U.tab(d, f)})

    def outgoing(self, s: S, x: T) -> T:
        return And(self.g(s, "session_exists", x), In(self.g(s, "session_status", x), OUT_STATUSES))

    def incoming(self, s: S, x: T) -> T:
        return And(self.g(s, "session_exists", x), In(self.g(s, "session_status", x), IN_STATUSES))

    def file_of(self, s: S, f: T, x: T) -> T:
        """File ``f`` is listed in session ``x``."""
        return And(self.g(s, "file_live", f), Eq(self.g(s, "file_session", f), x))

    def nfiles_pos(self, s: S, x: T) -> T:
        return self.U.any("F", lambda f: self.file_of(s, f, x))

    def rebooting(self, s: S) -> T:
        """The machine is inside reboot() (the phase; 6.19's rwsem blocks on it)."""
        return Not(Eq(s["phase"], st.RUNNING))

    def gate_closed(self, s: S) -> T:
        """luo.gate_closed: LUO's own ``rebooting`` flag, in designs with the gate."""
        return And(self.d.block_mutations_in_reboot, Eq(s["rebooting"], 1))

    def not_retrieved(self, s: S, list: str, x: T) -> T:
        """luo.not_retrieved: an incoming session with an fd, no longer retrieved."""
        if list != "in":
            return False
        sst = self.g(s, "session_status", x)
        return Or(Eq(sst, st.IN_RELISTED),
                  And(self.d.finish_unlinks_session, Eq(sst, st.IN_FINISHED)))

    def luo_ref(self, s: S, f: T, m: T) -> T:
        return And(
            self.g(s, "file_live", f),
            self.g(s, "file_has_memfd", f),
            Eq(self.g(s, "file_memfd", f), m),
            In(self.g(s, "file_state", f), (st.PRESERVED, st.FROZEN, st.F_OK)),
        )

    def managed(self, s: S, m: T) -> T:
        return self.U.any("F", lambda f: self.luo_ref(s, f, m))

    def referenced(self, s: S, p: T) -> T:
        """Some object names page ``p`` (the allocator's preference, luo._referenced_pages)."""
        U, g = self.U, self.g
        return Or(
            U.any("M", lambda m: And(g(s, "memfd_alive", m), self.get2(s, "memfd_folio", m, p))),
            U.any(
                "S",
                lambda x: And(
                    g(s, "session_exists", x),
                    Or(
                        And(g(s, "session_has_block", x), Eq(g(s, "session_block", x), p)),
                        And(
                            g(s, "session_snapshot", x),
                            g(s, "snapshot_has_block", x),
                            Eq(g(s, "snapshot_block", x), p),
                        ),
                    ),
                ),
            ),
            U.any(
                "F",
                lambda f: Or(
                    And(
                        g(s, "file_live", f),
                        Or(
                            And(g(s, "file_has_ser", f), Eq(g(s, "file_ser", f), p)),
                            self.get2(s, "file_folio", f, p),
                        ),
                    ),
                    And(
                        g(s, "file_in_snapshot", f),
                        Or(
                            And(g(s, "snapshot_has_ser", f), Eq(g(s, "snapshot_ser", f), p)),
                            self.get2(s, "snapshot_folio", f, p),
                        ),
                    ),
                ),
            ),
        )

    def pick_free(self, s: S) -> tuple[T, T]:
        """luo.pick_free(scratch=False): the free page with the smallest key."""
        g = self.g
        return self.U.choose(
            "P",
            lambda p: Eq(g(s, "owner", p), st.FREE),
            lambda p: (
                b2i(self.referenced(s, p)),
                b2i(g(s, "kho_tracked", p)),
                b2i(g(s, "stamped", p)),
                g(s, "content", p),
            ),
        )

    def alloc_kernel_page(self, s: S) -> tuple[T, T, S]:
        found, p = self.pick_free(s)
        s2 = self.set1(self.set1(s, "owner", p, st.ALLOC), "content", p, st.ZERO)
        return found, p, s2

    def free_page(self, s: S, p: T, cond: T = True) -> S:
        g = self.g
        return self.set1(self.set1(s, "owner", p, If(cond, st.FREE, g(s, "owner", p))),
                         "content", p, If(cond, st.ZERO, g(s, "content", p)))

    def new_file_slot(self, s: S) -> tuple[T, T]:
        g = self.g
        return self.U.choose(
            "F",
            lambda f: And(Not(g(s, "file_live", f)), Not(g(s, "file_in_snapshot", f))),
            fresh=True,
        )

    def new_memfd_slot(self, s: S) -> tuple[T, T]:
        return self.U.choose("M", lambda m: Not(self.g(s, "memfd_alive", m)), fresh=True)

    def ite_state(self, c: T, a: S, b: S) -> S:
        """Field-wise ``If(c, a, b)``."""
        if c is True:
            return a
        if c is False:
            return b
        return S({k: _ite_tree(c, a[k], b[k]) for k in a})

    # ------------------------------------------------------------------ instances
    def instances(self) -> list[Inst]:
        """Every action instance (the finite reading: one per slot combination; the
        unbounded reading: one per action shape, objects as fresh constants)."""
        U, b, d = self.U, self.b, self.d
        out: list[Inst] = []

        def objs(dom: str, name: str) -> Sequence[T]:
            if isinstance(U, Finite):
                return list(U.elems(dom))
            return [U.fresh(dom, name)]

        sizes: Sequence[Any] = range(b.folios + 1) if isinstance(U, Finite) else ["any"]
        for size in sizes:
            out.append(Inst("memfd_create", (("size", size), ("scratch", 0))))
        for m in objs("M", "m"):
            out.append(Inst("memfd_write", (("memfd", m),)))
        for m in objs("M", "m"):
            out.append(Inst("close_memfd", (("memfd", m),)))
        for p in objs("P", "p"):
            out.append(Inst("alloc_pages", (("page", p),)))
        for p in objs("P", "p"):
            out.append(Inst("free_pages", (("page", p),)))
        out.append(Inst("open_device", ()))
        for x in objs("S", "s"):
            out.append(Inst("open_device", (("fault", "alloc"), ("session", x))))
            if d.deserialize_validates_records:
                out.append(Inst("open_device", (("fault", "corrupt"), ("session", x))))
        for f in objs("F", "f"):
            out.append(Inst("open_device", (("fault", "handler"), ("file", f))))
        out.append(Inst("close_device", ()))
        out.append(Inst("create_session", (("name", "new"),)))
        out.append(Inst("create_session", (("name", "dup"),)))
        if d.validate_session_name:
            out.append(Inst("create_session", (("name", "invalid"),)))
        for x in objs("S", "s"):
            out.append(Inst("retrieve_session", (("session", x),)))
        out.append(Inst("retrieve_session", (("session", "unknown"),)))
        for kind in ("out", "in"):
            for x in objs("S", "s"):
                L = (("list", kind), ("session", x))
                out.append(Inst("preserve_fd", (*L, ("fd", "any"), ("token", "dup"))))
                for m in objs("M", "m"):
                    out.append(Inst("preserve_fd", (*L, ("fd", m), ("fault", None))))
                    for point in preserve_fault_points(d):
                        out.append(Inst("preserve_fd", (*L, ("fd", m), ("fault", point))))
                out.append(Inst("preserve_fd", (*L, ("fd", "devnull"))))
                out.append(Inst("preserve_fd", (*L, ("fd", "closed"))))
                out.append(Inst("retrieve_fd", (*L, ("file", "unknown"), ("fault", None))))
                out.append(Inst("finish", (*L, ("fault", None))))
                out.append(Inst("finish", (*L, ("fault", "veto"))))
                out.append(Inst("close_session", (*L, ("fault", None))))
                if kind == "in":
                    out.append(Inst("close_session", (*L, ("fault", "veto"))))
            for f in objs("F", "f"):
                out.append(Inst("retrieve_fd", (("list", kind), ("file", f), ("fault", None))))
                for point in (*retrieve_fault_points(d), "insert"):
                    out.append(Inst("retrieve_fd", (("list", kind), ("file", f),
                                                    ("fault", point))))
        out.append(Inst("reboot", ()))
        if d.block_mutations_in_reboot:
            out.append(Inst("reboot", (("fault", "alloc"),)))
        if d.skip_serialize_preserve_context:
            out.append(Inst("reboot", (("image", "preserve_context"),)))
        for x in objs("S", "s"):
            out.append(Inst("luo_session_serialize", (("session", x), ("fault", None))))
        for f in objs("F", "f"):
            out.append(Inst("luo_session_serialize", (("file", f), ("fault", "freeze"))))
        if d.kho_finalize:
            out.append(Inst("kho_finalize", (("fault", None),)))
            out.append(Inst("kho_finalize", (("fault", "finalize"),)))
        out.append(Inst("kernel_kexec", ()))
        out.append(Inst("kernel_kexec", (("fault", "unwind"),)))
        if not d.skip_serialize_preserve_context:
            out.append(Inst("kernel_kexec", (("image", "preserve_context"),)))
        return out

    # ------------------------------------------------------------------ transitions
    def step(self, s: S, a: Inst) -> Step:
        """The guard, return value, successor and events of ``a`` in ``s``."""
        fn = getattr(self, "do_" + a.name)
        out: Step = fn(s, **dict(a.args))
        return out

    def _step(self, guard: T, ret: T, post: S, *, refused: T = False, hretrieve: T = False,
              again: T = False, rfile: T = None, overflow: T = False) -> Step:
        return Step(guard, ret, post, refused, hretrieve, again, rfile, overflow)

    # --- user space ---------------------------------------------------------------
    def do_memfd_create(self, s: S, size: Any, scratch: int) -> Step:
        """memfd_create() + ftruncate + write "A" (luo.do_memfd_create)."""
        g, U = self.g, self.U
        has_slot, slot = self.new_memfd_slot(s)
        if size == "any":  # unbounded: any set of free pages
            assert isinstance(U, Unbounded)
            chosen = z3.Array(f"newfolios!{next(U._fresh)}", U.sort("P"), z3.BoolSort())
            pv = U.fresh("P", "p")
            U.assumptions.append(z3.ForAll([pv], z3.Implies(
                chosen[pv], g(s, "owner", pv) == st.FREE)))
            ok: T = z3.Bool(f"ok!{next(U._fresh)}")
            s2 = self.map(s, "owner", "P", lambda p: If(chosen[p], st.ALLOC, g(s, "owner", p)))
            s2 = self.map(
                s2, "content", "P", lambda p: If(chosen[p], st.DATA_A, g(s, "content", p))
            )
            s2 = self.setrow(s2, "memfd_folio", slot, lambda p: chosen[p])
        elif size == 0:
            ok = True
            s2 = self.setrow(s, "memfd_folio", slot, lambda p: False)
        else:
            ok, p = self.pick_free(s)
            s2 = self.set1(self.set1(s, "owner", p, st.ALLOC), "content", p, st.DATA_A)
            s2 = self.setrow(s2, "memfd_folio", slot, lambda q: Eq(q, p))
        s2 = self.set1(self.set1(s2, "memfd_alive", slot, True), "memfd_user_fd", slot, True)
        return self._step(has_slot, If(ok, 0, -E.ENOMEM), self.ite_state(ok, s2, s))

    def do_memfd_write(self, s: S, memfd: T) -> Step:
        g, U = self.g, self.U
        m = memfd
        fol: Fn = lambda p: self.get2(s, "memfd_folio", m, p)  # noqa: E731
        guard = And(g(s, "memfd_alive", m), g(s, "memfd_user_fd", m), U.any("P", fol),
                    U.all("P", lambda p: Implies(fol(p), Eq(g(s, "content", p), st.DATA_A))))
        post = self.map(s, "content", "P", lambda p: If(fol(p), st.DATA_B, g(s, "content", p)))
        return self._step(guard, 0, post)

    def fput_all(self, s: S, touched: Callable[[T], T]) -> S:
        """Drop references: a memfd with no user and no LUO reference left dies, and its
        folios are freed (luo.fput_memfd), for every memfd ``touched`` names."""
        g = self.g
        dies = {}

        def die(m: T) -> T:
            return And(touched(m), g(s, "memfd_alive", m), Not(g(s, "memfd_user_fd", m)),
                       Not(self.managed(s, m)))

        U = self.U
        if isinstance(U, Finite):
            dies = {m: die(m) for m in U.elems("M")}
            dm: Callable[[T], T] = lambda m: dies[m] if isinstance(m, int) else U.get(  # noqa: E731
                tuple(dies[k] for k in U.elems("M")), m)
        else:
            dm = die
        freed: Fn = lambda p: U.any("M", lambda m: And(dm(m), self.get2(s, "memfd_folio", m, p)))  # noqa: E731
        s2 = self.map(s, "owner", "P", lambda p: If(freed(p), st.FREE, g(s, "owner", p)))
        s2 = self.map(s2, "content", "P", lambda p: If(freed(p), st.ZERO, g(s, "content", p)))
        s2 = self.map(s2, "memfd_alive", "M", lambda m: And(g(s, "memfd_alive", m), Not(dm(m))))
        s2 = self.map_mp(
            s2, "memfd_folio", lambda m, p: And(self.get2(s, "memfd_folio", m, p), Not(dm(m)))
        )
        return s2

    def do_close_memfd(self, s: S, memfd: T) -> Step:
        g = self.g
        m = memfd
        guard = And(g(s, "memfd_alive", m), g(s, "memfd_user_fd", m))
        s2 = self.set1(s, "memfd_user_fd", m, False)
        return self._step(guard, 0, self.fput_all(s2, lambda x: Eq(x, m)))

    def do_alloc_pages(self, s: S, page: T) -> Step:
        g, U = self.g, self.U
        p = page
        room = U.bounded(U.count("P", lambda q: Eq(g(s, "owner", q), st.OTHER)) < self.b.others
                         ) if isinstance(U, Finite) else True
        guard = And(Eq(g(s, "owner", p), st.FREE), room)
        post = self.set1(self.set1(s, "owner", p, st.OTHER), "content", p, st.FOREIGN)
        return self._step(guard, 0, post)

    def do_free_pages(self, s: S, page: T) -> Step:
        p = page
        return self._step(Eq(self.g(s, "owner", p), st.OTHER), 0, self.free_page(s, p))

    # --- /dev/liveupdate --------------------------------------------------------------
    def n_outgoing(self, s: S) -> T:
        return self.U.count("S", lambda x: self.outgoing(s, x))

    def do_open_device(self, s: S, fault: str | None = None, session: T = None,
                       file: T = None) -> Step:
        """open("/dev/liveupdate") (luo.do_open_device): exclusive; the first open after
        a kexec deserializes (luo.luo_session_deserialize), EIO once that failed."""
        closed = Eq(s["device"], 0)
        deser = s["deser"]
        pending = Eq(deser, st.DESER_PENDING)
        if fault is not None:
            guard = And(closed, pending, s["faults"] > 0)
            failed, post, refused = self.deserialize_fails(
                s.with_(faults=s["faults"] - 1), fault, session, file)
            if fault == "handler":
                guard = And(guard, self.incoming(s, self.g(s, "file_session", file)),
                            self.g(s, "file_live", file))
            else:
                guard = And(guard, self.incoming(s, session))
            return self._step(guard, If(failed, -E.EIO, 0),
                              self.ite_state(failed, post, post.with_(device=1)),
                              refused=refused)
        eio = Eq(deser, st.DESER_FAILED)
        ret = If(Not(closed), -E.EBUSY, If(eio, -E.EIO, 0))
        opened = s.with_(device=1, deser=If(pending, st.DESER_DONE, deser))
        return self._step(True, ret, self.ite_state(Eq(ret, 0), opened, s))

    def deserialize_fails(self, s: S, fault: str, x: T, f: T) -> tuple[T, S, T]:
        """luo.luo_session_deserialize with a fault: (the open fails, the state after).

        ``alloc``/``corrupt`` at session ``x``: the sessions before it (serialization
        order, ``session_seq``) were rebuilt. ``handler`` at file ``f``: its session and
        those before it were, with the files before ``f``. The third value: a restore
        of the discard was refused."""
        g, d = self.g, self.d
        if fault == "handler":
            x = g(s, "file_session", f)
        inc: Fn = lambda y: self.incoming(s, y)  # noqa: E731
        before: Fn = lambda y: g(s, "session_seq", y) < g(s, "session_seq", x)  # noqa: E731
        cut: Fn = lambda h: And(self.file_of(s, h, x),  # noqa: E731
                                g(s, "file_seq", h) >= g(s, "file_seq", f))
        if fault == "handler" and not d.deserialize_propagates_file_errors:
            # LUO-M1: the file's error is dropped; every session is rebuilt without it
            r = self.map(self.leak(s, cut, lambda y: False), "file_live", "F",
                         lambda h: And(g(s, "file_live", h), Not(cut(h))))
            return False, r.with_(deser=st.DESER_SWALLOWED), False
        if fault == "handler":
            built_s: Fn = lambda y: And(inc(y), Or(before(y), Eq(y, x)))  # noqa: E731
        else:
            built_s = lambda y: And(inc(y), before(y))  # noqa: E731
        lost_f: Fn = lambda h: Or(cut(h) if fault == "handler" else False, And(  # noqa: E731
            g(s, "file_live", h), inc(g(s, "file_session", h)),
            Not(built_s(g(s, "file_session", h)))))
        lost_s: Fn = lambda y: And(inc(y), Not(built_s(y)))  # noqa: E731
        built_f: Fn = lambda h: And(g(s, "file_live", h), inc(g(s, "file_session", h)),  # noqa: E731
                                    Not(lost_f(h)))
        r = self.leak(s, lost_f, lost_s)
        keep_s: Fn = built_s
        refused: T = False
        if d.discard_deserialized:
            if d.discard_reclaims_pages:
                r, refused = self.restore_free_named(r, built_f, built_s)
            else:
                r = self.leak(r, built_f, built_s)
            keep_s = lambda y: False  # noqa: E731
        r = self.map(r, "session_exists", "S", lambda y: And(
            g(s, "session_exists", y), Or(Not(inc(y)), keep_s(y))))
        r = self.map(r, "file_live", "F", lambda h: And(
            g(s, "file_live", h), Not(lost_f(h)), Or(Not(inc(g(s, "file_session", h))),
                                                     keep_s(g(s, "file_session", h)))))
        cached = fault != "alloc" or d.deserialize_caches_alloc_error
        return True, r.with_(deser=st.DESER_FAILED if cached else st.DESER_SWALLOWED), refused

    def named_by(self, s: S, files: Fn, sessions: Fn, p: T) -> T:
        """Page ``p`` is a ser or folio of a file in ``files`` or the files block of a
        session in ``sessions``."""
        g, U = self.g, self.U
        return Or(
            U.any("F", lambda h: And(files(h), Or(
                self.get2(s, "file_folio", h, p),
                And(g(s, "file_has_ser", h), Eq(g(s, "file_ser", h), p))))),
            U.any("S", lambda y: And(sessions(y), g(s, "session_has_block", y),
                                     Eq(g(s, "session_block", y), p))))

    def leak(self, s: S, files: Fn, sessions: Fn) -> S:
        """luo.leak_pages: the reserved pages these records name are left to the next
        kexec (owner LEAKED)."""
        g = self.g
        return self.map(s, "owner", "P", lambda p: If(
            And(Eq(g(s, "owner", p), st.RESV), self.named_by(s, files, sessions, p)),
            st.LEAKED, g(s, "owner", p)))

    def restore_free_named(self, s: S, files: Fn, sessions: Fn) -> tuple[S, T]:
        """kho_restore_free() of every page the records name (the discard's reclaim);
        with the refusal flag (a named page without stamp)."""
        g, U = self.g, self.U
        named: Fn = lambda p: self.named_by(s, files, sessions, p)  # noqa: E731
        refused = U.any("P", lambda p: And(named(p), Not(g(s, "stamped", p))))
        restored: Fn = lambda p: And(named(p), g(s, "stamped", p))  # noqa: E731
        r = self.map(s, "stamped", "P", lambda p: And(g(s, "stamped", p), Not(restored(p))))
        r = self.map(r, "owner", "P", lambda p: If(restored(p), st.FREE, g(s, "owner", p)))
        r = self.map(r, "content", "P", lambda p: If(restored(p), st.ZERO, g(s, "content", p)))
        return r, refused

    def do_close_device(self, s: S) -> Step:
        return self._step(Eq(s["device"], 1), 0, s.with_(device=0))

    def do_create_session(self, s: S, name: str) -> Step:
        g, U, d = self.g, self.U, self.d
        offered = And(Eq(s["device"], 1),
                      Or(Not(self.rebooting(s)), d.block_mutations_in_reboot))
        busy = self.gate_closed(s)
        if name == "invalid":  # offered only where the design validates names
            return self._step(offered, -E.EINVAL, s)
        if name == "dup":
            guard = And(offered, U.any("S", lambda x: self.outgoing(s, x)))
            return self._step(guard, If(busy, -E.EBUSY, -E.EEXIST), s)
        room = self.n_outgoing(s) < self.b.sessions if isinstance(U, Finite) else True
        has, x = U.choose("S", lambda y: Not(g(s, "session_exists", y)), fresh=True)
        post = s.with_(seq=s["seq"] + 1)
        for name_, v in (
            ("session_exists", True),
            ("session_status", st.OUT_OPEN),
            ("session_seq", s["seq"]),
            ("session_has_block", False),
            ("session_frozen", False),
            ("session_vetoed", False),
            ("session_snapshot", False),
        ):
            post = self.set1(post, name_, x, v)
        return self._step(And(offered, room), If(busy, -E.EBUSY, 0),
                          self.ite_state(busy, s, post), overflow=And(offered, room,
                                                                      Not(busy), Not(has)))

    def do_retrieve_session(self, s: S, session: T) -> Step:
        g = self.g
        device = Eq(s["device"], 1)
        if isinstance(session, str):
            return self._step(device, -E.ENOENT, s)
        x = session
        sst = g(s, "session_status", x)
        new = In(sst, (st.IN_NEW, st.IN_RELISTED))
        unlinked = And(self.d.finish_unlinks_session, Eq(sst, st.IN_FINISHED))
        return self._step(
            And(device, self.incoming(s, x)),
            If(new, 0, If(unlinked, -E.ENOENT, -E.EINVAL)),
            self.ite_state(new, self.set1(s, "session_status", x, st.IN_RETRIEVED), s),
        )

    # --- session ioctls ---------------------------------------------------------------
    def session_usable(self, s: S, kind: str, x: T) -> T:
        sst = self.g(s, "session_status", x)
        side = self.outgoing(s, x) if kind == "out" else self.incoming(s, x)
        return And(side, Not(In(sst, (st.OUT_CLOSING, st.IN_NEW, st.IN_STUCK))))

    def nfiles_lt(self, s: S, x: T, n: int) -> T:
        U = self.U
        if isinstance(U, Finite):
            return U.count("F", lambda f: self.file_of(s, f, x)) < n
        return True

    def do_preserve_fd(self, s: S, list: str, session: T, fd: Any, token: str = "new",
                       fault: str | None = None) -> Step:
        """LIVEUPDATE_SESSION_PRESERVE_FD (luo.do_preserve_fd + memfd_luo_preserve)."""
        g, d = self.g, self.d
        x = session
        usable = self.session_usable(s, list, x)
        incoming = list == "in"
        busy = self.gate_closed(s)
        if token == "dup":
            guard = And(usable, self.nfiles_pos(s, x))
        else:
            guard = And(usable, self.nfiles_lt(s, x, self.b.files))
            if not isinstance(fd, str):
                guard = And(guard, g(s, "memfd_alive", fd), g(s, "memfd_user_fd", fd))
                if fault is not None:
                    guard = And(guard, s["faults"] > 0)
        kind_err = d.checks_kind("preserve") and incoming
        if kind_err:
            return self._step(guard, -E.EINVAL, s)
        if token == "dup":
            return self._step(guard, If(busy, -E.EBUSY, -E.EEXIST), s)
        if isinstance(fd, str) and fd == "closed":
            return self._step(guard, If(busy, -E.EBUSY, -E.EBADF), s)
        early: T = busy
        early_ret: T = -E.EBUSY
        if not isinstance(fd, str) and d.reject_double_preserve:
            dbl = self.managed(s, fd)
            early = Or(busy, dbl)
        # the files block, allocated on the session's first preservation
        need_blk = Not(g(s, "session_has_block", x))
        blk_found, blk, s_blk = self.alloc_kernel_page(s)
        s_blk = self.set1(s_blk, "kho_tracked", blk, True)
        s_blk = self.set1(self.set1(s_blk, "session_has_block", x, True), "session_block", x, blk)
        s1 = self.ite_state(need_blk, s_blk, s)
        blk_fail = And(need_blk, Not(blk_found))
        overflow: T = False
        if isinstance(fd, str) and fd == "devnull":
            ret2: T = -E.ENOENT
            s2 = s1
        else:
            m = fd
            ret2, s2, overflow = self._memfd_preserve(s1, x, m, fault)
        # a failure after the block was allocated frees it again if the session has none
        undo = And(Not(Eq(ret2, 0)), need_blk, Not(self.nfiles_pos(s2, x)))
        s3 = self.set1(s2, "kho_tracked", blk, If(undo, False, g(s2, "kho_tracked", blk)))
        s3 = self.free_page(s3, blk, undo)
        s3 = self.set1(s3, "session_has_block", x, If(undo, False, g(s3, "session_has_block", x)))
        ret = If(early, early_ret, If(blk_fail, -E.ENOMEM, ret2))
        post = self.ite_state(Or(early, blk_fail), s, s3)
        return self._step(guard, ret, post,
                          overflow=And(guard, Not(early), Not(blk_fail), overflow))

    def _memfd_preserve(self, s: S, x: T, m: T, fault: str | None) -> tuple[T, S, T]:
        """memfd handler preserve: a ser page, every folio and the ser KHO-preserved."""
        g, d = self.g, self.d
        fol: Fn = lambda p: self.get2(s, "memfd_folio", m, p)  # noqa: E731
        has_f, f = self.new_file_slot(s)

        def add_file(s0: S, ser_has: T, ser: T, handle: bool) -> S:
            s1 = s0.with_(seq=s0["seq"] + 1)
            for name, v in (
                ("file_live", True),
                ("file_in_snapshot", False),
                ("file_session", x),
                ("file_seq", s0["seq"]),
                ("file_state", st.PRESERVED),
                ("file_has_memfd", True),
                ("file_memfd", m),
                ("file_has_ser", ser_has),
                ("file_handle", handle),
                ("file_tried", False),
                ("snapshot_has_ser", False),
                ("snapshot_handle", False),
            ):
                s1 = self.set1(s1, name, f, v)
            if ser_has is not False:
                s1 = self.set1(s1, "file_ser", f, ser)
            s1 = self.setrow(s1, "file_folio", f, fol)
            s1 = self.setrow(s1, "file_expect_known", f, lambda p: False)
            s1 = self.setrow(s1, "file_expect", f, lambda p: 0)
            s1 = self.setrow(s1, "snapshot_folio", f, lambda p: False)
            return s1

        found, ser, s1 = self.alloc_kernel_page(s)
        if fault is not None:
            # the ser is allocated first (no free page: ENOMEM, the fault unused); every
            # later point undoes all before it, the ser included (no scratch is encoded,
            # so no migration stays done)
            s0 = s.with_(faults=s["faults"] - 1)
            if fault == "kho_preserve":
                # every folio was KHO-preserved, then err_unpreserve unpreserves each one:
                # KHO's bit is cleared even where another file had set it (LUO-M3); the
                # MF7 mutant leaves them preserved
                kept = not d.preserve_undoes_kho_preserve
                s0 = self.map(s0, "kho_tracked", "P",
                              lambda p: If(fol(p), kept, g(s0, "kho_tracked", p)))
            if not d.preserve_error_reported:  # KHO-M9: rolled back, returns 0
                return (If(found, 0, -E.ENOMEM),
                        self.ite_state(found, add_file(s0, False, None, False), s),
                        And(found, Not(has_f)))
            errno = MEMFD_PRESERVE_FAULTS[fault]
            return If(found, -errno, -E.ENOMEM), self.ite_state(found, s0, s), False
        s1 = self.map(
            s1, "kho_tracked", "P", lambda p: Or(g(s1, "kho_tracked", p), fol(p), Eq(p, ser))
        )
        s2 = add_file(s1, True, ser, True)
        return If(found, 0, -E.ENOMEM), self.ite_state(found, s2, s), And(found, Not(has_f))

    def do_retrieve_fd(self, s: S, list: str, fault: str | None, file: T = None,
                       session: T = None) -> Step:
        """LIVEUPDATE_SESSION_RETRIEVE_FD (luo.do_retrieve_fd + memfd_luo_retrieve).

        A fault before any folio (``seals``, ``alloc_file``, ``restore_folios``) frees
        the ser only. ``insert`` fails folio 0 (the bounded encoding's files have at most
        one folio; the unbounded reading fails one of them): every folio is restored and
        freed, and the cleanup restores and frees the rest (KHO-M11 fix). Without the fix
        the unbounded reading leaves a chosen subset of the file's folios reserved, a
        superset of the kernel's "every folio after the failing one" (whose order the
        encoding does not keep); with one folio nothing is left. A folio without a stamp
        fails the loop with EIO (the fault unused: with one folio the failing folio is
        that one; the unbounded reading takes this order for any file, and restore_once's
        proof shows the branch is never taken from an invariant state)."""
        g, d, U = self.g, self.d, self.U
        rejected = d.checks_kind("retrieve") and list == "out"
        if isinstance(file, str):  # token unknown
            x = session
            return self._step(self.session_usable(s, list, x),
                              -E.EINVAL if rejected else
                              If(self.not_retrieved(s, list, x), -E.EINVAL, -E.ENOENT), s)
        f = file
        x = g(s, "file_session", f)
        fst = g(s, "file_state", f)
        has_slot, slot = self.new_memfd_slot(s)
        failed_states = tuple(st.RETRIEVE_FAILED)
        fol: Fn = lambda p: self.get2(s, "file_folio", f, p)  # noqa: E731
        if fault is None:
            guard = And(g(s, "file_live", f), self.session_usable(s, list, x),
                        Or(has_slot, rejected, In(fst, (st.F_OK, *failed_states))))
        elif rejected:
            return self._step(False, 0, s)  # offered only where the handler runs
        else:
            guard = And(g(s, "file_live", f), self.session_usable(s, list, x), has_slot,
                        In(fst, (st.F_NEW, st.PRESERVED, st.FROZEN)), s["faults"] > 0)
            if fault == "insert":
                guard = And(guard, U.any("P", fol))
        if rejected:
            return self._step(guard, -E.EINVAL, s)
        nr = self.not_retrieved(s, list, x)
        # already retrieved: a new fd to the same memfd; failed: the stored errno
        s_ok = self.set1(s, "memfd_user_fd", g(s, "file_memfd", f), True)
        # the handler's retrieve
        early = fault in MEMFD_RETRIEVE_FAULTS
        ok = U.all("P", lambda p: Implies(fol(p), g(s, "stamped", p)))
        hs, ser = g(s, "file_has_ser", f), g(s, "file_ser", f)
        ser_refused = And(hs, Not(g(s, "stamped", ser)))
        refused: T = ser_refused if early else Or(Not(ok), ser_refused)
        if early:
            ret_h: T = -MEMFD_RETRIEVE_FAULTS[fault]  # type: ignore[index]
        elif fault == "insert":
            ret_h = If(ok, -INSERT_ERRNO, -E.EIO)
        else:
            ret_h = If(ok, 0, -E.EIO)
        r = self.set1(s, "file_tried", f, True)
        if fault is not None:
            used = True if early else ok  # the EIO branch fails before folio 0's insert
            r = r.with_(faults=If(used, r["faults"] - 1, r["faults"]))
        success = And(ok, fault is None)
        # KHO-M11 mutant, unbounded reading: the folios its cleanup leaves reserved
        kept: Fn = lambda p: False  # noqa: E731
        if not d.put_folios_restores_rest and isinstance(U, Unbounded) and not early:
            left = z3.Array(f"kept!{next(U._fresh)}", U.sort("P"), z3.BoolSort())
            kept = lambda p: And(Not(success), left[p])  # noqa: E731
        # folios restored (stamp erased): to the new memfd, or freed on failure
        restored: Fn = lambda p: (False if early else  # noqa: E731
                                  And(fol(p), g(s, "stamped", p), Not(kept(p))))
        ser_back: Fn = lambda p: And(hs, Eq(p, ser), g(s, "stamped", ser))  # noqa: E731
        r = self.map(r, "stamped", "P", lambda p: And(g(r, "stamped", p), Not(restored(p)),
                                                  Not(ser_back(p))))
        r = self.map(r, "owner", "P", lambda p: If(
            restored(p), If(success, st.ALLOC, st.FREE),
            If(ser_back(p), st.FREE, g(r, "owner", p))))
        r = self.map(r, "content", "P", lambda p: If(
            Or(And(restored(p), Not(success)), ser_back(p)), st.ZERO, g(r, "content", p)))
        # on success: a new memfd holding the restored folios
        rs = self.set1(self.set1(r, "memfd_alive", slot, True), "memfd_user_fd", slot, True)
        rs = self.setrow(rs, "memfd_folio", slot, fol)
        rs = self.set1(rs, "file_memfd", f, slot)
        rs = self.set1(rs, "file_has_memfd", f, True)
        r = self.ite_state(success, rs, r)
        outgoing_file = In(fst, (st.PRESERVED, st.FROZEN))
        # LUO records the outcome and forgets the pages the file named (the LUO-M4f
        # mutant's finish reads a failed file's handle again: there it keeps both); a
        # failure before any folio leaves them reserved until the next kexec (LEAKED)
        rec_ok = And(success, Not(outgoing_file))
        rec_err = And(Not(success), d.remember_retrieve_status, Eq(fst, st.F_NEW))
        forget = Or(rec_ok, And(rec_err, d.finish_skips_failed_retrieve))
        if early:
            err_state: T = st.FAILED_WITH[MEMFD_RETRIEVE_FAULTS[fault]]  # type: ignore[index]
        elif fault == "insert":
            err_state = If(ok, st.FAILED_WITH[INSERT_ERRNO], st.F_ERR_EIO)
        else:
            err_state = st.F_ERR_EIO
        r = self.set1(r, "file_state", f,
                      If(rec_ok, st.F_OK, If(rec_err, err_state, g(r, "file_state", f))))
        if early and d.finish_skips_failed_retrieve:
            r = self.map(r, "owner", "P", lambda p: If(
                And(rec_err, fol(p), Eq(g(r, "owner", p), st.RESV)), st.LEAKED,
                g(r, "owner", p)))
        r = self.set1(r, "file_has_ser", f, And(g(r, "file_has_ser", f), Not(forget)))
        r = self.setrow(r, "file_folio", f, lambda p: And(fol(p), Not(forget)))
        is_ok = Eq(fst, st.F_OK)
        is_err = In(fst, failed_states)
        handler = And(Not(is_ok), Not(is_err))
        post = self.ite_state(Or(nr, is_err), s, self.ite_state(is_ok, s_ok, r))
        stored: T = -E.ENOMEM
        for fs, errno in st.RETRIEVE_FAILED.items():
            stored = If(Eq(fst, fs), -errno, stored)
        ret = If(nr, -E.EINVAL, If(is_ok, 0, If(is_err, stored, ret_h)))
        handler = And(Not(nr), handler)
        return self._step(guard, ret, post, refused=And(handler, refused),
                          hretrieve=handler, again=And(handler, g(s, "file_tried", f)), rfile=f)

    def luo_file_finish(self, s: S, x: T, fault: str | None) -> tuple[T, S, T]:
        """luo.luo_file_finish: veto, or dispose of every file and the files block."""
        g, U = self.g, self.U
        has_files = self.nfiles_pos(s, x)
        if fault is not None:
            vetoed = self.set1(s.with_(faults=s["faults"] - 1), "session_vetoed", x, True)
            return If(has_files, -E.EBUSY, 0), self.ite_state(has_files, vetoed, s), False
        mine: Fn = lambda f: self.file_of(s, f, x)  # noqa: E731
        # files never retrieved (outgoing ones: LUO-M7); the LUO-M4f mutant's finish
        # discards a failed file's data again
        again = () if self.d.finish_skips_failed_retrieve else tuple(st.RETRIEVE_FAILED)
        discard: Fn = lambda f: And(mine(f), In(g(s, "file_state", f),  # noqa: E731
                                            (st.F_NEW, st.PRESERVED, st.FROZEN, *again)))

        def occ(f: T, p: T) -> T:
            return And(discard(f), Or(self.get2(s, "file_folio", f, p),
                                       And(g(s, "file_has_ser", f), Eq(g(s, "file_ser", f), p))))

        blk: Fn = lambda p: And(g(s, "session_has_block", x), Eq(g(s, "session_block", x), p))  # noqa: E731
        named: Fn = lambda p: Or(U.any("F", lambda f: occ(f, p)), blk(p))  # noqa: E731
        if isinstance(U, Finite):
            def twice(p: T) -> T:
                return (U.count("F", lambda f: occ(f, p)) + b2i(blk(p))) >= 2
        else:
            def twice(p: T) -> T:
                return Or(U.at_least_two("F", lambda f: occ(f, p)),
                          And(blk(p), U.any("F", lambda f: occ(f, p))))
        refused = U.any("P", lambda p: And(named(p), Or(Not(g(s, "stamped", p)), twice(p))))
        restored: Fn = lambda p: And(named(p), g(s, "stamped", p))  # noqa: E731
        r = self.map(s, "stamped", "P", lambda p: And(g(s, "stamped", p), Not(restored(p))))
        r = self.map(r, "owner", "P", lambda p: If(restored(p), st.FREE, g(s, "owner", p)))
        r = self.map(r, "content", "P", lambda p: If(restored(p), st.ZERO, g(s, "content", p)))
        # pop every file; drop LUO's reference to each memfd
        r = self.map(r, "file_live", "F", lambda f: And(g(s, "file_live", f), Not(mine(f))))
        put: Fn = lambda m: U.any("F", lambda f: And(mine(f), g(s, "file_has_memfd", f),  # noqa: E731
                                                Eq(g(s, "file_memfd", f), m),
                                                Not(In(g(s, "file_state", f),
                                                       (st.F_NEW, *st.RETRIEVE_FAILED)))))
        r = self.fput_all(r, put)
        r = self.set1(r, "session_has_block", x, False)
        return If(has_files, 0, 0), self.ite_state(has_files, r, s), And(has_files, refused)

    def do_finish(self, s: S, list: str, session: T, fault: str | None) -> Step:
        d = self.d
        x = session
        guard = self.session_usable(s, list, x)
        if fault is not None:
            guard = And(guard, s["faults"] > 0, self.nfiles_pos(s, x))
        if d.checks_kind("finish") and list == "out":
            return self._step(guard, -E.EINVAL, s)
        ret, post, refused = self.luo_file_finish(s, x, fault)
        if list == "in":
            relisted = d.finish_unlinks_session and not d.finish_unlinks_list
            done = st.IN_RELISTED if relisted else st.IN_FINISHED
            post = self.ite_state(Eq(ret, 0), self.set1(post, "session_status", x, done), post)
            nr = self.not_retrieved(s, list, x)
            ret, post, refused = If(nr, -E.EINVAL, ret), self.ite_state(nr, s, post), And(
                Not(nr), refused)
        return self._step(guard, ret, post, refused=refused)

    def do_close_session(self, s: S, list: str, session: T, fault: str | None) -> Step:
        """close() of a session fd (luo.do_close_session)."""
        g, d, U = self.g, self.d, self.U
        x = session
        guard = self.session_usable(s, list, x)
        if list == "out":
            if fault is not None:
                return self._step(False, 0, s)
            guard = And(guard, Not(self.gate_closed(s)))
            mine: Fn = lambda f: self.file_of(s, f, x)  # noqa: E731
            # unpreserve every file (handle 0: WARN and nothing), then put its memfd
            live: Fn = lambda f: And(mine(f), g(s, "file_handle", f))  # noqa: E731
            ser_of: Fn = lambda p: U.any("F", lambda f: And(  # noqa: E731
                live(f), g(s, "file_has_ser", f), Eq(g(s, "file_ser", f), p)))
            fol_of: Fn = lambda p: U.any("F", lambda f: And(  # noqa: E731
                live(f), self.get2(s, "file_folio", f, p)))
            blk: Fn = lambda p: And(g(s, "session_has_block", x), Eq(g(s, "session_block", x), p))  # noqa: E731

            def trk(p: T) -> T:
                keep = g(s, "kho_tracked", p)
                if d.unpreserve_untracks_folios:
                    keep = And(keep, Not(fol_of(p)))
                if d.unpreserve_untracks_ser:
                    keep = And(keep, Not(ser_of(p)))
                return And(keep, Not(blk(p)))

            r = self.map(s, "kho_tracked", "P", trk)
            freed: Fn = lambda p: Or(ser_of(p), blk(p))  # noqa: E731
            r = self.map(r, "owner", "P", lambda p: If(freed(p), st.FREE, g(s, "owner", p)))
            r = self.map(r, "content", "P", lambda p: If(freed(p), st.ZERO, g(s, "content", p)))
            r = self.map(r, "file_live", "F", lambda f: And(g(s, "file_live", f), Not(mine(f))))
            r = self.fput_all(r, lambda m: U.any("F", lambda f: And(
                mine(f), g(s, "file_has_memfd", f), Eq(g(s, "file_memfd", f), m))))
            r = self.set1(r, "session_has_block", x, False)
            running = Not(self.rebooting(s))
            gone = self.set1(r, "session_exists", x, False)
            gone = self.map(gone, "file_in_snapshot", "F", lambda f: And(
                g(r, "file_in_snapshot", f), Not(Eq(g(r, "file_session", f), x))))
            post = self.ite_state(running, gone, self.set1(r, "session_status", x, st.OUT_CLOSING))
            return self._step(guard, 0, post)
        if fault is not None:
            guard = And(guard, s["faults"] > 0, self.nfiles_pos(s, x))
        ret, r, refused = self.luo_file_finish(s, x, fault)
        gone = self.set1(r, "session_exists", x, False)
        back = st.IN_NEW if d.retrievable_after_vetoed_close else st.IN_STUCK
        post = self.ite_state(Eq(ret, 0), gone, self.set1(r, "session_status", x, back))
        # a relisted session (LUO-M20) is not finished again and stays listed, without fd
        relisted = Eq(g(s, "session_status", x), st.IN_RELISTED)
        post = self.ite_state(relisted, self.set1(s, "session_status", x, st.IN_NEW), post)
        return self._step(guard, 0, post, refused=And(Not(relisted), refused))

    # --- reboot(KEXEC) ----------------------------------------------------------------
    def do_reboot(self, s: S, fault: str | None = None, image: str | None = None) -> Step:
        """Enter liveupdate_reboot() (luo.do_reboot, interleaved): the gate closes."""
        g, d, U = self.g, self.d, self.U
        room = s["kexecs"] < self.b.kexecs if isinstance(U, Finite) else True
        guard = And(Eq(s["phase"], st.RUNNING), room)
        if fault == "alloc":  # serialization's array allocation fails
            return self._step(And(guard, s["faults"] > 0), -E.ENOMEM,
                              s.with_(faults=s["faults"] - 1))
        if image is not None:  # the 7.2 fix: LUO skips a context-preserving kexec
            return self._step(guard, 0, s)
        r = self.map(
            s,
            "session_frozen",
            "S",
            lambda x: And(g(s, "session_frozen", x), Not(self.outgoing(s, x))),
        )
        after = st.FINALIZE if d.kho_finalize else st.READY
        any_out = U.any("S", lambda x: self.outgoing(s, x))
        r = r.with_(phase=If(any_out, st.SERIALIZING, after),
                    rebooting=1 if d.block_mutations_in_reboot else s["rebooting"])
        busy = self.gate_closed(s)
        return self._step(guard, If(busy, -E.EBUSY, 0), self.ite_state(busy, s, r))

    def cursor(self, s: S, x: T) -> T:
        """Session ``x`` is the next one luo_session_serialize() visits."""
        g, U = self.g, self.U
        cand: Fn = lambda y: And(self.outgoing(s, y), Not(g(s, "session_frozen", y)))  # noqa: E731
        return And(cand(x), U.all("S", lambda y: Implies(
            cand(y), g(s, "session_seq", x) <= g(s, "session_seq", y))))

    def unfreeze_files(self, s: S, which: Callable[[T], T]) -> S:
        """luo_file_unfreeze_one on every frozen file ``which`` selects."""
        g, d = self.g, self.d
        hit: Fn = lambda f: And(  # noqa: E731
            which(f), g(s, "file_live", f), Eq(g(s, "file_state", f), st.FROZEN)
        )
        r = self.map(
            s, "file_state", "F", lambda f: If(hit(f), st.PRESERVED, g(s, "file_state", f))
        )
        if not d.keep_handle_on_unfreeze:
            r = self.map(r, "file_handle", "F", lambda f: And(g(s, "file_handle", f), Not(hit(f))))
        return r

    def drop_snaps(self, s: S, which: Callable[[T], T]) -> S:
        g = self.g
        r = self.map(
            s, "session_snapshot", "S", lambda x: And(g(s, "session_snapshot", x), Not(which(x)))
        )
        return self.map(r, "file_in_snapshot", "F", lambda f: And(g(s, "file_in_snapshot", f),
                                                      Not(which(g(s, "file_session", f)))))

    def reboot_failed(self, s: S) -> S:
        """reboot() returns an error: closed sessions unlinked, frozen flags cleared."""
        g = self.g
        closing: Fn = lambda x: And(  # noqa: E731
            g(s, "session_exists", x), Eq(g(s, "session_status", x), st.OUT_CLOSING)
        )
        r = self.map(
            s, "session_exists", "S", lambda x: And(g(s, "session_exists", x), Not(closing(x)))
        )
        r = self.map(
            r,
            "file_in_snapshot",
            "F",
            lambda f: And(g(s, "file_in_snapshot", f), Not(closing(g(s, "file_session", f)))),
        )
        r = self.map(
            r,
            "session_frozen",
            "S",
            lambda x: And(g(s, "session_frozen", x), Not(self.outgoing(s, x))),
        )
        return r.with_(phase=st.RUNNING)

    def do_luo_session_serialize(self, s: S, fault: str | None, session: T = None,
                                 file: T = None) -> Step:
        """One session of luo_session_serialize(): freeze its files in order."""
        g, d, U = self.g, self.d, self.U
        if fault is not None:
            fail = file
            x = g(s, "file_session", fail)
            guard = And(g(s, "file_live", fail), s["faults"] > 0)
        else:
            fail, x = None, session
            guard = True
        guard = And(guard, Eq(s["phase"], st.SERIALIZING), self.cursor(s, x))
        mine: Fn = lambda f: self.file_of(s, f, x)  # noqa: E731
        bad: Fn = lambda f: And(mine(f), Or(Not(g(s, "file_handle", f)),  # noqa: E731
                                        Eq(f, fail) if fail is not None else False))
        if isinstance(U, Finite):
            found, first = U.choose("F", bad, lambda f: (g(s, "file_seq", f),))
        else:
            found, first = U.choose("F", bad)
        err = If(Eq(first, fail) if fail is not None else False, -E.EIO, -E.EINVAL)
        # failure: the frozen prefix of this session and every earlier session roll back
        before: Fn = lambda y: And(  # noqa: E731
            self.outgoing(s, y), g(s, "session_seq", y) < g(s, "session_seq", x)
        )
        prefix: Fn = lambda f: And(mine(f), g(s, "file_seq", f) < g(s, "file_seq", first))  # noqa: E731
        # files of this session before ``first`` were frozen by this call, then unfrozen
        r = self.map(
            s, "file_state", "F", lambda f: If(prefix(f), st.FROZEN, g(s, "file_state", f))
        )
        r = self.unfreeze_files(r, lambda f: Or(prefix(f), before(g(s, "file_session", f))))
        r = self.drop_snaps(r, lambda y: Or(Eq(y, x), before(y)))
        r = self.map(
            r, "session_frozen", "S", lambda y: And(g(r, "session_frozen", y), Not(before(y)))
        )
        if fail is not None:
            r = r.with_(faults=If(Eq(first, fail), s["faults"] - 1, s["faults"]))
        failed = self.reboot_failed(r.with_(rebooting=0))  # the rollback opens the gate
        # success: every file frozen, the snapshot written
        ok = self.map(s, "file_state", "F", lambda f: If(mine(f), st.FROZEN, g(s, "file_state", f)))
        ok = self.set1(ok, "session_frozen", x, True)
        any_f = self.nfiles_pos(s, x)
        ok = self.set1(ok, "session_snapshot", x, any_f)
        ok = self.set1(
            self.set1(ok, "snapshot_has_block", x, g(s, "session_has_block", x)),
            "snapshot_block",
            x,
            g(s, "session_block", x),
        )
        of_x: Fn = lambda f: Eq(g(s, "file_session", f), x)  # noqa: E731
        ok = self.map(
            ok, "file_in_snapshot", "F", lambda f: If(of_x(f), mine(f), g(s, "file_in_snapshot", f))
        )
        for src, dst in (
            ("file_has_ser", "snapshot_has_ser"),
            ("file_ser", "snapshot_ser"),
            ("file_handle", "snapshot_handle"),
        ):
            ok = self.map(ok, dst, "F", lambda f, src=src, dst=dst: If(  # type: ignore[misc]
                mine(f), g(s, src, f), g(s, dst, f)))
        ok = self.map_fp(
            ok,
            "snapshot_folio",
            lambda f, p: If(
                mine(f), self.get2(s, "file_folio", f, p), self.get2(s, "snapshot_folio", f, p)
            ),
        )
        last = U.all("S", lambda y: Implies(self.outgoing(s, y),
                                            g(s, "session_seq", y) <= g(s, "session_seq", x)))
        after = st.FINALIZE if d.kho_finalize else st.READY
        ok = ok.with_(phase=If(last, after, st.SERIALIZING))
        return self._step(guard, If(found, err, 0), self.ite_state(found, failed, ok))

    def do_kho_finalize(self, s: S, fault: str | None) -> Step:
        d = self.d
        guard = Eq(s["phase"], st.FINALIZE)
        if fault is None:
            return self._step(guard, 0, s.with_(phase=st.READY))
        guard = And(guard, s["faults"] > 0)
        r = s.with_(faults=s["faults"] - 1)
        if not d.abort_keeps_preservations:  # KHO-M2: the whole tracker destroyed
            r = self.map(r, "kho_tracked", "P", lambda p: False)
        return self._step(guard, -E.EAGAIN, self.reboot_failed(self.abort_reboot(s, r)))

    def abort_reboot(self, s: S, r: S) -> S:
        """luo.luo_session_abort_reboot where the design has it (LUO-M10/M18 fix): every
        outgoing session of ``s`` unfrozen in ``r`` (all at once: the kernel's creation
        order changes no page), the gate open."""
        g = self.g
        if not self.d.abort_reboot_unfreezes:
            return r
        out: Fn = lambda x: self.outgoing(s, x)  # noqa: E731
        r = self.unfreeze_files(r, lambda f: out(g(s, "file_session", f)))
        r = self.drop_snaps(r, out)
        r = self.map(
            r, "session_frozen", "S", lambda x: And(g(r, "session_frozen", x), Not(out(x)))
        )
        return r.with_(rebooting=0)

    def do_kernel_kexec(self, s: S, fault: str | None = None,
                        image: str | None = None) -> Step:
        """machine_kexec() and the next boot (luo.machine_kexec); ``fault="unwind"``: the
        kexec path fails first (luo.kexec_unwind); ``image="preserve_context"``: the
        jump comes back to this kernel (designs without the 7.2 fix)."""
        g, d, U = self.g, self.d, self.U
        guard = Eq(s["phase"], st.READY)
        if fault is not None:
            r = s.with_(faults=s["faults"] - 1)
            return self._step(And(guard, s["faults"] > 0), -E.EBUSY,
                              self.reboot_failed(self.abort_reboot(s, r)))
        if image is not None:
            return self._step(guard, 0, self.reboot_failed(s))
        out: Fn = lambda x: self.outgoing(s, x)  # noqa: E731
        snap_blk: Fn = lambda x: And(  # noqa: E731
            out(x), g(s, "session_snapshot", x), g(s, "snapshot_has_block", x)
        )

        def short(p: T) -> T:
            if d.reserve_covers_block:
                return False
            return U.any("S", lambda x: And(snap_blk(x), Eq(g(s, "snapshot_block", x), p)))

        resv: Fn = lambda p: And(g(s, "kho_tracked", p), Not(short(p)))  # noqa: E731
        r = self.map(s, "owner", "P", lambda p: If(resv(p), st.RESV, st.FREE))
        r = self.map(r, "kho_tracked", "P", lambda p: False)
        r = self.map(r, "stamped", "P", lambda p: And(resv(p), d.stamps_survive_boot))
        r = self.map(r, "content", "P", lambda p: If(resv(p), g(s, "content", p), st.ZERO))
        # sessions: the outgoing list becomes the incoming one; the old incoming is gone
        r = self.map(r, "session_exists", "S", out)
        r = self.map(r, "session_status", "S", lambda x: st.IN_NEW)
        r = self.map(r, "session_has_block", "S", snap_blk)
        r = self.map(r, "session_block", "S", lambda x: g(s, "snapshot_block", x))
        for name in ("session_frozen", "session_vetoed", "session_snapshot"):
            r = self.map(r, name, "S", lambda x: False)
        # files: the snapshot entries of outgoing sessions become the incoming files
        handed: Fn = lambda f: And(g(s, "file_in_snapshot", f), out(g(s, "file_session", f)))  # noqa: E731
        r = self.map(r, "file_live", "F", handed)
        r = self.map(r, "file_in_snapshot", "F", lambda f: False)
        r = self.map(r, "file_state", "F", lambda f: st.F_NEW)
        r = self.map(r, "file_has_memfd", "F", lambda f: False)
        r = self.map(r, "file_tried", "F", lambda f: False)
        r = self.map(r, "file_has_ser", "F", lambda f: g(s, "snapshot_has_ser", f))
        r = self.map(r, "file_ser", "F", lambda f: g(s, "snapshot_ser", f))
        r = self.map(r, "file_handle", "F", lambda f: g(s, "snapshot_handle", f))
        r = self.map_fp(r, "file_folio", lambda f, p: self.get2(s, "snapshot_folio", f, p))
        r = self.map_fp(r, "file_expect_known", lambda f, p: self.get2(s, "snapshot_folio", f, p))
        r = self.map_fp(r, "file_expect", lambda f, p: g(s, "content", p))
        # user space and other kernel users start afresh
        r = self.map(r, "memfd_alive", "M", lambda m: False)
        r = self.map(r, "memfd_user_fd", "M", lambda m: False)
        r = self.map_mp(r, "memfd_folio", lambda m, p: False)
        r = r.with_(kexecs=s["kexecs"] + 1, phase=st.RUNNING, rebooting=0, device=0,
                    deser=st.DESER_PENDING)
        return self._step(guard, 0, r)


# ------------------------------------------------------------------------ finite helpers

def _fin_vars(name: str, kind: str, dims: list[int]) -> Any:
    if not dims:
        return z3.Bool(name) if kind == "bool" else z3.Int(name)
    return tuple(_fin_vars(f"{name}[{i}]", kind, dims[1:]) for i in range(dims[0]))


def _const(v: Any, dims: list[int]) -> Any:
    if not dims:
        return v
    return tuple(_const(v, dims[1:]) for _ in range(dims[0]))


def _ite_tree(c: T, a: Any, b: Any) -> Any:
    if isinstance(a, tuple):
        return tuple(_ite_tree(c, x, y) for x, y in zip(a, b, strict=True))
    return If(c, a, b)


def leaves(v: Any) -> Iterator[Any]:
    if isinstance(v, tuple):
        for x in v:
            yield from leaves(x)
    else:
        yield v


# --------------------------------------------------------------- explicit <-> relational

@dataclass
class Labels:
    """Slots given to the explicit state's objects by :func:`encode`."""

    out: list[int]  # outgoing position -> session slot
    inc: list[int]  # incoming position -> session slot
    files: dict[tuple[str, int, int], int]  # (list, session pos, file pos) -> file slot


def encode(state: State, sizes: dict[str, int]) -> tuple[S, Labels]:
    """The relational (concrete) form of an explicit state."""
    glob, outs, incs, memfds, pages = state
    P = sizes["P"]
    if any(pg[st.P_SCRATCH] for pg in pages):
        raise ValueError("scratch pages are not encoded")
    s = S(kexecs=glob[st.KEXECS], phase=glob[st.PHASE], faults=glob[st.FAULTS],
          rebooting=glob[st.REBOOTING], device=glob[st.DEVICE], deser=glob[st.DESER])
    nS, nF = sizes["S"], sizes["F"]
    s["owner"] = tuple(pg[st.P_OWNER] for pg in pages)
    s["kho_tracked"] = tuple(bool(pg[st.P_TRACKED]) for pg in pages)
    s["stamped"] = tuple(bool(pg[st.P_STAMPED]) for pg in pages)
    s["content"] = tuple(pg[st.P_CONTENT] for pg in pages)
    s["memfd_alive"] = tuple(mf is not None for mf in memfds)
    s["memfd_user_fd"] = tuple(bool(mf is not None and mf[st.M_USER]) for mf in memfds)
    s["memfd_folio"] = tuple(tuple(mf is not None and p in mf[st.M_FOLIOS] for p in range(P))
                      for mf in memfds)
    sess: dict[str, list[Any]] = {
        k: []
        for k in (
            "session_exists",
            "session_status",
            "session_seq",
            "session_has_block",
            "session_block",
            "session_frozen",
            "session_vetoed",
            "session_snapshot",
            "snapshot_has_block",
            "snapshot_block",
        )
    }
    fil: dict[str, list[Any]] = {k: [] for k, (_kind, doms) in FIELDS.items()
                                 if doms[0] == "F"}
    labels = Labels([], [], {})
    seq = 0

    def add_file(slot_s: int, fseq: int, listed: Any, snap: Any) -> int:
        fil["file_live"].append(listed is not None)
        fil["file_in_snapshot"].append(snap is not None)
        fil["file_session"].append(slot_s)
        fil["file_seq"].append(fseq)
        if listed is not None:
            f_st, memfd, ser, folios, handle, tried, expect = listed
            fil["file_state"].append(f_st)
            fil["file_has_memfd"].append(memfd >= 0)
            fil["file_memfd"].append(max(memfd, 0))
            fil["file_has_ser"].append(ser >= 0)
            fil["file_ser"].append(max(ser, 0))
            fil["file_folio"].append(tuple(p in folios for p in range(P)))
            fil["file_handle"].append(bool(handle))
            fil["file_tried"].append(bool(tried))
            exp = dict(zip(_expect_pages(listed), expect, strict=True))
            fil["file_expect_known"].append(tuple(p in exp for p in range(P)))
            fil["file_expect"].append(tuple(exp.get(p, 0) for p in range(P)))
        else:
            for k, v in (
                ("file_state", st.PRESERVED),
                ("file_has_memfd", False),
                ("file_memfd", 0),
                ("file_has_ser", False),
                ("file_ser", 0),
                ("file_handle", False),
                ("file_tried", False),
            ):
                fil[k].append(v)
            for k in ("file_folio", "file_expect_known"):
                fil[k].append((False,) * P)
            fil["file_expect"].append((0,) * P)
        if snap is not None:
            ser, folios, handle = snap
            fil["snapshot_has_ser"].append(ser >= 0)
            fil["snapshot_ser"].append(max(ser, 0))
            fil["snapshot_folio"].append(tuple(p in folios for p in range(P)))
            fil["snapshot_handle"].append(bool(handle))
        else:
            fil["snapshot_has_ser"].append(False)
            fil["snapshot_ser"].append(0)
            fil["snapshot_folio"].append((False,) * P)
            fil["snapshot_handle"].append(False)
        return len(fil["file_live"]) - 1

    for kind, lst in (("out", outs), ("in", incs)):
        for i, x in enumerate(lst):
            status, fblk, frozen, vetoed, files, snap = x
            slot = len(sess["session_exists"])
            (labels.out if kind == "out" else labels.inc).append(slot)
            for k, v in (
                ("session_exists", True),
                ("session_status", status),
                ("session_seq", seq),
                ("session_has_block", fblk >= 0),
                ("session_block", max(fblk, 0)),
                ("session_frozen", bool(frozen)),
                ("session_vetoed", bool(vetoed)),
                ("session_snapshot", snap is not None),
                ("snapshot_has_block", snap is not None and snap[st.SNAP_FBLK] >= 0),
                ("snapshot_block", max(snap[st.SNAP_FBLK], 0) if snap is not None else 0),
            ):
                sess[k].append(v)
            seq += 1
            entries = list(snap[st.SNAP_FILES]) if snap is not None else []
            for j, f in enumerate(files):
                # a snapshot entry taken from this file (same position, same data) rides
                # on the same slot; any other entry gets a slot of its own
                e = entries[j] if j < len(entries) and _same(entries[j], f) else None
                labels.files[(kind, i, j)] = add_file(slot, seq, f, e)
                seq += 1
                if e is not None:
                    entries[j] = None
            for e in entries:
                if e is not None:
                    add_file(slot, seq, None, e)
                    seq += 1
    if len(sess["session_exists"]) > nS or len(fil["file_live"]) > nF:
        raise ValueError("the state has more objects than the encoding has slots")
    while len(sess["session_exists"]) < nS:
        for k, v in (
            ("session_exists", False),
            ("session_status", 0),
            ("session_seq", 0),
            ("session_has_block", False),
            ("session_block", 0),
            ("session_frozen", False),
            ("session_vetoed", False),
            ("session_snapshot", False),
            ("snapshot_has_block", False),
            ("snapshot_block", 0),
        ):
            sess[k].append(v)
    while len(fil["file_live"]) < nF:
        add_file(0, 0, None, None)
        fil["file_live"][-1] = False
        fil["file_in_snapshot"][-1] = False
    for k, vs in sess.items():
        s[k] = tuple(vs)
    for k, vs in fil.items():
        s[k] = tuple(vs)
    s["seq"] = seq
    # keep the snapshot order: entries were numbered in file order above
    return s, labels


def _same(entry: tuple[Any, ...], f: tuple[Any, ...]) -> bool:
    ser, folios, handle = entry
    return bool(ser == f[st.FL_SER] and tuple(folios) == tuple(f[st.FL_FOLIOS])
                and handle == f[st.FL_HANDLE])


def _expect_pages(f: tuple[Any, ...]) -> tuple[int, ...]:
    """The pages a file's ``expect`` tuple is about: its folios at the jump.

    The explicit model stores only the contents; once retrieved, the folios are gone from
    the file. The relational form keys them by page, so the encoder needs the pages: a
    file's expect has one entry per folio it had at the jump, and with at most one folio
    per memfd (the bounded readings) the page can be any: the decoder reads contents in
    page order. Retrieved files keep their memfd's folios.
    """
    folios, expect = f[st.FL_FOLIOS], f[st.FL_EXPECT]
    if folios and len(folios) == len(expect):
        return tuple(folios)
    return tuple(range(len(expect)))


def decode(s: S) -> State:
    """The explicit state of a concrete relational state (positions in ``seq`` order)."""
    P = len(s["owner"])
    pages = tuple(
        (s["owner"][p], int(s["kho_tracked"][p]), int(s["stamped"][p]), s["content"][p], 0)
        for p in range(P)
    )
    memfds = tuple(
        (int(s["memfd_user_fd"][m]), tuple(p for p in range(P) if s["memfd_folio"][m][p]))
        if s["memfd_alive"][m]
        else None
        for m in range(len(s["memfd_alive"]))
    )
    nS, nF = len(s["session_exists"]), len(s["file_live"])

    def files_of(x: int, listed: bool) -> list[int]:
        key = "file_live" if listed else "file_in_snapshot"
        fs = [f for f in range(nF) if s[key][f] and s["file_session"][f] == x]
        return sorted(fs, key=lambda f: s["file_seq"][f])

    def session(x: int) -> tuple[Any, ...]:
        files = []
        for f in files_of(x, True):
            folios = tuple(p for p in range(P) if s["file_folio"][f][p])
            expect = tuple(s["file_expect"][f][p] for p in range(P) if s["file_expect_known"][f][p])
            files.append(
                (
                    s["file_state"][f],
                    s["file_memfd"][f] if s["file_has_memfd"][f] else -1,
                    s["file_ser"][f] if s["file_has_ser"][f] else -1,
                    folios,
                    int(s["file_handle"][f]),
                    int(s["file_tried"][f]),
                    expect,
                )
            )
        snap = None
        if s["session_snapshot"][x]:
            entries = tuple(
                (
                    s["snapshot_ser"][f] if s["snapshot_has_ser"][f] else -1,
                    tuple(p for p in range(P) if s["snapshot_folio"][f][p]),
                    int(s["snapshot_handle"][f]),
                )
                for f in files_of(x, False)
            )
            snap = (s["snapshot_block"][x] if s["snapshot_has_block"][x] else -1, entries)
        return (
            s["session_status"][x],
            s["session_block"][x] if s["session_has_block"][x] else -1,
            int(s["session_frozen"][x]),
            int(s["session_vetoed"][x]),
            tuple(files),
            snap,
        )

    live = sorted(
        (x for x in range(nS) if s["session_exists"][x]), key=lambda x: s["session_seq"][x]
    )
    outs = tuple(session(x) for x in live if s["session_status"][x] in OUT_STATUSES)
    incs = tuple(session(x) for x in live if s["session_status"][x] in IN_STATUSES)
    return ((s["kexecs"], s["phase"], s["faults"], s["rebooting"], s["device"], s["deser"]),
            outs, incs,
            memfds, pages)


def positions(s: S) -> tuple[dict[int, int], dict[int, tuple[int, int]]]:
    """Session slot -> list position; file slot -> (session position, file position)."""
    nS, nF = len(s["session_exists"]), len(s["file_live"])
    live = sorted(
        (x for x in range(nS) if s["session_exists"][x]), key=lambda x: s["session_seq"][x]
    )
    pos: dict[int, int] = {}
    for group in (OUT_STATUSES, IN_STATUSES):
        for i, x in enumerate(x for x in live if s["session_status"][x] in group):
            pos[x] = i
    fpos: dict[int, tuple[int, int]] = {}
    for x in live:
        fs = sorted((f for f in range(nF) if s["file_live"][f] and s["file_session"][f] == x),
                    key=lambda f: s["file_seq"][f])
        for j, f in enumerate(fs):
            fpos[f] = (pos[x], j)
    return pos, fpos


def explicit_action(s: S, a: Inst, values: Callable[[Any], Any] = lambda v: v) -> Action:
    """The explicit model's Action for instance ``a`` taken in concrete state ``s``."""
    pos, fpos = positions(s)
    args = {k: values(v) for k, v in a.args}
    name = a.name
    if name == "preserve_fd":
        if args.get("token") == "dup":
            return Action(name, (("list", args["list"]), ("session", pos[args["session"]]),
                                 ("fd", "any"), ("token", "dup")))
        out: list[tuple[str, Any]] = [("list", args["list"]),
                                      ("session", pos[args["session"]]), ("fd", args["fd"])]
        if not isinstance(args["fd"], str):
            out.append(("fault", args["fault"]))
        return Action(name, tuple(out))
    if name == "retrieve_fd":
        if args["file"] == "unknown":
            return Action(name, (("list", args["list"]), ("session", pos[args["session"]]),
                                 ("file", "unknown"), ("fault", None)))
        si, fj = fpos[args["file"]]
        # the encoding's files have at most one folio: its insert is folio 0's
        fault = "insert:0" if args["fault"] == "insert" else args["fault"]
        return Action(name, (("list", args["list"]), ("session", si), ("file", fj),
                             ("fault", fault)))
    if name in ("finish", "close_session"):
        return Action(name, (("list", args["list"]), ("session", pos[args["session"]]),
                             ("fault", args["fault"])))
    if name == "retrieve_session":
        v = args["session"]
        return Action(name, (("session", v if v == "unknown" else pos[v]),))
    if name == "luo_session_serialize":
        if args["fault"] is None:
            return Action(name, (("session", pos[args["session"]]), ("fault", None)))
        si, fj = fpos[args["file"]]
        return Action(name, (("session", si), ("fault", f"freeze:{fj}")))
    if name == "kho_finalize":
        return Action(name, (("fault", args["fault"]),))
    if name == "open_device" and args:
        if args["fault"] == "handler":
            si, fj = fpos[args["file"]]
            return Action(name, (("fault", f"handler:{si}.{fj}"),))
        return Action(name, (("fault", f"{args['fault']}:{pos[args['session']]}"),))
    return Action(name, tuple(args.items()))


def concrete_successors(sym: SymbolicLuo, state: State) -> list[tuple[Action, int, State, Step]]:
    """Run the encoding on one explicit state: every enabled instance, its explicit
    Action, return value and decoded successor (the agreement test's "Z3 side")."""
    s, _labels = encode(state, sym.U.sizes if isinstance(sym.U, Finite) else {})
    out = []
    for inst in sym.instances():
        step = sym.step(s, inst)
        if step.guard is not True:
            if step.guard is not False:
                raise TypeError(f"{inst}: guard did not evaluate: {step.guard}")
            continue
        out.append((explicit_action(s, inst), step.ret, decode(step.post), step))
    return out
