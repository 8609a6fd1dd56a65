"""Auxiliary invariants: what the inductive proof needs besides the catalogue.

The state properties of the catalogue are not inductive on their own: a state that
satisfies them can still be one step away from breaking them (a file whose ser page is
already free, a snapshot that disagrees with the files it was taken from). Each auxiliary
invariant below rules out one such unreachable state; each is a named, documented
property of the upstream design, checked like the others: it must hold initially and be
preserved by every action (``checks/prove.py``), and ``tests/proofs/test_symbolic.py``
evaluates it on every reachable state of upstream at the tiny bound.

Forms take ``(sym, state)`` and return the term that *holds*.
"""

from __future__ import annotations

from collections.abc import Callable

from luoverify.model import state as st
from luoverify.model.design import Design
from luoverify.model.symbolic import (
    And,
    Eq,
    Fn,
    Implies,
    In,
    Not,
    Or,
    SymbolicLuo,
    T,
)
from luoverify.model.symbolic import S as SState
from luoverify.specs import zforms as zf

Form = Callable[[SymbolicLuo, SState], T]


def files_in_live_sessions(sym: SymbolicLuo, s: SState) -> T:
    """A listed file belongs to a session that exists and is not being closed; a
    snapshot entry to an outgoing session."""
    g = sym.g
    return sym.U.all(
        "F",
        lambda f: And(
            Implies(
                g(s, "file_live", f),
                And(
                    g(s, "session_exists", g(s, "file_session", f)),
                    Not(Eq(g(s, "session_status", g(s, "file_session", f)), st.OUT_CLOSING)),
                ),
            ),
            Implies(g(s, "file_in_snapshot", f), sym.outgoing(s, g(s, "file_session", f))),
        ),
    )


def closing_session_empty(sym: SymbolicLuo, s: SState) -> T:
    """A session closed during reboot (6.19, waiting to be unlinked) has released its
    files block."""
    g = sym.g
    return sym.U.all(
        "S",
        lambda x: Implies(
            And(g(s, "session_exists", x), Eq(g(s, "session_status", x), st.OUT_CLOSING)),
            Not(g(s, "session_has_block", x)),
        ),
    )


def file_state_matches_side(sym: SymbolicLuo, s: SState) -> T:
    """Files of outgoing sessions are preserved or frozen; of incoming ones new,
    retrieved or failed; incoming sessions have no snapshot."""
    g = sym.g
    files = sym.U.all(
        "F",
        lambda f: Implies(
            g(s, "file_live", f),
            And(
                Implies(
                    sym.outgoing(s, g(s, "file_session", f)),
                    In(g(s, "file_state", f), zf.OUTGOING_FILE),
                ),
                Implies(
                    sym.incoming(s, g(s, "file_session", f)),
                    In(g(s, "file_state", f), st.INCOMING_FILE_STATES),
                ),
            ),
        ),
    )
    snaps = sym.U.all("S", lambda x: Implies(sym.incoming(s, x), Not(g(s, "session_snapshot", x))))
    return And(files, snaps)


def preserved_file_intact(sym: SymbolicLuo, s: SState) -> T:
    """A preserved outgoing file has its handle, its allocated ser page and a live memfd
    whose folios are exactly the pages it names besides the ser."""
    g, U = sym.g, sym.U
    return U.all(
        "F",
        lambda f: Implies(
            zf.out_file(sym, s, f),
            And(
                g(s, "file_handle", f),
                g(s, "file_has_ser", f),
                g(s, "file_has_memfd", f),
                g(s, "memfd_alive", g(s, "file_memfd", f)),
                Eq(g(s, "owner", g(s, "file_ser", f)), st.ALLOC),
                Not(sym.get2(s, "file_folio", f, g(s, "file_ser", f))),
                U.all(
                    "P",
                    lambda p: Eq(
                        sym.get2(s, "file_folio", f, p),
                        sym.get2(s, "memfd_folio", g(s, "file_memfd", f), p),
                    ),
                ),
            ),
        ),
    )


def memfd_folios_allocated(sym: SymbolicLuo, s: SState) -> T:
    """Every folio of a live memfd is an allocated page; dead memfds hold nothing."""
    g, U = sym.g, sym.U
    return And(
        U.all("M", lambda m: U.all("P", lambda p: Implies(
            sym.get2(s, "memfd_folio", m, p),
            And(g(s, "memfd_alive", m), Eq(g(s, "owner", p), st.ALLOC))))),
        U.all("M", lambda m: Implies(g(s, "memfd_user_fd", m), g(s, "memfd_alive", m))))


def live_memfd_referenced(sym: SymbolicLuo, s: SState) -> T:
    """A live memfd is held by user space or by LUO (no memfd is leaked alive)."""
    g = sym.g
    return sym.U.all("M", lambda m: Implies(g(s, "memfd_alive", m),
                                            Or(g(s, "memfd_user_fd", m), sym.managed(s, m))))


def _side_names(sym: SymbolicLuo, s: SState, p: T, side: str) -> T:
    """Page ``p`` is a files block of a session of ``side``, or named by one of its live
    files (preserved outgoing, or unretrieved incoming)."""
    g, U = sym.g, sym.U
    kind = sym.outgoing if side == "out" else sym.incoming
    live = zf.out_file if side == "out" else zf.new_file
    return Or(
        U.any(
            "S",
            lambda x: And(
                kind(s, x), g(s, "session_has_block", x), Eq(g(s, "session_block", x), p)
            ),
        ),
        U.any("F", lambda f: And(live(sym, s, f), zf.names(sym, s, f, p))),
    )


def tracked_exactly_metadata(sym: SymbolicLuo, s: SState) -> T:
    """KHO tracks exactly the pages outgoing metadata names: the files blocks of outgoing
    sessions and the ser pages and folios of their preserved files."""
    g = sym.g
    return sym.U.all("P", lambda p: Implies(g(s, "kho_tracked", p), _side_names(sym, s, p, "out")))


def outgoing_block_allocated(sym: SymbolicLuo, s: SState) -> T:
    """An outgoing session's files block is an allocated page; a session has one exactly
    when it has files."""
    g, U = sym.g, sym.U
    return And(
        U.all(
            "S",
            lambda x: Implies(
                And(sym.outgoing(s, x), g(s, "session_has_block", x)),
                Eq(g(s, "owner", g(s, "session_block", x)), st.ALLOC),
            ),
        ),
        U.all(
            "F",
            lambda f: Implies(
                zf.out_file(sym, s, f), g(s, "session_has_block", g(s, "file_session", f))
            ),
        ),
        U.all(
            "S",
            lambda x: Implies(
                And(sym.outgoing(s, x), g(s, "session_has_block", x)), sym.nfiles_pos(s, x)
            ),
        ),
    )


def handed_over_reserved(sym: SymbolicLuo, s: SState) -> T:
    """An unretrieved incoming file was never passed to retrieve(); every page it names
    is reserved and stamped, holds what it held at the jump, and its expected contents
    are about exactly its folios. An incoming files block is reserved and stamped, and
    its session still lists files (finish restores the block with the last of them)."""
    g, U = sym.g, sym.U
    files = U.all("F", lambda f: Implies(zf.new_file(sym, s, f), And(
        Not(g(s, "file_tried", f)),
        U.all("P", lambda p: And(
            Implies(zf.names(sym, s, f, p),
                    And(Eq(g(s, "owner", p), st.RESV), g(s, "stamped", p))),
            Eq(sym.get2(s, "file_expect_known", f, p), sym.get2(s, "file_folio", f, p)),
            Implies(sym.get2(s, "file_folio", f, p),
                    Eq(g(s, "content", p), sym.get2(s, "file_expect", f, p))))),
        Not(sym.get2(s, "file_folio", f, g(s, "file_ser", f))))))
    blocks = U.all(
        "S",
        lambda x: Implies(
            And(sym.incoming(s, x), g(s, "session_has_block", x)),
            And(
                Eq(g(s, "owner", g(s, "session_block", x)), st.RESV),
                g(s, "stamped", g(s, "session_block", x)),
                sym.nfiles_pos(s, x),
            ),
        ),
    )
    return And(files, blocks)


def retrieved_file_has_memfd(sym: SymbolicLuo, s: SState) -> T:
    """A retrieved incoming file points at a live memfd."""
    g = sym.g
    return sym.U.all("F", lambda f: Implies(
        And(g(s, "file_live", f), Eq(g(s, "file_state", f), st.F_OK)),
        And(g(s, "file_has_memfd", f), g(s, "memfd_alive", g(s, "file_memfd", f)))))


def stamps_only_in_new_kernel_metadata(sym: SymbolicLuo, s: SState) -> T:
    """A stamped page is reserved and named by an unretrieved incoming file or an incoming
    files block, or a failure leaked it (LEAKED, named by nothing); reserved pages are
    never tracked."""
    g = sym.g
    leaked: Fn = lambda p: Eq(g(s, "owner", p), st.LEAKED)  # noqa: E731
    return sym.U.all("P", lambda p: And(
        Implies(g(s, "stamped", p), Or(_side_names(sym, s, p, "in"), leaked(p))),
        Implies(leaked(p), And(g(s, "stamped", p), Not(_side_names(sym, s, p, "in")),
                               Not(_side_names(sym, s, p, "out")))),
        Implies(In(g(s, "owner", p), st.RESERVED), Not(g(s, "kho_tracked", p)))))


def deserialization_state(sym: SymbolicLuo, s: SState) -> T:
    """Deserialization is pending only with /dev/liveupdate closed, no outgoing session,
    no page leaked yet and every incoming session and file as the jump left it (never
    retrieved); it is
    never left swallowed in designs that propagate and cache every failure; the device
    flag is a bit."""
    d, g, U = sym.d, sym.g, sym.U
    untouched = And(
        U.all("S", lambda x: Implies(g(s, "session_exists", x), And(
            Eq(g(s, "session_status", x), st.IN_NEW), Not(g(s, "session_vetoed", x)),
            Not(g(s, "session_frozen", x)), Not(g(s, "session_snapshot", x))))),
        U.all("F", lambda f: Implies(g(s, "file_live", f), And(
            Eq(g(s, "file_state", f), st.F_NEW), Not(g(s, "file_tried", f))))),
        U.all("P", lambda p: Not(Eq(g(s, "owner", p), st.LEAKED))))
    deser, device = s["deser"], s["device"]
    swallows = not (d.deserialize_propagates_file_errors and d.deserialize_caches_alloc_error)
    return And(Or(Eq(device, 0), Eq(device, 1)), deser >= st.DESER_DONE,
               deser <= st.DESER_SWALLOWED,
               Implies(Eq(deser, st.DESER_PENDING), And(Eq(device, 0), untouched)),
               True if swallows else Not(Eq(deser, st.DESER_SWALLOWED)))


def _frozen(sym: SymbolicLuo, s: SState, x: T) -> T:
    return And(sym.outgoing(s, x), sym.g(s, "session_frozen", x))


def frozen_only_in_reboot(sym: SymbolicLuo, s: SState) -> T:
    """Outside reboot no session is frozen; once serialization is over every outgoing
    session is; the phase is one of the four."""
    g, U = sym.g, sym.U
    running = Eq(s["phase"], st.RUNNING)
    none = U.all("S", lambda x: Implies(_frozen(sym, s, x), Not(running)))
    done = Implies(Or(Eq(s["phase"], st.FINALIZE), Eq(s["phase"], st.READY)),
                   U.all("S", lambda x: Implies(sym.outgoing(s, x), g(s, "session_frozen", x))))
    return And(none, done, s["phase"] >= st.RUNNING, s["phase"] <= st.READY)


def gate_matches_phase(sym: SymbolicLuo, s: SState) -> T:
    """LUO's reboot gate is closed exactly while reboot() runs (designs with the gate; in
    the others it stays open)."""
    closed = Not(Eq(s["rebooting"], 0))
    if not sym.d.block_mutations_in_reboot:
        return Not(closed)
    return And(Eq(closed, Not(Eq(s["phase"], st.RUNNING))),
               Or(Eq(s["rebooting"], 0), Eq(s["rebooting"], 1)))


def snapshot_only_when_frozen(sym: SymbolicLuo, s: SState) -> T:
    """Only a session serialized in this reboot has a snapshot (every rollback and abort
    drops it)."""
    g = sym.g
    return sym.U.all("S", lambda x: Implies(And(sym.outgoing(s, x), g(s, "session_snapshot", x)),
                                            g(s, "session_frozen", x)))


def snapshot_matches_session(sym: SymbolicLuo, s: SState) -> T:
    """A frozen session has a snapshot exactly when it has files, taken of its current
    files block."""
    g, U = sym.g, sym.U
    return U.all(
        "S",
        lambda x: Implies(
            _frozen(sym, s, x),
            And(
                Eq(g(s, "session_snapshot", x), sym.nfiles_pos(s, x)),
                Implies(
                    g(s, "session_snapshot", x),
                    And(
                        Eq(g(s, "snapshot_has_block", x), g(s, "session_has_block", x)),
                        Eq(g(s, "snapshot_block", x), g(s, "session_block", x)),
                    ),
                ),
            ),
        ),
    )


def snapshot_matches_files(sym: SymbolicLuo, s: SState) -> T:
    """In a frozen session the snapshot entries are exactly its files, each frozen, with
    the ser, folios and handle the file has now."""
    g, U = sym.g, sym.U
    return U.all(
        "F",
        lambda f: Implies(
            And(
                Or(g(s, "file_live", f), g(s, "file_in_snapshot", f)),
                _frozen(sym, s, g(s, "file_session", f)),
            ),
            And(
                g(s, "file_live", f),
                g(s, "file_in_snapshot", f),
                Eq(g(s, "file_state", f), st.FROZEN),
                Eq(g(s, "snapshot_has_ser", f), g(s, "file_has_ser", f)),
                Eq(g(s, "snapshot_ser", f), g(s, "file_ser", f)),
                Eq(g(s, "snapshot_handle", f), g(s, "file_handle", f)),
                U.all(
                    "P",
                    lambda p: Eq(
                        sym.get2(s, "snapshot_folio", f, p), sym.get2(s, "file_folio", f, p)
                    ),
                ),
            ),
        ),
    )


def frozen_files_in_frozen_sessions(sym: SymbolicLuo, s: SState) -> T:
    """Only the files of frozen sessions are frozen."""
    g = sym.g
    return sym.U.all(
        "F",
        lambda f: Implies(
            And(g(s, "file_live", f), Eq(g(s, "file_state", f), st.FROZEN)),
            _frozen(sym, s, g(s, "file_session", f)),
        ),
    )


def serialization_in_order(sym: SymbolicLuo, s: SState) -> T:
    """While serializing, every frozen session was created before every unfrozen one
    (luo_session_serialize walks the list in creation order)."""
    g, U = sym.g, sym.U
    serializing = Eq(s["phase"], st.SERIALIZING)
    return U.all("S", lambda x: U.all("S", lambda y: Implies(
        And(serializing, _frozen(sym, s, x), sym.outgoing(s, y), Not(g(s, "session_frozen", y))),
        g(s, "session_seq", x) < g(s, "session_seq", y))))


def creation_numbers_unique(sym: SymbolicLuo, s: SState) -> T:
    """Sessions have distinct creation numbers, all below the counter (the list order is
    a total order)."""
    g, U = sym.g, sym.U
    below = U.all(
        "S", lambda x: Implies(g(s, "session_exists", x), g(s, "session_seq", x) < s["seq"])
    )
    distinct = U.all(
        "S",
        lambda x: U.all(
            "S",
            lambda y: Implies(
                And(
                    g(s, "session_exists", x),
                    g(s, "session_exists", y),
                    Eq(g(s, "session_seq", x), g(s, "session_seq", y)),
                ),
                Eq(x, y),
            ),
        ),
    )
    return And(below, distinct)


#: name -> (form, one-line guarantee). Order: the catalogue first, then the auxiliaries.
AUXILIARY: dict[str, tuple[Form, str]] = {
    f.__name__: (f, (f.__doc__ or "").split("\n\n")[0].replace("\n", " "))
    for f in (files_in_live_sessions, file_state_matches_side, preserved_file_intact,
              memfd_folios_allocated, live_memfd_referenced, tracked_exactly_metadata,
              outgoing_block_allocated, handed_over_reserved, retrieved_file_has_memfd,
              stamps_only_in_new_kernel_metadata, closing_session_empty,
              frozen_only_in_reboot, snapshot_matches_session, snapshot_matches_files,
              frozen_files_in_frozen_sessions, serialization_in_order,
              creation_numbers_unique, gate_matches_phase, snapshot_only_when_frozen,
              deserialization_state)
}


def _holds(form: Callable[[SymbolicLuo, SState], T]) -> Form:
    return lambda sym, s: Not(form(sym, s))


def invariants(design: Design) -> list[tuple[str, Form, str]]:
    """The catalogue's state properties and the auxiliary invariants, as holding-forms."""
    out: list[tuple[str, Form, str]] = []
    for name, form in zf.STATE_FORMS.items():
        out.append((name, _holds(form), "catalogue property"))
    for name, (aux, doc) in AUXILIARY.items():
        out.append((name, aux, doc))
    return out


def initial(sym: SymbolicLuo, s: SState) -> T:
    """The cold-booted machine, for any number of objects."""
    g, U = sym.g, sym.U
    return And(
        Eq(s["phase"], st.RUNNING), s["faults"] >= 0, Eq(s["kexecs"], 0),
        Eq(s["rebooting"], 0), Eq(s["device"], 1), Eq(s["deser"], st.DESER_DONE),
        U.all("P", lambda p: And(Eq(g(s, "owner", p), st.FREE), Not(g(s, "kho_tracked", p)),
                                 Not(g(s, "stamped", p)), Eq(g(s, "content", p), st.ZERO))),
        U.all("M", lambda m: And(Not(g(s, "memfd_alive", m)), Not(g(s, "memfd_user_fd", m)),
                                 U.all("P", lambda p: Not(sym.get2(s, "memfd_folio", m, p))))),
        U.all("S", lambda x: Not(g(s, "session_exists", x))),
        U.all("F", lambda f: And(Not(g(s, "file_live", f)), Not(g(s, "file_in_snapshot", f)))))
