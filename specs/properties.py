"""The property catalogue: what LUO and KHO guarantee about page ownership.

Properties are values (after stateright): a name stating the good condition, a kind, the
kernel guarantee in one sentence, its source, and a predicate whose message carries the
values that break it. Bounds never appear here.

A source names the defects that break the property (LUO-Mn, KHO-Mn, On, MFn: the ids of
``specs/defects.py``), a kernel selftest, or a KHO invariant In, numbered as in the
property table of README.md. The sources are printed in reports and kept as they are,
so a few still carry the section number (``L§n``) of the design notes they were first
written from; in kernel terms (``kernel/liveupdate/``): L§2.4 closing an outgoing
session (``luo_session.c``: ``luo_session_release``); L§2.5 the reboot path
(``luo_core.c``: ``liveupdate_reboot``; ``luo_session.c``: ``luo_session_serialize``;
step 2 is the rollback of a failed freeze, ``luo_file.c``: ``luo_file_unfreeze``);
L§2.7 RETRIEVE_FD (``luo_file.c``: ``luo_retrieve_file``); L§2.8 FINISH (``luo_file.c``:
``luo_file_finish``); L§2.9 which session ioctls each session kind accepts (LUO-M7);
L§3.3 / L§3.4 the v3/v4 global state machine
(googleprodkernel/linux-liveupdate ``luo_core.c``: ``luo_prepare``, ``luo_freeze``,
``luo_cancel``, ``liveupdate_reboot``; ``luo_files.c``: ``luo_files_freeze``). The
invariants, in words:

* I1 -- no page is freed while KHO still tracks it;
* I2 -- no preserved page and no KHO metadata lies in a scratch region;
* I3 -- a preserved block has at most one owner: no two preserved files name it;
* I5 -- at the jump, the blocks named by serialized metadata are exactly the tracked
  blocks their owners preserved;
* I9 -- the new kernel reserves exactly the handed-over blocks;
* I10 -- a page carries the KHO stamp iff it heads a handed-over block not yet restored;
* I11 -- each handed-over block is restored at most once; restoring anything else fails;
* I12 -- a restored page has exactly one owner;
* I13 -- after a session is finished, nothing its files named stays reserved;
* I14 -- a block not restored in kernel N+1 (and not preserved again) is free memory in
  kernel N+2: a leak lasts one kernel;
* I15 -- no reserved KHO block lies in the scratch regions inherited by the new kernel;
* I17 -- preserved bytes are unchanged between the jump and the restore.

Kinds:

* ``always`` -- ``check(state)`` returns ``None`` or a message, on every reachable state;
* ``step`` -- ``check(pre, action, outcome)`` on every transition (``outcome.state`` is the
  successor before symmetry reduction, so page and memfd ids match ``pre``);
* ``sometimes`` -- ``reached(state)`` or ``reached(pre, action, outcome)`` must hold
  somewhere, or the bound explores nothing interesting (a vacuity guard);
* ``graph`` -- ``goal(state)``: from every reachable state some goal state is reachable.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from luoverify.model import errno as E
from luoverify.model import state as st
from luoverify.model.bounds import Bounds
from luoverify.model.core import Action, Outcome
from luoverify.model.legacy import base as legacy_base
from luoverify.model.luo import JUMP_ACTIONS, REBOOT_ACTIONS
from luoverify.model.property import Property
from luoverify.model.state import (
    FAULTS,
    FL_EXPECT,
    FL_FOLIOS,
    FL_HANDLE,
    FL_MEMFD,
    FL_SER,
    FL_ST,
    FL_TRIED,
    GLOB,
    INCOMING,
    KEXECS,
    M_FOLIOS,
    M_USER,
    MEMFDS,
    OUTGOING,
    P_CONTENT,
    P_OWNER,
    P_SCRATCH,
    P_STAMPED,
    P_TRACKED,
    PAGES,
    PHASE,
    REBOOTING,
    S_FBLK,
    S_FILES,
    S_FROZEN,
    S_SNAP,
    S_STATUS,
    S_VETOED,
    SNAP_FBLK,
    SNAP_FILES,
    State,
)

StateCheck = Callable[[State], "str | None"]
StepCheck = Callable[[State, Action, Outcome[State]], "str | None"]


# ===================================================================== state analysis

def _outgoing_files(state: State) -> Iterator[tuple[int, int, tuple[Any, ...]]]:
    for si, s in enumerate(state[OUTGOING]):
        for fi, f in enumerate(s[S_FILES]):
            if f[FL_ST] in (st.PRESERVED, st.FROZEN):
                yield si, fi, f


def _live_incoming_files(state: State) -> Iterator[tuple[int, int, tuple[Any, ...]]]:
    """Incoming files whose serialized metadata LUO still relies on (never retrieved)."""
    for si, s in enumerate(state[INCOMING]):
        for fi, f in enumerate(s[S_FILES]):
            if f[FL_ST] == st.F_NEW:
                yield si, fi, f


def _named(f: tuple[Any, ...]) -> tuple[int, ...]:
    return ((f[FL_SER],) if f[FL_SER] >= 0 else ()) + tuple(f[FL_FOLIOS])


def holders(state: State) -> dict[int, list[str]]:
    """Page -> every party that holds it as its own memory (should be at most one)."""
    _g, outs, incs, memfds, pages = state
    out: dict[int, list[str]] = {}

    def add(p: int, who: str) -> None:
        out.setdefault(p, []).append(who)

    for p, pg in enumerate(pages):
        if pg[P_OWNER] == st.OTHER:
            add(p, "another kernel user")
    for m, mf in enumerate(memfds):
        if mf is not None:
            for p in mf[M_FOLIOS]:
                add(p, f"memfd {m} (folio)")
    for si, s in enumerate(outs):
        if s[S_FBLK] >= 0:
            add(s[S_FBLK], f"outgoing session {si} (files block)")
        for fi, f in enumerate(s[S_FILES]):
            if f[FL_ST] in (st.PRESERVED, st.FROZEN) and f[FL_SER] >= 0:
                add(f[FL_SER], f"outgoing session {si} file {fi} (memfd_luo_ser)")
    for si, s in enumerate(incs):
        if s[S_FBLK] >= 0:
            add(s[S_FBLK], f"incoming session {si} (files block)")
        for fi, f in enumerate(s[S_FILES]):
            if f[FL_ST] == st.F_NEW:
                for p in _named(f):
                    add(p, f"incoming session {si} file {fi} (handed over)")
    return out


def namers(state: State) -> dict[int, list[str]]:
    """Page -> every live file record whose serialized metadata names it."""
    out: dict[int, list[str]] = {}
    for si, fi, f in _outgoing_files(state):
        for p in _named(f):
            out.setdefault(p, []).append(f"outgoing session {si} file {fi}")
    for si, fi, f in _live_incoming_files(state):
        for p in _named(f):
            out.setdefault(p, []).append(f"incoming session {si} file {fi}")
    return out


def snapshot_named(state: State) -> dict[int, str]:
    """Pages named by serialized session metadata written during the current reboot."""
    out: dict[int, str] = {}
    if state[GLOB][PHASE] == st.RUNNING:
        return out
    for si, s in enumerate(state[OUTGOING]):
        snap = s[S_SNAP]
        if snap is None or not s[S_FROZEN]:
            continue
        if snap[SNAP_FBLK] >= 0:
            out[snap[SNAP_FBLK]] = f"serialized files block of outgoing session {si}"
        for j, (ser, folios, _h) in enumerate(snap[SNAP_FILES]):
            for p in ((ser,) if ser >= 0 else ()) + tuple(folios):
                out[p] = f"serialized file {j} of outgoing session {si}"
    return out


def _page(state: State, p: int) -> str:
    pg = state[PAGES][p]
    flags = []
    if pg[P_TRACKED]:
        flags.append("KHO-tracked")
    if pg[P_STAMPED]:
        flags.append("stamped")
    if pg[P_SCRATCH]:
        flags.append("scratch")
    extra = f", {', '.join(flags)}" if flags else ""
    content = st.CONTENT_NAMES[pg[P_CONTENT]]
    return f"page {p} [{st.OWNER_NAMES[pg[P_OWNER]]}{extra}, content {content}]"


# ===================================================================== always

def single_owner(state: State) -> str | None:
    for p, who in sorted(holders(state).items()):
        if len(who) > 1:
            return f"{_page(state, p)} has {len(who)} owners: {'; '.join(who)}"
    for p, who in sorted(namers(state).items()):
        if len(who) > 1:
            return f"{_page(state, p)} is named by {len(who)} preserved files: {'; '.join(who)}"
    return None


def no_free_while_preserved(state: State) -> str | None:
    pages = state[PAGES]
    named = namers(state)
    snap = snapshot_named(state)
    for p, pg in enumerate(pages):
        if pg[P_OWNER] not in (st.FREE, st.OTHER):
            continue
        if pg[P_TRACKED]:
            return f"{_page(state, p)} is tracked by KHO but was freed"
        if p in named:
            return f"{_page(state, p)} is named by {named[p][0]} but was freed"
        if p in snap:
            return f"{_page(state, p)} is named by the {snap[p]} but was freed"
    for si, s in enumerate(state[INCOMING]):
        if s[S_FBLK] >= 0 and pages[s[S_FBLK]][P_OWNER] in (st.FREE, st.OTHER):
            return f"{_page(state, s[S_FBLK])} is the files block of incoming session {si} but free"
    return None


def metadata_tracked(state: State) -> str | None:
    pages = state[PAGES]
    for si, fi, f in _outgoing_files(state):
        for p in _named(f):
            if not pages[p][P_TRACKED]:
                return (f"{_page(state, p)} is named by outgoing session {si} file {fi} "
                        "but KHO does not track it: it will not be handed over")
    for si, s in enumerate(state[OUTGOING]):
        if s[S_FBLK] >= 0 and not pages[s[S_FBLK]][P_TRACKED]:
            return f"files block {_page(state, s[S_FBLK])} of outgoing session {si} is not tracked"
    return None


def no_alloc_of_reserved(state: State) -> str | None:
    pages = state[PAGES]
    for p, pg in enumerate(pages):
        if pg[P_STAMPED] and pg[P_OWNER] not in st.RESERVED:
            return f"{_page(state, p)} still carries a KHO stamp but was handed out"
    hold = holders(state)
    for si, fi, f in _live_incoming_files(state):
        if f[FL_TRIED]:
            continue  # retrieve was called: the handler consumed the data (see LUO-M4)
        for p in _named(f):
            if pages[p][P_OWNER] != st.RESV:
                return (f"{_page(state, p)} is handed over to incoming session {si} file {fi} "
                        f"but the new kernel gave it away (held by {hold.get(p, ['nobody'])})")
    return None


def nothing_frozen_while_running(state: State) -> str | None:
    """While the machine runs normally (no reboot() in progress), LUO is not rebooting:
    the gate is open, no outgoing session is serialized and no file is frozen
    (``kernel/liveupdate/luo_session.c``: ``luo_session_serialize``'s rollback and
    ``luo_session_abort_reboot``)."""
    glob = state[GLOB]
    if glob[PHASE] != st.RUNNING:
        return None
    for si, s in enumerate(state[OUTGOING]):
        for fi, f in enumerate(s[S_FILES]):
            if f[FL_ST] == st.FROZEN:
                return (f"no reboot is in progress but outgoing session {si} file {fi} is "
                        "still frozen: user space can no longer change or close it safely")
        if s[S_FROZEN] or s[S_SNAP] is not None:
            return (f"no reboot is in progress but outgoing session {si} is still "
                    "serialized")
    if glob[REBOOTING]:
        return ("no reboot is in progress but LUO's reboot gate is still closed: every "
                "CREATE_SESSION and PRESERVE_FD fails with EBUSY and closing an outgoing "
                "session waits forever")
    return None


def finished_sessions_unlisted(state: State) -> str | None:
    """A session FINISH succeeded on is no longer on the incoming list, so RETRIEVE_SESSION
    cannot hand it out again (``kernel/liveupdate/luo_session.c``: ``luo_session_finish``
    unlinks it; 6.19 keeps it listed but retrieved, which refuses a retrieve too)."""
    for si, s in enumerate(state[INCOMING]):
        if s[S_STATUS] == st.IN_RELISTED:
            return (f"incoming session {si} was finished but is listed and not retrieved: "
                    "RETRIEVE_SESSION hands the finished session out again")
    return None


def no_partial_incoming(state: State) -> str | None:
    """User space never holds /dev/liveupdate over a partial incoming list: a
    deserialization that failed part-way fails every open (``kernel/liveupdate/
    luo_core.c``: ``luo_open``; ``luo_session.c``: ``luo_session_deserialize``)."""
    glob = state[GLOB]
    if glob[st.DEVICE] and glob[st.DESER] == st.DESER_SWALLOWED:
        return ("/dev/liveupdate is open although deserialization failed part-way: user "
                "space sees the incoming sessions and files rebuilt before the failure, "
                "not all the records handed over")
    return None


def no_orphan_page(state: State) -> str | None:
    """Every page is owned by something: the allocator, another kernel user, a model
    object that holds it (memfd, session, file), a live incoming record that names it
    (reserved until retrieve or finish), or a failure's documented leak (LEAKED:
    reserved until the next kexec, where leak_bound holds it to).

    Only the failure paths whose kernel cleanup leaves pages reserved on purpose mark
    them LEAKED: a failed deserialization (what was not rebuilt, and with the default
    Design choice what was discarded) and a memfd retrieve that fails before any folio
    is restored (its folios). A cleanup that forgets pages leaves them RESV, named by
    nothing: that is an orphan (KHO-M11)."""
    hold = holders(state)
    # a failed file's record names its reserved pages only in the LUO-M4f mutant, whose
    # finish reads them again (upstream forgets them)
    failed_names = {p for s in state[INCOMING] for f in s[S_FILES]
                    if f[FL_ST] in st.RETRIEVE_FAILED for p in _named(f)}
    for p, pg in enumerate(state[PAGES]):
        if pg[P_OWNER] == st.ALLOC and p not in hold:
            return f"{_page(state, p)} is allocated but nothing holds it: an orphan"
        if pg[P_OWNER] == st.RESV and p not in hold and p not in failed_names:
            return (f"{_page(state, p)} is reserved for the next kernel's objects but no "
                    "incoming record names it, and no failure documented the leak: an "
                    "orphan until the next kexec")
    return None


def no_preserved_in_scratch(state: State) -> str | None:
    for p, pg in enumerate(state[PAGES]):
        if pg[P_SCRATCH] and (pg[P_TRACKED] or pg[P_OWNER] in st.RESERVED):
            return f"{_page(state, p)} is preserved inside a scratch region"
    return None


# ===================================================================== step

def _jumped(pre: State, post: State) -> bool:
    return bool(post[GLOB][KEXECS] > pre[GLOB][KEXECS])


def data_intact(pre: State, action: Action, out: Outcome[State]) -> str | None:
    if action.name != "retrieve_fd" or out.ret != 0 or action.arg("list") != "in":
        return None
    if not any(ev == "handler_retrieve" for ev, _ in out.events):
        return None
    post = out.state
    f = post[INCOMING][action.arg("session")][S_FILES][action.arg("file")]
    mf = post[MEMFDS][f[FL_MEMFD]]
    got = tuple(post[PAGES][p][P_CONTENT] for p in mf[M_FOLIOS])
    if got != f[FL_EXPECT]:
        names = [st.CONTENT_NAMES[c] for c in got]
        want = [st.CONTENT_NAMES[c] for c in f[FL_EXPECT]]
        return (f"retrieved memfd {f[FL_MEMFD]} of incoming session {action.arg('session')} reads "
                f"{names}, but {want} was in its pages at the jump")
    return None


def restore_once(pre: State, action: Action, out: Outcome[State]) -> str | None:
    for ev, p in out.events:
        if ev == "restore_refused":
            return (f"{action} asked KHO to restore {_page(pre, p)}, which carries no stamp: "
                    "it was never handed over or is already restored (KHO WARNs)")
        if ev == "restore_unstamped":
            return f"{action} restored {_page(pre, p)} without a stamp: a second owner"
    return None


def ops_on_right_side(pre: State, action: Action, out: Outcome[State]) -> str | None:
    lst = dict(action.args).get("list")
    wrong = (action.name == "preserve_fd" and lst == "in") or (
        action.name in ("retrieve_fd", "finish") and lst == "out")
    if wrong and out.ret != -E.EINVAL:
        side = "an incoming" if lst == "in" else "an outgoing"
        return (f"{action} on {side} session returned {E.ret_name(out.ret)} instead of "
                "-EINVAL: the handler op ran on the wrong side of kexec")
    return None


def retrieve_at_most_once(pre: State, action: Action, out: Outcome[State]) -> str | None:
    for ev, tried in out.events:
        if ev == "handler_retrieve" and tried:
            return (f"{action} called the handler's retrieve() again after an earlier "
                    "retrieve() of the same file already consumed its data")
    return None


def cancel_releases_all(pre: State, action: Action, out: Outcome[State]) -> str | None:
    if action.name != "close_session" or action.arg("list") != "out":
        return None
    s = pre[OUTGOING][action.arg("session")]
    post = out.state
    pages = ([s[S_FBLK]] if s[S_FBLK] >= 0 else []) + [p for f in s[S_FILES] for p in _named(f)]
    for p in pages:
        if post[PAGES][p][P_TRACKED]:
            return (f"after closing outgoing session {action.arg('session')}, "
                    f"{_page(post, p)} is still tracked by KHO")
    for m, mf in enumerate(pre[MEMFDS]):
        if mf is None or not mf[M_USER]:
            continue
        after = post[MEMFDS][m]
        before_data = [pre[PAGES][p][P_CONTENT] for p in mf[M_FOLIOS]]
        if after is None:
            return f"closing the session destroyed memfd {m} that user space still holds"
        if [post[PAGES][p][P_CONTENT] for p in after[M_FOLIOS]] != before_data:
            return f"closing the session changed the data of memfd {m}"
    return None


def failed_reboot_restores(pre: State, action: Action, out: Outcome[State]) -> str | None:
    if action.name not in REBOOT_ACTIONS or out.ret >= 0:
        return None
    for si, s in enumerate(out.state[OUTGOING]):
        for fi, f in enumerate(s[S_FILES]):
            # legacy: a failed freeze cancels every file, as v3 documents (REGISTERED)
            if f[FL_ST] not in (st.PRESERVED, st.REGISTERED):
                return (f"reboot() failed with {E.ret_name(out.ret)} but outgoing session "
                        f"{si} file {fi} is left {st.FILE_ST_NAMES[f[FL_ST]]}")
            if not f[FL_HANDLE]:
                return (f"reboot() failed with {E.ret_name(out.ret)} and outgoing session "
                        f"{si} file {fi} lost its serialized_data handle")
    return None


def finish_disposes(pre: State, action: Action, out: Outcome[State]) -> str | None:
    if action.name not in ("finish", "close_session") or action.arg("list") != "in":
        return None
    s = pre[INCOMING][action.arg("session")]
    if out.ret != 0 or (action.name == "close_session" and action.arg("fault")):
        return None
    # files never retrieved, and (legacy O4) files marked reclaimed whose data was
    # never restored: both still name handed-over pages
    pages = ([s[S_FBLK]] if s[S_FBLK] >= 0 else []) + [
        p for f in s[S_FILES] if f[FL_ST] in (st.F_NEW, *st.RETRIEVE_FAILED) for p in _named(f)]
    for p in pages:
        pg = out.state[PAGES][p]
        if pg[P_OWNER] == st.RESV or pg[P_STAMPED]:
            return (f"finish of incoming session {action.arg('session')} left "
                    f"{_page(out.state, p)} reserved")
    return None


# ------------------------------------- the legacy global state machine (v3/v4 series)

def cancel_returns_to_normal(pre: State, action: Action, out: Outcome[State]) -> str | None:
    """CANCEL (or closing /dev/liveupdate) from PREPARED / FROZEN ends in NORMAL with
    KHO not finalized and nothing tracked."""
    if legacy_base(pre[GLOB][PHASE]) not in (st.L_PREPARED, st.L_FROZEN):
        return None
    what = "CANCEL" if action.name == "cancel" else "closing /dev/liveupdate"
    if out.ret != 0:
        return f"{what} in {st.legacy_phase_name(pre[GLOB][PHASE])} returned {E.ret_name(out.ret)}"
    phase = out.state[GLOB][PHASE]
    if phase != st.L_NORMAL:
        return (f"after {what} in {st.legacy_phase_name(pre[GLOB][PHASE])} the global state is "
                f"{st.legacy_phase_name(phase)}, not NORMAL")
    for p, pg in enumerate(out.state[PAGES]):
        if pg[P_TRACKED]:
            return f"after {what}, {_page(out.state, p)} is still tracked by KHO"
    return None


def update_delivers_prepared(pre: State, action: Action, out: Outcome[State]) -> str | None:
    """A live update (a kexec from PREPARED or FROZEN) hands every prepared file to the
    next kernel."""
    if not _jumped(pre, out.state) or legacy_base(pre[GLOB][PHASE]) not in (st.L_PREPARED,
                                                                       st.L_FROZEN):
        return None
    want = sum(1 for s in pre[OUTGOING] for f in s[S_FILES]
               if f[FL_ST] in (st.PRESERVED, st.FROZEN))
    got = sum(1 for s in out.state[INCOMING] for f in s[S_FILES] if f[FL_ST] == st.F_NEW)
    if got != want:
        return (f"kexec from {st.legacy_phase_name(pre[GLOB][PHASE])} delivered {got} of {want} "
                "prepared files to the next kernel: their data is lost")
    return None


def freeze_fails_only_on_error(pre: State, action: Action,
                               out: Outcome[State]) -> str | None:
    """FREEZE (or the freeze inside reboot) fails only when a file's freeze fails."""
    if legacy_base(pre[GLOB][PHASE]) != st.L_PREPARED or out.ret == 0:
        return None
    if out.ret > 0 or out.state[GLOB][FAULTS] == pre[GLOB][FAULTS]:
        return (f"{action} returned {out.ret} although no file failed to freeze "
                "(not an errno: an uninitialized value)" if out.ret > 0 else
                f"{action} returned {E.ret_name(out.ret)} although no file failed to "
                "freeze")
    return None


def _handed_over(pre: State, p: int) -> bool:
    """Does the jump from ``pre`` hand page ``p`` over? Tracked pages are, except in the
    legacy machine without finalized KHO, which hands nothing over."""
    phase = pre[GLOB][PHASE]
    if phase >= st.L_PREPARED and not phase & st.KHO_FINALIZED:
        return False
    return bool(pre[PAGES][p][P_TRACKED])


def leak_bound(pre: State, action: Action, out: Outcome[State]) -> str | None:
    if not _jumped(pre, out.state):
        return None
    for p, after in enumerate(out.state[PAGES]):
        if after[P_OWNER] == st.LEAKED:
            return (f"at the jump, page {p}, which a failure left reserved until this kexec, "
                    "is still not reclaimed")
        handed = _handed_over(pre, p)
        if bool(after[P_OWNER] == st.RESV) != handed:
            return (f"at the jump, page {p} was {'' if handed else 'not '}handed over "
                    f"but the next kernel left it {st.OWNER_NAMES[after[P_OWNER]]}")
    return None


def handover_matches_metadata(pre: State, action: Action, out: Outcome[State]) -> str | None:
    """At the jump, tracked pages (pre) = pages the serialized metadata names.

    The serialized metadata is read back from the new kernel's incoming list, which the
    jump builds from exactly what serialization wrote; this works whether reboot() is one
    step (atomic bounds) or several.
    """
    if not _jumped(pre, out.state):
        return None
    named: dict[int, str] = {}
    for si, sess in enumerate(out.state[INCOMING]):
        if sess[S_FBLK] >= 0:
            named[sess[S_FBLK]] = f"serialized files block of session {si}"
        for fi, f in enumerate(sess[S_FILES]):
            for p in _named(f):
                named[p] = f"serialized file {fi} of session {si}"
    for p in range(len(pre[PAGES])):
        handed = _handed_over(pre, p)
        if handed and p not in named:
            return (f"{_page(pre, p)} is handed over but no serialized metadata names it: "
                    "the next kernel can never restore it")
        if p in named and not handed:
            return f"{_page(pre, p)} is named by the {named[p]} but is not handed over"
    return None


# ===================================================================== sometimes

def happy_path(state: State) -> str | None:
    for si, s in enumerate(state[INCOMING]):
        for f in s[S_FILES]:
            if f[FL_ST] != st.F_OK or not f[FL_EXPECT] or f[FL_MEMFD] < 0:
                continue
            mf = state[MEMFDS][f[FL_MEMFD]]
            if (mf is not None and all(c in (st.DATA_A, st.DATA_B) for c in f[FL_EXPECT])
                    and tuple(state[PAGES][p][P_CONTENT] for p in mf[M_FOLIOS]) == f[FL_EXPECT]):
                return f"incoming session {si} retrieved a memfd with its data intact"
    return None


def freeze_failure_rolled_back(pre: State, action: Action, out: Outcome[State]) -> str | None:
    if (action.name in ("luo_session_serialize", "reboot") and out.ret == -E.EIO
            and any(s[S_FILES] for s in out.state[OUTGOING])):
        return "a freeze failure was rolled back with files still preserved"
    return None


def frozen_then_cancelled(pre: State, action: Action, out: Outcome[State]) -> str | None:
    if action.name == "cancel" and out.ret == 0 and legacy_base(pre[GLOB][PHASE]) == st.L_FROZEN:
        return "CANCEL from FROZEN returned the machine to NORMAL"
    return None


def veto_then_finish(state: State) -> str | None:
    for si, s in enumerate(state[INCOMING]):
        if s[S_STATUS] == st.IN_FINISHED and s[S_VETOED]:
            return f"incoming session {si} finished after a can_finish veto"
    return None


def two_kexec_cycles(state: State) -> str | None:
    if state[GLOB][KEXECS] >= 2 and happy_path(state):
        return "a memfd was retrieved intact in the third kernel"
    return None


# ===================================================================== graph

def clean(state: State) -> str | None:
    """No session of either kind, and no page tracked or reserved by KHO."""
    if state[OUTGOING] or state[INCOMING] or state[GLOB][PHASE] != st.RUNNING:
        return None
    # a page a failure leaked (LEAKED) is the kernel's documented cost: the next kexec
    # reclaims it, user space cannot
    if any(pg[P_TRACKED] or pg[P_OWNER] == st.RESV for pg in state[PAGES]):
        return None
    return "clean"


# ===================================================================== the catalogue

def _needs(**mins: int) -> Callable[[Bounds], str | None]:
    def req(b: Bounds) -> str | None:
        for k, v in mins.items():
            if getattr(b, k) < v:
                return f"needs {k} >= {v} (bound has {getattr(b, k)})"
        return None
    return req



CATALOGUE: tuple[Property, ...] = (
    Property("single_owner", "always",
             "No page has two owners, and no page is named by two preserved files, in "
             "either kernel.", "I3, I12; LUO-M3, KHO-M14", single_owner),
    Property("no_free_while_preserved", "always",
             "A page tracked by KHO or named by serialized LUO metadata is never freed or "
             "reallocated.", "I1, I5; LUO-M4, LUO-M11, KHO-M15, KHO-M18",
             no_free_while_preserved),
    Property("metadata_tracked", "always",
             "Every page a preserved file's metadata names is in the KHO tracker, so it "
             "will be handed over.", "I5; LUO-M3, KHO-M14", metadata_tracked),
    Property("no_alloc_of_reserved", "always",
             "The new kernel never hands out a reserved, unrestored page.", "I9, I10",
             no_alloc_of_reserved),
    Property("nothing_frozen_while_running", "always",
             "While no reboot is in progress, no file is frozen, no session is "
             "serialized and LUO's reboot gate is open.", "LUO-M10, LUO-M18, LUO-M19",
             nothing_frozen_while_running, designs="sessions"),
    Property("finished_sessions_unlisted", "always",
             "A session FINISH succeeded on is never listed as retrievable again.",
             "LUO-M20", finished_sessions_unlisted, designs="sessions"),
    Property("no_partial_incoming", "always",
             "After a kexec, /dev/liveupdate opens only over the complete incoming list: a "
             "deserialization that failed part-way fails every open with EIO.",
             "LUO-M1, LUO-M2", no_partial_incoming, designs="sessions"),
    Property("no_orphan_page", "always",
             "No page is owned by nothing: every allocated page has a holder, every "
             "reserved page is named by an incoming record or leaked by a documented "
             "failure until the next kexec.", "I13; KHO-M11/MF3", no_orphan_page,
             designs="sessions"),
    Property("no_preserved_in_scratch", "always",
             "No preserved page lies in a KHO scratch region.", "I2, I15; KHO-M7",
             no_preserved_in_scratch),
    Property("data_intact", "step",
             "A retrieved memfd reads what was written before the jump.", "I17; MF1, MF2",
             data_intact, triggers=frozenset({"retrieve_fd"})),
    Property("restore_once", "step",
             "A handed-over block is restored at most once; nothing else is restored.",
             "I11; KHO-M6, LUO-M3, LUO-M4", restore_once),
    Property("ops_on_right_side", "step",
             "PRESERVE_FD only on outgoing sessions; RETRIEVE_FD and FINISH only on "
             "incoming ones (others fail with EINVAL).", "LUO-M7; L§2.9", ops_on_right_side,
             triggers=frozenset({"preserve_fd", "retrieve_fd", "finish"})),
    Property("retrieve_at_most_once", "step",
             "The handler's retrieve() runs at most once per file.", "LUO-M4, O4; L§2.7",
             retrieve_at_most_once),
    Property("cancel_releases_all", "step",
             "Closing an outgoing session untracks all of its pages and leaves each memfd "
             "intact for its user.", "selftest preserve_memfd; L§2.4; LUO-M5",
             cancel_releases_all, triggers=frozenset({"close_session"})),
    Property("failed_reboot_restores", "step",
             "After a failed reboot every file is preserved, not frozen, with its "
             "pre-reboot handle.", "L§2.5 step 2; LUO-M5, LUO-M10", failed_reboot_restores,
             triggers=REBOOT_ACTIONS),
    Property("finish_disposes", "step",
             "After finish no page of the session stays reserved.", "I13; L§2.8",
             finish_disposes, triggers=frozenset({"finish", "close_session"})),
    Property("leak_bound", "step",
             "At the jump the new kernel reserves exactly the tracked pages: whatever the "
             "previous kernel leaked is reclaimed now, never later. A failure leaks only "
             "until this jump, and only these pages (LEAKED; anything else reserved and "
             "unnamed is an orphan): a failed first open of /dev/liveupdate, the records it "
             "did not rebuild (files blocks, sers, folios) and, under the default Design "
             "choice, everything it discarded; a memfd retrieve failing before any folio "
             "is restored (seals, alloc_file, restore_folios), the file's folios (its ser "
             "is freed).", "I9, I14",
             leak_bound, triggers=JUMP_ACTIONS),
    Property("handover_matches_metadata", "step",
             "At the jump, the handed-over pages are exactly those the serialized LUO "
             "metadata names.", "I5; LUO-M11, KHO-M15, LUO-M5", handover_matches_metadata,
             triggers=JUMP_ACTIONS),
    Property("cancel_returns_to_normal", "step",
             "CANCEL, or closing /dev/liveupdate, in PREPARED or FROZEN succeeds and "
             "leaves NORMAL with KHO not finalized and no page tracked.",
             "L§3.3; O2, O6", cancel_returns_to_normal,
             triggers=frozenset({"cancel", "close_session"}), designs="legacy"),
    Property("update_delivers_prepared", "step",
             "A kexec from PREPARED or FROZEN hands every prepared file to the next "
             "kernel.", "L§3.3 (reboot from PREPARED); O1", update_delivers_prepared,
             triggers=frozenset({"reboot"}), designs="legacy"),
    Property("freeze_fails_only_on_error", "step",
             "FREEZE (also inside reboot) returns 0 unless a file's freeze failed, and "
             "then its -errno.", "L§3.3, L§3.4; O5", freeze_fails_only_on_error,
             triggers=frozenset({"freeze", "reboot"}), designs="legacy"),
    Property("happy_path", "sometimes",
             "A memfd survives a live update with its data intact.", "selftest "
             "luo_kexec_simple", happy_path, requires=_needs(kexecs=1, folios=1)),
    Property("freeze_failure_rolled_back", "sometimes",
             "A freeze failure is rolled back.", "L§2.5 step 2",
             freeze_failure_rolled_back, on_step=True, requires=_needs(faults=1)),
    Property("veto_then_finish", "sometimes",
             "A session finishes after a can_finish veto.", "L§2.8",
             veto_then_finish, requires=_needs(faults=1, kexecs=1), designs="sessions"),
    Property("frozen_then_cancelled", "sometimes",
             "PREPARE, FREEZE, CANCEL all succeed.", "v3 selftest state.sysfs_frozen",
             frozen_then_cancelled, on_step=True, designs="legacy"),
    Property("two_kexec_cycles", "sometimes",
             "A memfd survives two live updates in a row.", "L§2.8 (new cycle)",
             two_kexec_cycles, requires=_needs(kexecs=2, folios=1)),
    Property("recoverable", "graph",
             "From every reachable state, user space can return the machine to a clean "
             "state (no session, nothing tracked or reserved) within the bounds.",
             "I13, I14; LUO-M5, LUO-M13", clean),
)

BY_NAME: dict[str, Property] = {p.name: p for p in CATALOGUE}


def select(names: list[str] | None) -> tuple[Property, ...]:
    """The catalogue, or the named subset (``ValueError`` for an unknown name)."""
    if not names:
        return CATALOGUE
    unknown = [n for n in names if n not in BY_NAME]
    if unknown:
        raise ValueError(f"unknown property {', '.join(unknown)}; known: "
                         f"{', '.join(BY_NAME)}")
    return tuple(BY_NAME[n] for n in names)
