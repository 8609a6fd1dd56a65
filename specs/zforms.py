"""The Z3 forms of the property catalogue, over the relational encoding (model/symbolic.py).

Each form returns the *violation* condition as a term: a Python bool when the encoding
runs concretely, a Z3 formula otherwise. ``tests/proofs/test_symbolic.py`` checks that every form
agrees with its predicate in ``specs/properties.py`` on every reachable state and
transition of a small instance, so a proof about a form is a proof about the property.

State invariants take ``(sym, state)``; step properties ``(sym, pre, inst, step)``.
"""

from __future__ import annotations

from collections.abc import Callable

from luoverify.model import errno as E
from luoverify.model import state as st
from luoverify.model.symbolic import (
    And,
    Eq,
    Finite,
    Fn,
    If,
    Implies,
    In,
    Inst,
    Not,
    Or,
    Step,
    SymbolicLuo,
    T,
)
from luoverify.model.symbolic import S as SState

OUTGOING_FILE = (st.PRESERVED, st.FROZEN)

# An occurrence kind: (domain of the holder or None for the page itself, predicate).
Occurrence = tuple[str | None, Callable[[T, T], T]]


def _at_most_one(sym: SymbolicLuo, p: T, kinds: list[Occurrence]) -> T:
    """At most one (kind, holder) pair holds page ``p``: exact counting when finite,
    pairwise exclusion (first-order) when unbounded."""
    U = sym.U
    if isinstance(U, Finite):
        total: T = 0
        for dom, pred in kinds:
            if dom is None:
                total = total + If(pred(None, p), 1, 0)
            else:
                total = total + U.count(dom, lambda o, pred=pred: pred(o, p))  # type: ignore[misc]
        return total <= 1
    parts = []
    exists = []
    for dom, pred in kinds:
        if dom is None:
            exists.append(pred(None, p))
        else:
            parts.append(Not(U.at_least_two(dom, lambda o, pred=pred: pred(o, p))))  # type: ignore[misc]
            exists.append(U.any(dom, lambda o, pred=pred: pred(o, p)))  # type: ignore[misc]
    for i in range(len(exists)):
        for j in range(i + 1, len(exists)):
            parts.append(Not(And(exists[i], exists[j])))
    return And(*parts)


def _holders(sym: SymbolicLuo, s: SState) -> list[Occurrence]:
    g = sym.g
    return [
        (None, lambda _o, p: Eq(g(s, "owner", p), st.OTHER)),
        ("M", lambda m, p: And(g(s, "memfd_alive", m), sym.get2(s, "memfd_folio", m, p))),
        (
            "S",
            lambda x, p: And(
                sym.outgoing(s, x), g(s, "session_has_block", x), Eq(g(s, "session_block", x), p)
            ),
        ),
        (
            "F",
            lambda f, p: And(
                out_file(sym, s, f), g(s, "file_has_ser", f), Eq(g(s, "file_ser", f), p)
            ),
        ),
        (
            "S",
            lambda x, p: And(
                sym.incoming(s, x), g(s, "session_has_block", x), Eq(g(s, "session_block", x), p)
            ),
        ),
        (
            "F",
            lambda f, p: And(
                new_file(sym, s, f), g(s, "file_has_ser", f), Eq(g(s, "file_ser", f), p)
            ),
        ),
        ("F", lambda f, p: And(new_file(sym, s, f), sym.get2(s, "file_folio", f, p))),
    ]


def _namers(sym: SymbolicLuo, s: SState) -> list[Occurrence]:
    g = sym.g
    return [
        (
            "F",
            lambda f, p: And(
                out_file(sym, s, f), g(s, "file_has_ser", f), Eq(g(s, "file_ser", f), p)
            ),
        ),
        ("F", lambda f, p: And(out_file(sym, s, f), sym.get2(s, "file_folio", f, p))),
        (
            "F",
            lambda f, p: And(
                new_file(sym, s, f), g(s, "file_has_ser", f), Eq(g(s, "file_ser", f), p)
            ),
        ),
        ("F", lambda f, p: And(new_file(sym, s, f), sym.get2(s, "file_folio", f, p))),
    ]


def out_file(sym: SymbolicLuo, s: SState, f: T) -> T:
    """A listed file of an outgoing session, preserved or frozen."""
    g = sym.g
    return And(g(s, "file_live", f), sym.outgoing(s, g(s, "file_session", f)),
               In(g(s, "file_state", f), OUTGOING_FILE))


def new_file(sym: SymbolicLuo, s: SState, f: T) -> T:
    """A listed file of an incoming session, never (successfully) retrieved."""
    g = sym.g
    return And(
        g(s, "file_live", f),
        sym.incoming(s, g(s, "file_session", f)),
        Eq(g(s, "file_state", f), st.F_NEW),
    )


def names(sym: SymbolicLuo, s: SState, f: T, p: T) -> T:
    g = sym.g
    return Or(
        And(g(s, "file_has_ser", f), Eq(g(s, "file_ser", f), p)), sym.get2(s, "file_folio", f, p)
    )


def live_named(sym: SymbolicLuo, s: SState, p: T) -> T:
    """Some preserved outgoing file or unretrieved incoming file names ``p``."""
    return sym.U.any("F", lambda f: And(Or(out_file(sym, s, f), new_file(sym, s, f)),
                                        names(sym, s, f, p)))


def snap_named(sym: SymbolicLuo, s: SState, p: T) -> T:
    """The serialized metadata of the reboot in progress names ``p``."""
    g, U = sym.g, sym.U
    frozen: Fn = lambda x: And(  # noqa: E731
        sym.outgoing(s, x), g(s, "session_snapshot", x), g(s, "session_frozen", x)
    )
    return And(
        sym.rebooting(s),
        Or(
            U.any(
                "S",
                lambda x: And(
                    frozen(x), g(s, "snapshot_has_block", x), Eq(g(s, "snapshot_block", x), p)
                ),
            ),
            U.any(
                "F",
                lambda f: And(
                    g(s, "file_in_snapshot", f),
                    frozen(g(s, "file_session", f)),
                    Or(
                        And(g(s, "snapshot_has_ser", f), Eq(g(s, "snapshot_ser", f), p)),
                        sym.get2(s, "snapshot_folio", f, p),
                    ),
                ),
            ),
        ),
    )


def is_free(sym: SymbolicLuo, s: SState, p: T) -> T:
    return In(sym.g(s, "owner", p), (st.FREE, st.OTHER))


# ============================================================== state invariants (violated)

def single_owner(sym: SymbolicLuo, s: SState) -> T:
    return Not(sym.U.all("P", lambda p: And(_at_most_one(sym, p, _holders(sym, s)),
                                            _at_most_one(sym, p, _namers(sym, s)))))


def no_free_while_preserved(sym: SymbolicLuo, s: SState) -> T:
    g, U = sym.g, sym.U
    pages = U.all("P", lambda p: Implies(is_free(sym, s, p), And(
        Not(g(s, "kho_tracked", p)), Not(live_named(sym, s, p)), Not(snap_named(sym, s, p)))))
    blocks = U.all("S", lambda x: Implies(And(sym.incoming(s, x), g(s, "session_has_block", x)),
                                          Not(is_free(sym, s, g(s, "session_block", x)))))
    return Not(And(pages, blocks))


def metadata_tracked(sym: SymbolicLuo, s: SState) -> T:
    g, U = sym.g, sym.U
    files = U.all("F", lambda f: Implies(out_file(sym, s, f), U.all(
        "P", lambda p: Implies(names(sym, s, f, p), g(s, "kho_tracked", p)))))
    blocks = U.all("S", lambda x: Implies(And(sym.outgoing(s, x), g(s, "session_has_block", x)),
                                          g(s, "kho_tracked", g(s, "session_block", x))))
    return Not(And(files, blocks))


def no_alloc_of_reserved(sym: SymbolicLuo, s: SState) -> T:
    g, U = sym.g, sym.U
    stamps = U.all("P", lambda p: Implies(g(s, "stamped", p),
                                          In(g(s, "owner", p), st.RESERVED)))
    handed = U.all("F", lambda f: Implies(And(new_file(sym, s, f), Not(g(s, "file_tried", f))),
                                          U.all("P", lambda p: Implies(
                                              names(sym, s, f, p),
                                              Eq(g(s, "owner", p), st.RESV)))))
    return Not(And(stamps, handed))


def nothing_frozen_while_running(sym: SymbolicLuo, s: SState) -> T:
    g, U = sym.g, sym.U
    frozen = U.any("F", lambda f: And(out_file(sym, s, f),
                                      Eq(g(s, "file_state", f), st.FROZEN)))
    serialized = U.any("S", lambda x: And(sym.outgoing(s, x), Or(
        g(s, "session_frozen", x), g(s, "session_snapshot", x))))
    return And(Eq(s["phase"], st.RUNNING),
               Or(frozen, serialized, Not(Eq(s["rebooting"], 0))))


def finished_sessions_unlisted(sym: SymbolicLuo, s: SState) -> T:
    g = sym.g
    return sym.U.any("S", lambda x: And(g(s, "session_exists", x),
                                        Eq(g(s, "session_status", x), st.IN_RELISTED)))


def no_partial_incoming(sym: SymbolicLuo, s: SState) -> T:
    return And(Eq(s["device"], 1), Eq(s["deser"], st.DESER_SWALLOWED))


def no_orphan_page(sym: SymbolicLuo, s: SState) -> T:
    g, U = sym.g, sym.U
    kinds = _holders(sym, s)

    def held(p: T) -> T:
        return Or(*[pred(None, p) if dom is None else
                    U.any(dom, lambda o, pred=pred: pred(o, p))  # type: ignore[misc]
                    for dom, pred in kinds])

    def failed_names(p: T) -> T:  # the LUO-M4f mutant's failed files keep their names
        if sym.d.finish_skips_failed_retrieve:
            return False  # a failed file names nothing (the encoding forgets them)
        return U.any("F", lambda f: And(
            g(s, "file_live", f), sym.incoming(s, g(s, "file_session", f)),
            In(g(s, "file_state", f), tuple(st.RETRIEVE_FAILED)), names(sym, s, f, p)))

    return U.any("P", lambda p: Or(
        And(Eq(g(s, "owner", p), st.ALLOC), Not(held(p))),
        And(Eq(g(s, "owner", p), st.RESV), Not(held(p)), Not(failed_names(p)))))


STATE_FORMS: dict[str, Callable[[SymbolicLuo, SState], T]] = {
    "no_partial_incoming": no_partial_incoming,
    "no_orphan_page": no_orphan_page,
    "single_owner": single_owner,
    "nothing_frozen_while_running": nothing_frozen_while_running,
    "finished_sessions_unlisted": finished_sessions_unlisted,
    "no_free_while_preserved": no_free_while_preserved,
    "metadata_tracked": metadata_tracked,
    "no_alloc_of_reserved": no_alloc_of_reserved,
}

# ================================================================== step properties

REBOOT_CALLS = ("reboot", "luo_session_serialize", "kho_finalize", "kernel_kexec")


def data_intact(sym: SymbolicLuo, pre: SState, a: Inst, step: Step) -> T:
    if a.name != "retrieve_fd" or a.arg("list") != "in" or step.rfile is None:
        return False
    g, U, f = sym.g, sym.U, step.rfile
    post = step.post
    bad = U.any("P", lambda p: Or(
        Not(Eq(sym.get2(pre, "file_expect_known", f, p), sym.get2(pre, "file_folio", f, p))),
        And(sym.get2(pre, "file_folio", f, p),
            Not(Eq(g(post, "content", p), sym.get2(pre, "file_expect", f, p))))))
    return And(Eq(step.ret, 0), step.hretrieve, bad)


def restore_once(sym: SymbolicLuo, pre: SState, a: Inst, step: Step) -> T:
    return step.refused


def ops_on_right_side(sym: SymbolicLuo, pre: SState, a: Inst, step: Step) -> T:
    lst = a.arg("list")
    wrong = (a.name == "preserve_fd" and lst == "in") or (
        a.name in ("retrieve_fd", "finish") and lst == "out")
    if not wrong:
        return False
    return Not(Eq(step.ret, -E.EINVAL))


def retrieve_at_most_once(sym: SymbolicLuo, pre: SState, a: Inst, step: Step) -> T:
    return step.hretrieve_again


def cancel_releases_all(sym: SymbolicLuo, pre: SState, a: Inst, step: Step) -> T:
    if a.name != "close_session" or a.arg("list") != "out":
        return False
    g, U, x, post = sym.g, sym.U, a.arg("session"), step.post
    mine: Fn = lambda f: sym.file_of(pre, f, x)  # noqa: E731
    page_of_session: Fn = lambda p: Or(  # noqa: E731
        And(g(pre, "session_has_block", x), Eq(g(pre, "session_block", x), p)),
        U.any("F", lambda f: And(mine(f), names(sym, pre, f, p))))
    tracked = U.any("P", lambda p: And(page_of_session(p), g(post, "kho_tracked", p)))
    memfds = U.any("M", lambda m: And(g(pre, "memfd_alive", m), g(pre, "memfd_user_fd", m), Or(
        Not(g(post, "memfd_alive", m)),
        U.any("P", lambda p: Or(
            Not(Eq(sym.get2(pre, "memfd_folio", m, p), sym.get2(post, "memfd_folio", m, p))),
            And(sym.get2(pre, "memfd_folio", m, p),
                Not(Eq(g(pre, "content", p), g(post, "content", p)))))))))
    return Or(tracked, memfds)


def failed_reboot_restores(sym: SymbolicLuo, pre: SState, a: Inst, step: Step) -> T:
    if a.name not in REBOOT_CALLS:
        return False
    g, post = sym.g, step.post
    bad = sym.U.any("F", lambda f: And(
        g(post, "file_live", f), sym.outgoing(post, g(post, "file_session", f)),
        Or(Not(Eq(g(post, "file_state", f), st.PRESERVED)), Not(g(post, "file_handle", f)))))
    return And(step.ret < 0, bad)


def finish_disposes(sym: SymbolicLuo, pre: SState, a: Inst, step: Step) -> T:
    if a.name not in ("finish", "close_session") or a.arg("list") != "in":
        return False
    if a.name == "close_session" and a.arg("fault"):
        return False
    g, U, x, post = sym.g, sym.U, a.arg("session"), step.post
    page: Fn = lambda p: Or(  # noqa: E731
        And(g(pre, "session_has_block", x), Eq(g(pre, "session_block", x), p)),
        U.any("F", lambda f: And(sym.file_of(pre, f, x), Eq(g(pre, "file_state", f), st.F_NEW),
                                 names(sym, pre, f, p))))
    kept = U.any("P", lambda p: And(page(p), Or(Eq(g(post, "owner", p), st.RESV),
                                                g(post, "stamped", p))))
    return And(Eq(step.ret, 0), kept)


def leak_bound(sym: SymbolicLuo, pre: SState, a: Inst, step: Step) -> T:
    if a.name != "kernel_kexec" or a.args:  # the jump itself (not unwind, not a return)
        return False
    g = sym.g
    return sym.U.any("P", lambda p: Or(
        Not(Eq(Eq(g(step.post, "owner", p), st.RESV), g(pre, "kho_tracked", p))),
        Eq(g(step.post, "owner", p), st.LEAKED)))


def handover_matches_metadata(sym: SymbolicLuo, pre: SState, a: Inst, step: Step) -> T:
    if a.name != "kernel_kexec" or a.args:
        return False
    g, U, post = sym.g, sym.U, step.post
    named: Fn = lambda p: Or(  # noqa: E731
        U.any(
            "S",
            lambda x: And(
                sym.incoming(post, x),
                g(post, "session_has_block", x),
                Eq(g(post, "session_block", x), p),
            ),
        ),
        U.any(
            "F",
            lambda f: And(
                g(post, "file_live", f),
                sym.incoming(post, g(post, "file_session", f)),
                names(sym, post, f, p),
            ),
        ),
    )
    return U.any("P", lambda p: Not(Eq(g(pre, "kho_tracked", p), named(p))))


STEP_FORMS: dict[str, Callable[[SymbolicLuo, SState, Inst, Step], T]] = {
    "data_intact": data_intact,
    "restore_once": restore_once,
    "ops_on_right_side": ops_on_right_side,
    "retrieve_at_most_once": retrieve_at_most_once,
    "cancel_releases_all": cancel_releases_all,
    "failed_reboot_restores": failed_reboot_restores,
    "finish_disposes": finish_disposes,
    "leak_bound": leak_bound,
    "handover_matches_metadata": handover_matches_metadata,
}

#: Catalogue properties without a Z3 form, and why.
NOT_ENCODED: dict[str, str] = {
    "no_preserved_in_scratch": "scratch pages are not in the symbolic encoding (the "
                               "explicit checker covers it, bound scratch >= 1)",
    **{name: "legacy design only (the v3/v4 global state machine): the symbolic "
              "encoding covers the session-based designs" for name in (
                  "cancel_returns_to_normal", "update_delivers_prepared",
                  "freeze_fails_only_on_error")},
    "recoverable": "a graph property (a clean state reachable from every state): not a "
                   "safety property, so neither BMC nor induction can show it",
}
