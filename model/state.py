"""State of the LUO/KHO model: compact frozen tuples, a mutable working copy, symmetry.

Frozen layout (all small ints, so a state marshals to ~100 bytes; see ``encode``)::

    State   = (glob, outgoing, incoming, memfds, pages)
    glob    = (kexecs_done, phase, faults_left, rebooting, device, deser)
    Session = (status, fblk, frozen, vetoed, files, snap)
    File    = (st, memfd, ser, folios, handle, tried, expect)
    Snap    = (fblk, ((ser, folios, handle), ...))      or None
    Memfd   = (user, folios)                             or None (free slot)
    Page    = (owner, tracked, stamped, content, scratch)

Object identities are positions: a session is its index in the outgoing list (creation
order, which the kernel serializes in) or in the incoming list; a file is its index in its
session's list (preservation order); memfds and pages are slots referenced by index.
Pages record only what the page allocator, KHO and the hardware know (owner class, tracker
bit, KHOP stamp, content); *who* believes it holds a page is recorded on that object (a
memfd's folios, a file's ``ser``/``folios``, a session's files block ``fblk``). Double
ownership is then visible as two objects naming one page, or an object naming a page that
the allocator gave to someone else.

Ghost variables (observation only, the kernel has no such field): ``vetoed``, ``tried``,
``expect`` -- they let properties talk about history (a veto happened; retrieve was
called; what the page held at the jump).
"""

from __future__ import annotations

import marshal
from dataclasses import dataclass, field
from typing import Any, Final, NamedTuple

from luoverify.model import errno as E

# --- field positions: states stay plain nested tuples (they marshal, and the explorer
# hashes millions of them; a NamedTuple cannot be marshalled), read through these names
# State
GLOB: Final = 0
OUTGOING: Final = 1
INCOMING: Final = 2
MEMFDS: Final = 3
PAGES: Final = 4
# glob
KEXECS: Final = 0
PHASE: Final = 1
FAULTS: Final = 2
#: LUO's own reboot gate (``kernel/liveupdate/luo_session.c``: the outgoing header's
#: ``rebooting``), apart from the machine's phase: set when serialization starts, cleared
#: when it fails or is aborted; stays 0 in designs without the gate (6.19)
REBOOTING: Final = 3
#: user space holds /dev/liveupdate open (``luo_core.c``: ``luo_open`` is exclusive); every
#: cold boot starts with it open, as the selftests' agent opens it first; after a kexec
#: it starts closed: the first open deserializes the incoming sessions (``deser``)
DEVICE: Final = 4
#: where deserialization of the incoming sessions stands (``luo_session.c``:
#: ``luo_session_deserialize``'s cached result), one of DESER_*
DESER: Final = 5
# Session
S_STATUS: Final = 0
S_FBLK: Final = 1  # the files block's page, or NONE
S_FROZEN: Final = 2  # serialized in the current reboot
S_VETOED: Final = 3  # ghost: a finish was vetoed
S_FILES: Final = 4
S_SNAP: Final = 5  # what serialization wrote (Snap), or None
# Snap
SNAP_FBLK: Final = 0
SNAP_FILES: Final = 1  # ((ser, folios, handle), ...)
# File
FL_ST: Final = 0
FL_MEMFD: Final = 1
FL_SER: Final = 2
FL_FOLIOS: Final = 3
FL_HANDLE: Final = 4
FL_TRIED: Final = 5  # ghost: the handler's retrieve ran
FL_EXPECT: Final = 6  # ghost: the folios' content at the jump
# Memfd
M_USER: Final = 0  # user space holds an fd
M_FOLIOS: Final = 1
# Page
P_OWNER: Final = 0
P_TRACKED: Final = 1  # KHO tracker bit
P_STAMPED: Final = 2  # KHOP stamp (next kernel)
P_CONTENT: Final = 3
P_SCRATCH: Final = 4

# --- phase of the outgoing kernel (glob[PHASE]) -------------------------------------------
RUNNING: Final = 0  # normal operation
SERIALIZING: Final = 1  # inside reboot(): luo_session_serialize() walking sessions
FINALIZE: Final = 2  # sessions serialized; kho_finalize() next (6.19 only)
READY: Final = 3  # liveupdate_reboot() succeeded; machine_kexec() next
PHASE_NAMES: Final = ("RUNNING", "SERIALIZING", "FINALIZE", "READY")

# --- deserialization of the incoming sessions (glob[DESER]) -------------------------------
DESER_DONE: Final = 0  # nothing to do (cold boot), or done without error
DESER_PENDING: Final = 1  # after a kexec, until the first open of /dev/liveupdate
DESER_FAILED: Final = 2  # failed; the error is cached: every open fails with EIO
#: failed part-way but the kernel forgot it (6.19: LUO-M1 drops a file's error, LUO-M2
#: does not cache an allocation failure): an open succeeds over a partial incoming list.
#: The kernel's own state equals DESER_DONE; the model keeps the difference as a ghost
DESER_SWALLOWED: Final = 3
DESER_NAMES: Final = ("done", "pending", "failed", "swallowed")

# --- the legacy (v3/v4 review series) global state machine, model/legacy.py -----------
# glob[PHASE] holds the global LUO state, plus KHO_FINALIZED when KHO's handover map is built.
# NORMAL is 0 (= RUNNING), so a cold boot is the same state in every design.
L_NORMAL: Final = 0
L_PREPARED: Final = 4
L_FROZEN: Final = 5
L_UPDATED: Final = 6
KHO_FINALIZED: Final = 8
LEGACY_NAMES: Final = {L_NORMAL: "NORMAL", L_PREPARED: "PREPARED", L_FROZEN: "FROZEN",
                       L_UPDATED: "UPDATED"}


def legacy_phase_name(phase: int) -> str:
    base = LEGACY_NAMES[phase & ~KHO_FINALIZED]
    return base + ("+kho_finalized" if phase & KHO_FINALIZED else "")

# --- session status -------------------------------------------------------------------
OUT_OPEN: Final = 0  # outgoing, fd held by user space
OUT_CLOSING: Final = 1  # outgoing, fd closed during reboot; list removal still pending
IN_NEW: Final = 2  # incoming, not retrieved
IN_RETRIEVED: Final = 3  # incoming, retrieved (fd held)
IN_FINISHED: Final = 4  # incoming, finished; fd still held, file set empty. With the N1
# lifetime (Design.finish_unlinks_session) also unlinked and no longer retrieved; in 6.19
# still listed and retrieved
IN_STUCK: Final = 5  # incoming, fd closed after a vetoed finish; 6.19 keeps it listed
IN_RELISTED: Final = 6  # finished, fd held, yet listed and not retrieved (LUO-M20 mutant)
STATUS_NAMES: Final = ("OUT_OPEN", "OUT_CLOSING", "IN_NEW", "IN_RETRIEVED", "IN_FINISHED",
                       "IN_STUCK", "IN_RELISTED")
OUTGOING_STATUSES: Final = (OUT_OPEN, OUT_CLOSING)

# --- file state -------------------------------------------------------------------------
PRESERVED: Final = 0  # outgoing, preserve() done
FROZEN: Final = 1  # outgoing, freeze() done
F_NEW: Final = 2  # incoming, never (successfully) retrieved
F_OK: Final = 3  # incoming, retrieved
F_ERR: Final = 4  # incoming, retrieve failed with ENOMEM, remembered (7.0+)
REGISTERED: Final = 5  # legacy outgoing: FD_PRESERVE done, prepare() not yet (NORMAL)
#: incoming, retrieve failed and remembered with another errno. The kernel keeps one int
#: per file (``luo_file.c``: ``retrieve_status``: 0 never, 1 ok, -errno failed), and a
#: later RETRIEVE_FD returns that errno, so the model folds the errno into the file state
#: as the kernel does: F_ERR (-ENOMEM) and these three
F_ERR_EOPNOTSUPP: Final = 6
F_ERR_EINVAL: Final = 7
F_ERR_EIO: Final = 8
FILE_ST_NAMES: Final = ("PRESERVED", "FROZEN", "NEW", "RETRIEVED", "RETRIEVE_FAILED",
                        "REGISTERED", "RETRIEVE_FAILED_EOPNOTSUPP", "RETRIEVE_FAILED_EINVAL",
                        "RETRIEVE_FAILED_EIO")
#: a failed file's state -> the errno its later RETRIEVE_FD returns (positive)
RETRIEVE_FAILED: Final[dict[int, int]] = {F_ERR: E.ENOMEM, F_ERR_EOPNOTSUPP: E.EOPNOTSUPP,
                                          F_ERR_EINVAL: E.EINVAL, F_ERR_EIO: E.EIO}
#: errno (positive) -> the failed state that remembers it
FAILED_WITH: Final[dict[int, int]] = {e: f for f, e in RETRIEVE_FAILED.items()}
#: every incoming file state: never retrieved, retrieved, or failed (any errno)
INCOMING_FILE_STATES: Final = (F_NEW, F_OK, *RETRIEVE_FAILED)

# --- page owner class -----------------------------------------------------------------
FREE: Final = 0  # in the buddy allocator
OTHER: Final = 1  # allocated by another kernel user
ALLOC: Final = 2  # allocated to an object of the model (memfd folio or LUO metadata)
RESV: Final = 3  # memblock-reserved by KHO in this kernel, not restored
#: reserved like RESV (the kernel cannot tell them apart) but by design nothing in this
#: kernel will restore it: a failure (a deserialization discard, a retrieve that failed
#: before restoring its folios) left it to be reclaimed by the next kexec. Ghost class:
#: it says the leak is the kernel's own documented cleanup, not an orphan
LEAKED: Final = 4
OWNER_NAMES: Final = ("FREE", "OTHER", "ALLOC", "RESV", "LEAKED")
#: owner classes the page allocator treats as memblock-reserved
RESERVED: Final = (RESV, LEAKED)

# --- page content tags ----------------------------------------------------------------
ZERO: Final = 0
DATA_A: Final = 1  # what user space wrote at memfd creation
DATA_B: Final = 2  # what a later write put there
FOREIGN: Final = 3  # another kernel user's data
JUNK: Final = 4  # scribbled over by the next kernel's early boot (scratch)
CONTENT_NAMES: Final = ("zero", "A", "B", "foreign", "junk")

NONE: Final = -1

Page = tuple[int, int, int, int, int]
State = tuple[Any, ...]


@dataclass(slots=True)
class WFile:
    st: int
    memfd: int
    ser: int
    folios: tuple[int, ...]
    handle: int = 1
    tried: int = 0
    expect: tuple[int, ...] = ()

    def freeze(self) -> tuple[Any, ...]:
        return (self.st, self.memfd, self.ser, self.folios, self.handle, self.tried,
                self.expect)

    def named_pages(self) -> tuple[int, ...]:
        """Pages the file's serialized metadata names: its ser page and its folios."""
        return ((self.ser,) if self.ser != NONE else ()) + self.folios


@dataclass(slots=True)
class WSession:
    status: int
    fblk: int = NONE
    frozen: int = 0
    vetoed: int = 0
    files: list[WFile] = field(default_factory=list)
    snap: tuple[int, tuple[tuple[int, tuple[int, ...], int], ...]] | None = None

    @property
    def incoming(self) -> bool:
        return self.status not in OUTGOING_STATUSES

    def freeze(self) -> tuple[Any, ...]:
        return (self.status, self.fblk, self.frozen, self.vetoed,
                tuple(f.freeze() for f in self.files), self.snap)


@dataclass(slots=True)
class WMemfd:
    user: int
    folios: tuple[int, ...]

    def freeze(self) -> tuple[Any, ...]:
        return (self.user, self.folios)


@dataclass(slots=True)
class World:
    """A mutable working copy of a state; actions run on it like kernel code."""

    kexecs: int
    phase: int
    faults: int
    rebooting: int
    device: int
    deser: int
    out: list[WSession]
    inc: list[WSession]
    memfds: list[WMemfd | None]
    pages: list[list[int]]

    @staticmethod
    def thaw(state: State) -> World:
        glob, outs, incs, memfds, pages = state
        return World(
            kexecs=glob[KEXECS],
            phase=glob[PHASE],
            faults=glob[FAULTS],
            rebooting=glob[REBOOTING],
            device=glob[DEVICE],
            deser=glob[DESER],
            out=[_thaw_session(s) for s in outs],
            inc=[_thaw_session(s) for s in incs],
            memfds=[None if m is None else WMemfd(m[M_USER], m[M_FOLIOS]) for m in memfds],
            pages=[list(p) for p in pages],
        )

    def freeze(self) -> State:
        return (
            (self.kexecs, self.phase, self.faults, self.rebooting, self.device,
             self.deser),
            tuple(s.freeze() for s in self.out),
            tuple(s.freeze() for s in self.inc),
            tuple(None if m is None else m.freeze() for m in self.memfds),
            tuple(tuple(p) for p in self.pages),
        )


def _thaw_session(s: tuple[Any, ...]) -> WSession:
    return WSession(
        status=s[S_STATUS], fblk=s[S_FBLK], frozen=s[S_FROZEN], vetoed=s[S_VETOED],
        files=[WFile(*f) for f in s[S_FILES]], snap=s[S_SNAP],
    )


def initial_state(pages: int, memfds: int, scratch: int, faults: int) -> State:
    """A cold-booted machine: no sessions, no memfds, every page free.

    Pages ``0 .. scratch-1`` lie in the KHO scratch region (a page attribute that moves
    with the page under symmetry).
    """
    page_list = tuple((FREE, 0, 0, ZERO, 1 if i < scratch else 0) for i in range(pages))
    return ((0, RUNNING, faults, 0, 1, DESER_DONE), (), (), (None,) * memfds, page_list)


# --- compact storage ----------------------------------------------------------------------

def encode(state: State) -> bytes:
    """The bytes the checkers store: marshal of nested tuples of small ints (stable)."""
    # version 2 writes no object references, so equal values always encode to equal bytes
    # (with references, a state sharing one sub-tuple in two places encodes differently)
    return marshal.dumps(state, 2)


def decode(data: bytes) -> State:
    state: State = marshal.loads(data)
    return state


# --- symmetry ------------------------------------------------------------------------------

class Perm(NamedTuple):
    """A relabelling: memfd slot, page frame, incoming session, and per incoming session
    file, each ``old -> new`` (``files`` is indexed by the *old* session index)."""

    memfds: list[int]
    pages: list[int]
    sessions: list[int]
    files: list[list[int]]


def identity_perm(state: State) -> Perm:
    return Perm(list(range(len(state[MEMFDS]))), list(range(len(state[PAGES]))),
                list(range(len(state[INCOMING]))),
                [list(range(len(s[S_FILES]))) for s in state[INCOMING]])


def inverse(perm: list[int]) -> list[int]:
    inv = [0] * len(perm)
    for old, new in enumerate(perm):
        inv[new] = old
    return inv


def canonicalize(state: State) -> State:
    """Map ``state`` to a representative of its symmetry class (see canonical_map)."""
    return canonical_map(state)[0]


def canonical_map(state: State) -> tuple[State, Perm]:
    """Map ``state`` to a representative of its symmetry class, with the relabelling used.

    Symmetries: incoming sessions are interchangeable once deserialized (nothing in the
    kernel iterates the incoming list in an order that changes an outcome after that), so
    are the files of an incoming session (finish is all-or-nothing); before the first
    open they keep their serialized order, memfd slots and page frames. Outgoing sessions and
    their files keep their order: serialization walks sessions in creation order and
    files in preservation order, and which file fails decides what is rolled back.

    The representative sorts records by keys that replace page and memfd ids with the
    attributes of what they point to, then relabels memfds and pages by sorted keys that
    include who references them. Records whose keys tie are identical up to the relabel,
    so the result is the same for every member of the class in all cases the tests
    exercise; where a tie hides a difference the result is still *a member of the class*,
    which keeps the reduction sound (it can only cost extra states, never lose one).
    """
    glob, outs, incs, memfds, pages = state
    #: until the first open deserializes them, the incoming records keep the order the
    #: previous kernel serialized them in: where deserialization fails decides which
    #: sessions and files were rebuilt (luo_session.c: luo_session_deserialize)
    ordered = glob[DESER] == DESER_PENDING

    def pkey(p: int) -> tuple[int, ...]:
        return pages[p] if p >= 0 else (-1,)

    def mkey(m: int) -> tuple[Any, ...]:
        if m < 0 or memfds[m] is None:
            return (-1,)
        mf = memfds[m]
        return (mf[M_USER], tuple(pages[p] for p in mf[M_FOLIOS]))

    def fkey(f: tuple[Any, ...]) -> tuple[Any, ...]:
        return (f[FL_ST], f[FL_HANDLE], f[FL_TRIED], f[FL_EXPECT], pkey(f[FL_SER]),
                tuple(pages[p] for p in f[FL_FOLIOS]),
                mkey(f[FL_MEMFD]))

    def skey(s: tuple[Any, ...]) -> tuple[Any, ...]:
        return (s[S_STATUS], s[S_FROZEN], s[S_VETOED], pkey(s[S_FBLK]),
                tuple(fkey(f) for f in s[S_FILES]), s[S_SNAP] is None)

    # 1. incoming files and sessions: sorted (order carries no meaning there).
    fperms: list[list[int]] = []
    sorted_incs = []
    for sess in incs:
        fkeys = [fkey(f) for f in sess[S_FILES]]
        order = (list(range(len(fkeys))) if ordered else
                 sorted(range(len(fkeys)), key=fkeys.__getitem__))
        fperms.append(inverse(order))
        sorted_incs.append((sess[S_STATUS], sess[S_FBLK], sess[S_FROZEN], sess[S_VETOED],
                            tuple(sess[S_FILES][j] for j in order), sess[S_SNAP]))
    sorder = (list(range(len(sorted_incs))) if ordered else
              sorted(range(len(sorted_incs)), key=lambda i: skey(sorted_incs[i])))
    sperm = inverse(sorder)
    incs = tuple(sorted_incs[i] for i in sorder)
    # 2. roles in which sessions and files name pages (positions are final after step 1)
    roles: list[list[tuple[int, ...]]] = [[] for _ in pages]
    refs: dict[int, list[tuple[int, int, int]]] = {}
    for li, lst in enumerate((outs, incs)):
        for si, s in enumerate(lst):
            if s[S_FBLK] >= 0:
                roles[s[S_FBLK]].append((1, li, si))
            for fi, f in enumerate(s[S_FILES]):
                if f[FL_MEMFD] >= 0:
                    refs.setdefault(f[FL_MEMFD], []).append((li, si, fi))
                if f[FL_SER] >= 0:
                    roles[f[FL_SER]].append((2, li, si, fi))
                for k, p in enumerate(f[FL_FOLIOS]):
                    roles[p].append((3, li, si, fi, k))
            snap = s[S_SNAP]
            if snap is not None:
                if snap[SNAP_FBLK] >= 0:
                    roles[snap[SNAP_FBLK]].append((4, li, si))
                for j, (ser, folios, _h) in enumerate(snap[SNAP_FILES]):
                    if ser >= 0:
                        roles[ser].append((5, li, si, j))
                    for k, p in enumerate(folios):
                        roles[p].append((6, li, si, j, k))
    # 3. memfds: by attributes, the files that name them, and how their folios are named
    live = [m for m in range(len(memfds)) if memfds[m] is not None]

    def memfd_key(m: int) -> tuple[Any, ...]:
        mf = memfds[m]
        assert mf is not None
        return (mkey(m), sorted(refs.get(m, ())), [sorted(roles[p]) for p in mf[M_FOLIOS]])

    live.sort(key=memfd_key)
    # 4. pages: by attributes, then by every role in which something names them.
    for new, old in enumerate(live):
        mf = memfds[old]
        assert mf is not None
        for k, p in enumerate(mf[M_FOLIOS]):
            roles[p].append((0, new, k))
    order = sorted(range(len(pages)), key=lambda p: (pages[p], sorted(roles[p])))
    mperm = [0] * len(memfds)
    for new, old in enumerate(live):
        mperm[old] = new
    free_slots = [m for m in range(len(memfds)) if memfds[m] is None]
    for k, old in enumerate(free_slots):
        mperm[old] = len(live) + k
    perm = Perm(mperm, inverse(order), sperm, fperms)
    return relabel(state, perm), perm


#: file states in which LUO holds a reference on the file's memfd: fget at preserve (or at
#: the legacy FD_PRESERVE), the extra reference a successful retrieve keeps
HOLDS_REFERENCE: Final = (PRESERVED, FROZEN, F_OK, REGISTERED)


def managed(state: State, m: int) -> bool:
    """LUO manages memfd ``m``: some live file holds LUO's reference on it.

    The one "managed" predicate of the explicit model: the LUO-M3 fix's global table
    (kernel/liveupdate/luo_file.c: luo_preserve_file refuses a managed file with EBUSY),
    and the reference that keeps a memfd alive after user space closed it
    (Kernel.fput_memfd). ``state`` is a frozen state, or one a kernel path froze.
    """
    for lst in (state[OUTGOING], state[INCOMING]):
        for s in lst:
            for f in s[S_FILES]:
                if f[FL_MEMFD] == m and f[FL_ST] in HOLDS_REFERENCE:
                    return True
    return False


# --- a readable view ------------------------------------------------------------------------

def _page_ref(p: int) -> int:
    """A page (or memfd) id; -1 when there is none (ITF has no null)."""
    return p


def _file_view(f: tuple[Any, ...]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "state": FILE_ST_NAMES[f[FL_ST]],
        "memfd": _page_ref(f[FL_MEMFD]),
        "ser": _page_ref(f[FL_SER]),
        "folios": list(f[FL_FOLIOS]),
        "handle_valid": bool(f[FL_HANDLE]),
    }
    if f[FL_ST] in INCOMING_FILE_STATES:
        out["retrieve_called"] = bool(f[FL_TRIED])
        out["expect"] = [CONTENT_NAMES[c] for c in f[FL_EXPECT]]
    return out


def _session_view(s: tuple[Any, ...]) -> dict[str, Any]:
    snap = s[S_SNAP]
    return {
        "status": STATUS_NAMES[s[S_STATUS]],
        "files_block": _page_ref(s[S_FBLK]),
        "serialized": bool(s[S_FROZEN]),
        "vetoed": bool(s[S_VETOED]),
        "files": [_file_view(f) for f in s[S_FILES]],
        "snapshot": {
            "written": snap is not None,
            "files_block": -1 if snap is None else snap[SNAP_FBLK],
            "files": [] if snap is None else [
                {"ser": a, "folios": list(b), "handle_valid": bool(h)}
                for a, b, h in snap[SNAP_FILES]],
        },
    }


def view(state: State) -> dict[str, Any]:
    """The state as named JSON values: the ITF ``vars`` of a trace."""
    glob, outs, incs, memfds, pages = state
    return {
        "kexecs": glob[KEXECS],
        "phase": PHASE_NAMES[glob[PHASE]] if glob[PHASE] < len(PHASE_NAMES) else
        legacy_phase_name(glob[PHASE]),
        "faults_left": glob[FAULTS],
        "rebooting": bool(glob[REBOOTING]),
        "device_open": bool(glob[DEVICE]),
        "deserialization": DESER_NAMES[glob[DESER]],
        "outgoing": [_session_view(s) for s in outs],
        "incoming": [_session_view(s) for s in incs],
        "memfds": [{"alive": False, "user_fd": False, "folios": []} if m is None else
                   {"alive": True, "user_fd": bool(m[M_USER]), "folios": list(m[M_FOLIOS])}
                   for m in memfds],
        "pages": [{"owner": OWNER_NAMES[p[P_OWNER]], "kho_tracked": bool(p[P_TRACKED]),
                   "stamped": bool(p[P_STAMPED]), "content": CONTENT_NAMES[p[P_CONTENT]],
                   "scratch": bool(p[P_SCRATCH])} for p in pages],
    }



def relabel(state: State, perm: Perm) -> State:
    """Rename memfd slots, pages, incoming sessions and their files by ``perm``.

    The result is in the same symmetry class as ``state``; tests use it to check that
    :func:`canonicalize` is a function of the class and that next_state commutes with it.
    """
    glob, outs, incs, memfds, pages = state
    memfd_map, page_map = perm.memfds, perm.pages

    def rp(p: int) -> int:
        return page_map[p] if p >= 0 else p

    def rf(f: tuple[Any, ...]) -> tuple[Any, ...]:
        m = f[FL_MEMFD]
        return (f[FL_ST], memfd_map[m] if m >= 0 else m, rp(f[FL_SER]),
                tuple(rp(p) for p in f[FL_FOLIOS]),
                f[FL_HANDLE], f[FL_TRIED], f[FL_EXPECT])

    def rs(s: tuple[Any, ...]) -> tuple[Any, ...]:
        snap = s[S_SNAP]
        if snap is not None:
            snap = (rp(snap[SNAP_FBLK]), tuple((rp(a), tuple(rp(p) for p in b), h)
                                       for a, b, h in snap[SNAP_FILES]))
        return (s[S_STATUS], rp(s[S_FBLK]), s[S_FROZEN], s[S_VETOED],
                tuple(rf(f) for f in s[S_FILES]), snap)

    new_memfds: list[Any] = [None] * len(memfds)
    for old, mf in enumerate(memfds):
        new_memfds[memfd_map[old]] = None if mf is None else (
            mf[M_USER], tuple(rp(p) for p in mf[M_FOLIOS]))
    new_pages: list[Any] = [None] * len(pages)
    for old, pg in enumerate(pages):
        new_pages[page_map[old]] = pg
    new_incs: list[Any] = [None] * len(incs)
    for old, sess in enumerate(incs):
        files: list[Any] = [None] * len(sess[S_FILES])
        for j, f in enumerate(sess[S_FILES]):
            files[perm.files[old][j]] = f
        new_incs[perm.sessions[old]] = rs((sess[S_STATUS], sess[S_FBLK], sess[S_FROZEN],
                                           sess[S_VETOED], tuple(files),
                                          sess[S_SNAP]))
    return (glob, tuple(rs(s) for s in outs), tuple(new_incs),
            tuple(new_memfds), tuple(new_pages))
