"""The LUO/KHO model: sessions, the memfd file handler and KHO page ownership.

Every action is a kernel call (or a step inside ``reboot()``), named as the kernel names
it, and returns ``0`` or the kernel's ``-errno``; an error leaves the state as the kernel
leaves it. Kernel references name the source file and function (torvalds/linux, 6.19
unless a later fix is named); defect ids (LUO-M7, KHO-M6, ...) are those of
``specs/defects.py``.

Abstractions, and why they are sound for page ownership:

* One page per folio, one page per metadata object. The memfd handler's
  ``memfd_luo_ser`` and its folio array (``mm/memfd_luo.c``: ``memfd_luo_preserve``,
  ``memfd_luo_preserve_folios``) are one "ser" page: they are allocated,
  preserved, unpreserved, restored and freed together in every path of memfd_luo.c, so
  merging them removes no ordering that an ownership property can observe. A session's
  2-page files block is one page for the same reason.
* LUO's own FDT page and 16-page session block are not modelled: they are preserved at
  boot (``kernel/liveupdate/luo_core.c``: ``luo_late_startup`` -> ``luo_fdt_setup``) and
  restored at the first open (``luo_open`` -> ``luo_session_deserialize``), with no
  user-controlled step in between.
* Session names and tokens are not stored: only their equality matters, and every call
  that could pass a duplicate or unknown name/token is offered as its own action with
  the kernel's errno (EEXIST, ENOENT).
* In-kernel allocations (files block, ser page, migration target) take the lowest clean
  free non-scratch page; all such pages are interchangeable under symmetry. Allocation by
  *other* kernel users explores every class of free page, so a page that was wrongly
  freed is handed to someone else whenever that is possible.
* Faults: each fallible callback may fail while the fault budget lasts: the memfd
  handler's preserve and retrieve at each of their kernel steps
  (:data:`MEMFD_PRESERVE_FAULTS`, :data:`MEMFD_RETRIEVE_FAULTS`, ``insert:K``), freeze
  (-EIO), can_finish (veto, -EBUSY),
  kho_finalize (-EAGAIN, designs that have it), luo_session_serialize's session array
  (-ENOMEM, designs with the reboot gate), the kexec path after LUO's step (an unwind,
  -EBUSY) and deserialization at the first open (a session allocation, a corrupt record,
  a file without handler: the open gives EIO). The memfd handler has no can_finish;
  the model's handler has one that may veto, so the veto paths of luo_file_finish are
  covered.
* The device: a cold boot starts with user space holding /dev/liveupdate open (the
  selftests' agent opens it first); after a kexec it starts closed, and the first open
  deserializes the incoming sessions. Closing and reopening it are calls. Which other
  process might hold it is not modelled: one user-space agent drives the kernel.
* A context-preserving kexec is one call in designs that skip it (nothing changes), and
  the last step of an ordinary reboot in designs that do not (every LUO step before the
  jump runs the same for either image, so the image kind is chosen where it first
  matters).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from luoverify.model import errno as E
from luoverify.model import state as st
from luoverify.model.bounds import Bounds
from luoverify.model.core import Action, Outcome
from luoverify.model.design import Design
from luoverify.model.state import (
    FL_FOLIOS,
    FL_SER,
    FL_ST,
    GLOB,
    INCOMING,
    KEXECS,
    M_FOLIOS,
    M_USER,
    MEMFDS,
    NONE,
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
    SNAP_FBLK,
    SNAP_FILES,
    State,
    WFile,
    WMemfd,
    World,
    WSession,
)

Event = tuple[str, int]

#: Reboot actions: every step of reboot(KEXEC) from serialization to the jump.
REBOOT_ACTIONS = frozenset({"reboot", "luo_session_serialize", "kho_finalize", "kernel_kexec"})
#: Actions after which the machine runs the next kernel.
JUMP_ACTIONS = frozenset({"kernel_kexec", "reboot"})  # reboot: in atomic mode


#: memfd preserve's failure points (``mm/memfd_luo.c``: ``memfd_luo_preserve``,
#: ``memfd_luo_preserve_folios``), in kernel order -> the errno: unsupported seals, a size
#: beyond what memfd_pin_folios() can pin, pinning (memfd_pin_folios(): it allocates and
#: migrates), KHO preservation of the folios (kho_preserve_folio(), or the folio array's
#: kho_preserve_vmalloc(): the model fails after every folio is preserved, the point
#: where the most must be undone). Each undoes everything before it; only a migration
#: out of scratch stays done (unpin does not move a folio back).
MEMFD_PRESERVE_FAULTS: dict[str, int] = {
    "seals": E.EOPNOTSUPP, "size": E.EFBIG, "pin": E.ENOMEM, "kho_preserve": E.ENOMEM}
#: memfd retrieve's failure points before any folio is restored (``memfd_luo_retrieve``),
#: in kernel order -> the errno: unsupported seals in the record, memfd_alloc_file(), the
#: folio array's kho_restore_vmalloc(). (memfd_add_seals() on the fresh file is not a
#: point: with seals that passed the check and no mapping it cannot fail.) Each frees
#: only the ser: the folios stay reserved and unrestored until the next kexec. A folio's
#: own failure (charge / page-cache insert, ``memfd_luo_retrieve_folios``) is the fault
#: ``insert:K`` for the file's folio K: -ENOMEM, and every folio is freed.
MEMFD_RETRIEVE_FAULTS: dict[str, int] = {
    "seals": E.EOPNOTSUPP, "alloc_file": E.ENOMEM, "restore_folios": E.EINVAL}
#: a folio's charge or page-cache insert failing in the per-folio loop
INSERT_ERRNO = E.ENOMEM


_ACTIONS: dict[tuple[str, tuple[tuple[str, int | str | None], ...]], Action] = {}


def act(call: str, **args: int | str | None) -> Action:
    """One shared Action per distinct call (the explorer hashes them millions of times)."""
    key = (call, tuple(args.items()))
    act = _ACTIONS.get(key)
    if act is None:
        act = _ACTIONS[key] = Action(call, key[1])
    return act


# --- each call's early checks, written once ---------------------------------------------
# A check reads the state before the call and returns the errno with which the call fails
# before it changes anything, in the kernel's order of checks, or None: the call proceeds.
# The explorer's fast path (LuoModel.unchanged) and the kernel path (Kernel.do_*) both ask
# these, so the two can never disagree on an early failure.

def preserve_fault_points(d: Design) -> list[str]:
    """The fault names of the design's memfd preserve, in kernel order
    (:data:`MEMFD_PRESERVE_FAULTS`; 6.19 checks neither seals nor size)."""
    return [p for p in MEMFD_PRESERVE_FAULTS
            if (p != "seals" or d.memfd_preserves_seals)
            and (p != "size" or d.preserve_checks_size)]


def retrieve_fault_points(d: Design, folios: int = 0) -> list[str]:
    """The fault names of the design's memfd retrieve of a file with ``folios`` folios,
    in kernel order (:data:`MEMFD_RETRIEVE_FAULTS`, 6.19 has no seal check; then
    ``insert:K`` for each folio K)."""
    return [*(p for p in MEMFD_RETRIEVE_FAULTS if p != "seals" or d.memfd_preserves_seals),
            *(f"insert:{k}" for k in range(folios))]


def gate_closed(pre: State, d: Design) -> bool:
    """LUO's reboot gate is closed (the LUO-M11 fix: the outgoing header's ``rebooting``,
    ``kernel/liveupdate/luo_session.c``); always open in designs without the gate."""
    return bool(d.block_mutations_in_reboot and pre[GLOB][REBOOTING])


def create_session_check(pre: State, d: Design, name: str) -> int | None:
    """LIVEUPDATE_IOCTL_CREATE_SESSION (kernel/liveupdate/luo_core.c:
    luo_ioctl_create_session -> luo_session.c: luo_session_create), in the kernel's
    order: EINVAL for an invalid name (``name="invalid"``: empty or unterminated; the
    LUO-M6 fix rejects it in the ioctl, before the session code), EBUSY while the reboot
    gate is closed (luo_session_insert, the LUO-M11 fix), EEXIST for a name an outgoing
    session has (``name="dup"``)."""
    if name == "invalid" and d.validate_session_name:
        return -E.EINVAL
    if gate_closed(pre, d):
        return -E.EBUSY
    return -E.EEXIST if name == "dup" else None


def retrieve_session_check(pre: State, d: Design, session: int | str) -> int | None:
    """LIVEUPDATE_IOCTL_RETRIEVE_SESSION (luo_session.c: luo_session_retrieve): ENOENT
    for a name not on the incoming list (unknown, or -- with the N1 lifetime -- a session
    FINISH unlinked), EINVAL for a session already retrieved."""
    if session == "unknown":
        return -E.ENOENT
    assert isinstance(session, int)
    status = pre[INCOMING][session][S_STATUS]
    if status == st.IN_FINISHED and d.finish_unlinks_session:
        return -E.ENOENT
    return None if status in (st.IN_NEW, st.IN_RELISTED) else -E.EINVAL


def not_retrieved(pre: State, d: Design, lst: str, session: int) -> bool:
    """An incoming session whose fd user space holds but which is no longer retrieved:
    finished with the N1 lifetime (``luo_session_finish`` clears ``retrieved``), or the
    LUO-M20 mutant's relisted session. RETRIEVE_FD and FINISH on it fail with EINVAL
    (luo_session.c: luo_session_retrieve_fd, luo_session_finish_retrieved)."""
    if lst != "in":
        return False
    status = pre[INCOMING][session][S_STATUS]
    return status == st.IN_RELISTED or (status == st.IN_FINISHED and d.finish_unlinks_session)


def preserve_fd_check(pre: State, d: Design, lst: str, fd: int | str,
                      token: str) -> int | None:
    """LIVEUPDATE_SESSION_PRESERVE_FD (luo_session.c: luo_session_preserve_fd, then
    luo_file.c: luo_preserve_file), in the kernel's order: session kind (the LUO-M7 fix,
    EINVAL on an incoming session), reboot in progress (the LUO-M11 fix, EBUSY), token
    already used in this session (EEXIST), fget (EBADF), a memfd LUO already manages (the
    LUO-M3 fix, EBUSY)."""
    if d.checks_kind("preserve") and lst == "in":
        return -E.EINVAL
    if gate_closed(pre, d):
        return -E.EBUSY
    if token == "dup":
        return -E.EEXIST
    if fd == "closed":
        return -E.EBADF
    return double_management_check(pre, d, fd)


def double_management_check(pre: State, d: Design, fd: int | str) -> int | None:
    """LUO-M3's rule, in one place for both machines: with the fix ("liveupdate: prevent
    double management of files", luo_file.c: luo_preserve_file), a memfd LUO already
    manages cannot be preserved again (EBUSY)."""
    if isinstance(fd, int) and d.reject_double_preserve and st.managed(pre, fd):
        return -E.EBUSY
    return None


def retrieve_fd_check(pre: State, d: Design, lst: str, session: int,
                      file: int | str) -> int | None:
    """LIVEUPDATE_SESSION_RETRIEVE_FD (luo_session.c: luo_session_retrieve_fd, then
    luo_file.c: luo_retrieve_file): EINVAL on an outgoing session (the LUO-M7 fix) or on
    an incoming one no longer retrieved (:func:`not_retrieved`), ENOENT for an unknown
    token."""
    if d.checks_kind("retrieve") and lst == "out":
        return -E.EINVAL
    if not_retrieved(pre, d, lst, session):
        return -E.EINVAL
    return -E.ENOENT if file == "unknown" else None


def finish_check(pre: State, d: Design, lst: str, session: int) -> int | None:
    """LIVEUPDATE_SESSION_FINISH (luo_session.c: luo_session_finish): EINVAL on an
    outgoing session (the LUO-M7 fix) or on an incoming one no longer retrieved
    (:func:`not_retrieved`: a second FINISH with the N1 lifetime)."""
    if d.checks_kind("finish") and lst == "out":
        return -E.EINVAL
    if not_retrieved(pre, d, lst, session):
        return -E.EINVAL
    return None


#: steps a variant may replace on the model itself rather than on its Kernel: which
#: actions are enabled (see LuoModel.others_may_alloc)
MODEL_LEVEL_STEPS = frozenset({"others_may_alloc"})


class LuoModel:
    """LUO sessions + memfd handler + KHO page ownership, for a design and bounds."""

    def __init__(self, design: Design, bounds: Bounds, *, symmetry: bool = True) -> None:
        bounds.validate()
        self.design = design
        self.bounds = bounds
        self.symmetry = symmetry
        # a variant's replaced model-level steps (the others are the kernel's: Kernel)
        design.install_steps(self, "model.", only=MODEL_LEVEL_STEPS)

    # ------------------------------------------------------------------ Model protocol
    def init_states(self) -> Sequence[State]:
        b = self.bounds
        return [st.initial_state(b.pages, b.memfds, b.scratch, b.faults)]

    def canonical(self, state: State) -> State:
        return st.canonicalize(state) if self.symmetry else state

    def encode(self, state: State) -> bytes:
        return st.encode(state)

    def decode(self, data: bytes) -> State:
        return st.decode(data)

    def view(self, state: State) -> Mapping[str, Any]:
        return st.view(state)

    # --- relabelling, for replaying counterexamples in one consistent labelling ----------
    # A "frame" is a Perm from the labels of a stored representative to the labels of
    # the concrete trace being rebuilt (checks/explore.py, _concretize_by_maps).
    def canonical_map(self, state: State) -> tuple[State, st.Perm]:
        """The representative and the relabelling (``state`` ids -> representative ids)."""
        if not self.symmetry:
            return state, st.identity_perm(state)
        return st.canonical_map(state)

    def identity_frame(self, state: State) -> st.Perm:
        return st.identity_perm(state)

    def relabel(self, state: State, perm: st.Perm) -> State:
        return st.relabel(state, perm)

    def relabel_action(self, action: Action, perm: st.Perm) -> Action:
        """The same call with its memfd, page, incoming session and file renamed."""
        args = dict(action.args)
        out: list[tuple[str, int | str | None]] = []
        incoming = args.get("list") == "in"
        for k, v in action.args:
            new = v
            if isinstance(v, int):
                if k == "page":
                    new = perm.pages[v]
                elif k == "memfd" or (k == "fd" and action.name == "preserve_fd"):
                    new = perm.memfds[v]
                elif k == "session" and (incoming or action.name == "retrieve_session"):
                    new = perm.sessions[v]
                elif k == "file" and incoming:
                    sess = args["session"]
                    assert isinstance(sess, int)
                    new = perm.files[sess][v]
            out.append((k, new))
        return Action(action.name, tuple(out))

    def carry(self, frame: st.Perm, rep: State, action: Action, raw: State) -> st.Perm:
        """The frame for ``raw = next_state(rep, action)``: the same memfd slots and page
        frames; incoming sessions and files follow what the call did to the list."""
        # the jump: a fresh incoming list in outgoing order
        if raw[GLOB][KEXECS] > rep[GLOB][KEXECS]:
            ident = st.identity_perm(raw)
            return st.Perm(frame.memfds, frame.pages, ident.sessions, ident.files)
        sessions, files = list(frame.sessions), [list(f) for f in frame.files]
        if rep[GLOB][st.DESER] == st.DESER_PENDING:
            # before deserialization the records keep their order (the frame is the
            # identity there); a failed first open keeps a prefix of sessions and files
            n = len(raw[INCOMING])
            return st.Perm(frame.memfds, frame.pages, sessions[:n],
                           [files[k][:len(raw[INCOMING][k][S_FILES])] for k in range(n)])
        # close_session removed one incoming session
        if len(raw[INCOMING]) == len(rep[INCOMING]) - 1:
            gone = action.arg("session")
            cgone = sessions[gone]
            del sessions[gone], files[gone]
            sessions = [c - 1 if c > cgone else c for c in sessions]
        elif len(raw[INCOMING]) != len(rep[INCOMING]):
            raise AssertionError(f"{action} changed the incoming list unexpectedly")
        for k, sess in enumerate(raw[INCOMING]):
            n = len(sess[S_FILES])
            if n == 0:
                files[k] = []
            elif n == len(files[k]) + 1:  # a file appended (6.19 PRESERVE_FD, LUO-M7)
                files[k] = [*files[k], n - 1]
            elif n != len(files[k]):
                raise AssertionError(f"{action} changed a file list unexpectedly")
        return st.Perm(frame.memfds, frame.pages, sessions, files)

    def invert(self, perm: st.Perm) -> st.Perm:
        """``perm`` maps a state's ids to its representative's; the result maps back."""
        inv_s = st.inverse(perm.sessions)
        return st.Perm(st.inverse(perm.memfds), st.inverse(perm.pages), inv_s,
                       [st.inverse(perm.files[inv_s[c]]) for c in range(len(inv_s))])

    def compose(self, frame: st.Perm, perm: st.Perm) -> st.Perm:
        """``frame`` maps raw ids to concrete ids and ``perm`` raw ids to representative
        ids; the result maps representative ids to concrete ids."""
        inv_s = st.inverse(perm.sessions)
        files = []
        for c in range(len(perm.sessions)):
            r = inv_s[c]
            inv_f = st.inverse(perm.files[r])
            files.append([frame.files[r][inv_f[j]] for j in range(len(inv_f))])
        inv_m, inv_p = st.inverse(perm.memfds), st.inverse(perm.pages)
        return st.Perm([frame.memfds[inv_m[i]] for i in range(len(inv_m))],
                       [frame.pages[inv_p[i]] for i in range(len(inv_p))],
                       [frame.sessions[inv_s[i]] for i in range(len(inv_s))], files)

    def action_kind(self, action: Action) -> str:
        """Coverage class: the call name, plus the fault or error-path argument."""
        args = dict(action.args)
        fault = args.get("fault")
        if fault is not None:
            return f"{action.name}[fault:{str(fault).split(':')[0]}]"
        if args.get("image") is not None:
            return f"{action.name}[image={args['image']}]"
        if action.name == "preserve_fd":
            if args.get("token") == "dup":
                return "preserve_fd[token=dup]"
            if isinstance(args.get("fd"), str):
                return f"preserve_fd[fd={args['fd']}]"
        if action.name == "retrieve_fd" and args.get("file") == "unknown":
            return "retrieve_fd[token=unknown]"
        if action.name == "retrieve_session" and args.get("session") == "unknown":
            return "retrieve_session[name=unknown]"
        if action.name == "create_session":
            return f"create_session[name={args['name']}]"
        if action.name in ("memfd_create",) and args.get("size") == 0:
            return "memfd_create[empty]"
        return action.name

    def expected_outcomes(self) -> dict[tuple[str, int], str | None]:
        """Every (action kind, return value) the model can produce under this design.

        The value is ``None`` when the outcome must fire at these bounds, or the reason
        the design or the bounds make it impossible (reported, not failed).
        """
        d, b = self.design, self.bounds
        ok: dict[tuple[str, int], str | None] = {}
        no_faults = "bound faults=0" if b.faults == 0 else None
        no_reboot = "bound kexecs=0" if b.kexecs == 0 else None

        def need(kind: str, ret: int, why: str | None = None) -> None:
            ok[(kind, ret)] = why

        need("memfd_create", 0, "bound folios=0" if b.folios == 0 else None)
        # ENOMEM needs every page in use at once, which only some bounds allow: reported
        # when it fires, never required.
        need("memfd_create", -E.ENOMEM, "needs every page in use at once (bound-dependent)")
        need("memfd_create[empty]", 0)
        need("memfd_write", 0, "bound folios=0" if b.folios == 0 else None)
        need("close_memfd", 0)
        need("alloc_pages", 0)
        need("free_pages", 0)
        need("open_device", 0)
        need("open_device", -E.EBUSY)
        # the first open after a kexec: deserialization fails on a record
        caches = (d.deserialize_caches_alloc_error or d.deserialize_validates_records
                  or d.deserialize_propagates_file_errors)
        need("open_device", -E.EIO, (no_faults or no_reboot) if caches else
             "design caches no failure the model offers (6.19: only a failed insert)")
        need("open_device[fault:alloc]", -E.EIO, no_faults or no_reboot)
        need("open_device[fault:handler]", -E.EIO, (no_faults or no_reboot)
             if d.deserialize_propagates_file_errors else
             "design drops a file's error (6.19, LUO-M1): the open succeeds")
        if d.deserialize_validates_records:
            need("open_device[fault:corrupt]", -E.EIO, no_faults or no_reboot)
        if not d.deserialize_propagates_file_errors:
            need("open_device[fault:handler]", 0, no_faults or no_reboot)
        need("close_device", 0)
        need("create_session[name=new]", 0)
        need("create_session[name=dup]", -E.EEXIST)
        need("create_session[name=invalid]", -E.EINVAL, None if d.validate_session_name else
             "design truncates invalid names instead (6.19): they are new or dup")
        fixed11 = None if d.block_mutations_in_reboot else "design blocks instead (6.19)"
        if b.reboot == "atomic":
            fixed11 = "reboot is atomic at these bounds: no call runs during it"
        need("create_session[name=new]", -E.EBUSY, fixed11 or no_reboot)
        need("create_session[name=dup]", -E.EBUSY, fixed11 or no_reboot)
        need("retrieve_session", 0, no_reboot)
        need("retrieve_session", -E.EINVAL, no_reboot)
        unlinked = None if d.finish_unlinks_session else "design keeps finished sessions (6.19)"
        need("retrieve_session", -E.ENOENT, unlinked or no_reboot)
        need("retrieve_session[name=unknown]", -E.ENOENT)
        def kind7_for(op: str) -> str | None:
            return None if d.checks_kind(op) else f"design has no session-kind check on {op} (M7)"

        kind7 = kind7_for("preserve")
        preserve_faults = [f"preserve_fd[fault:{point}]" for point in preserve_fault_points(d)]
        for kind in ("preserve_fd", *preserve_faults, "preserve_fd[token=dup]",
                     "preserve_fd[fd=devnull]", "preserve_fd[fd=closed]"):
            faulty = no_faults if "fault" in kind else None
            need(kind, -E.EINVAL, kind7 or no_reboot or faulty)
            need(kind, -E.EBUSY, fixed11 or no_reboot or faulty)
        need("preserve_fd", 0)
        need("preserve_fd", -E.ENOMEM)
        need("preserve_fd", -E.EBUSY if d.reject_double_preserve else 0)
        for point in preserve_fault_points(d):
            need(f"preserve_fd[fault:{point}]", -MEMFD_PRESERVE_FAULTS[point], no_faults)
            # the ser (or a migration target) cannot be allocated: ENOMEM before the point
            need(f"preserve_fd[fault:{point}]", -E.ENOMEM,
                 "needs every page in use at once (bound-dependent)")
        need("preserve_fd[token=dup]", -E.EEXIST)
        need("preserve_fd[fd=devnull]", -E.ENOENT)
        need("preserve_fd[fd=devnull]", -E.ENOMEM)
        need("preserve_fd[fd=closed]", -E.EBADF)
        need("retrieve_fd", 0, no_reboot)
        kind7 = kind7_for("retrieve")
        need("retrieve_fd", -E.EINVAL, kind7)
        need("retrieve_fd[token=unknown]", -E.ENOENT)
        need("retrieve_fd[token=unknown]", -E.EINVAL,
             None if not (kind7 and unlinked) else kind7)
        for point in retrieve_fault_points(d):
            need(f"retrieve_fd[fault:{point}]", -MEMFD_RETRIEVE_FAULTS[point],
                 no_faults or no_reboot)
        need("retrieve_fd[fault:insert]", -INSERT_ERRNO, no_faults or no_reboot or (
            "bound folios=0" if b.folios == 0 else None))
        # a folio KHO refuses fails before its insert (6.19: an outgoing file, LUO-M7)
        need("retrieve_fd[fault:insert]", -E.EIO,
             "only where KHO refuses a folio (6.19: LUO-M7, LUO-M4)")
        if d.remember_retrieve_status:
            # a later RETRIEVE_FD returns the errno the failed retrieve remembered
            for errno in {*(MEMFD_RETRIEVE_FAULTS[p] for p in retrieve_fault_points(d)),
                          INSERT_ERRNO}:
                need("retrieve_fd", -errno, no_faults or no_reboot)
        else:
            # 6.19 forgets the failure (LUO-M4): the retry restores again; KHO refuses
            # the folios a failed insert freed (EIO), or hands out the folios a failure
            # before any folio left reserved
            need("retrieve_fd", -E.EIO, no_faults or no_reboot)
        need("finish", 0)
        kind7 = kind7_for("finish")
        need("finish", -E.EINVAL, None if not (kind7 and unlinked) else kind7)
        need("finish[fault:veto]", -E.EBUSY, no_faults or no_reboot)
        need("finish[fault:veto]", -E.EINVAL, kind7 or no_faults)
        need("close_session", 0)
        need("close_session[fault:veto]", 0, no_faults or no_reboot)
        need("reboot", 0, no_reboot)
        gate = None if d.block_mutations_in_reboot else "design has no reboot gate (6.19)"
        need("reboot[fault:alloc]", -E.ENOMEM, gate or no_faults or no_reboot)
        need("reboot", -E.EBUSY, gate or "only while a reboot gate stays closed (LUO-M18, "
             "LUO-M19)")
        if d.skip_serialize_preserve_context:
            need("reboot[image=preserve_context]", 0, no_reboot)
        elif b.reboot == "interleaved":
            need("kernel_kexec[image=preserve_context]", 0, no_reboot)
        else:
            need("reboot[image=preserve_context]", 0, no_reboot)
        if b.reboot == "atomic":
            need("reboot[fault:unwind]", -E.EBUSY, no_faults or no_reboot)
        else:
            need("kernel_kexec[fault:unwind]", -E.EBUSY, no_faults or no_reboot)
        if b.reboot == "atomic":
            need("reboot[fault:freeze]", -E.EIO, no_faults or no_reboot)
            if d.kho_finalize:
                need("reboot[fault:finalize]", -E.EAGAIN, no_faults or no_reboot)
        else:
            need("luo_session_serialize", 0, no_reboot)
            need("luo_session_serialize[fault:freeze]", -E.EIO, no_faults or no_reboot)
            need("kernel_kexec", 0, no_reboot)
            if d.kho_finalize:
                need("kho_finalize", 0, no_reboot)
                need("kho_finalize[fault:finalize]", -E.EAGAIN, no_faults or no_reboot)
        if not d.keep_handle_on_unfreeze:
            # LUO-M5 aftermath: a second reboot fails in freeze with serialized_data == 0.
            kind = "luo_session_serialize" if b.reboot == "interleaved" else "reboot"
            need(kind, -E.EINVAL, no_faults or ("bound kexecs<1" if b.kexecs < 1 else None))
        return ok

    # ------------------------------------------------------------------ enabled calls
    def _user_actions(self, state: State) -> list[Action]:
        """User space (memfds) and other kernel users: the same calls in every design."""
        memfds, pages = state[MEMFDS], state[PAGES]
        b = self.bounds
        acts: list[Action] = []
        free_slot = any(m is None for m in memfds)
        # --- user space: memfds and other kernel users ----------------------------------
        if free_slot:
            free_scratch = any(p[P_OWNER] == st.FREE and p[P_SCRATCH] for p in pages)
            for size in range(b.folios + 1):
                acts.append(act("memfd_create", size=size, scratch=0))
                if size and free_scratch:
                    acts.append(act("memfd_create", size=size, scratch=1))
        for m, mf in enumerate(memfds):
            if mf is None:
                continue
            if mf[M_USER] and mf[M_FOLIOS] and all(
                    pages[p][P_CONTENT] == st.DATA_A for p in mf[M_FOLIOS]):
                acts.append(act("memfd_write", memfd=m))
            if mf[M_USER]:
                acts.append(act("close_memfd", memfd=m))
        referenced = _referenced_pages(state)
        seen: set[tuple[Any, ...]] = set()
        held_by_others = sum(1 for page in pages if page[P_OWNER] == st.OTHER)
        may_alloc = self.others_may_alloc
        for p, page in enumerate(pages):
            if held_by_others < b.others and may_alloc(state, p):
                key = (page, p in referenced)
                if not self.symmetry or key not in seen:
                    seen.add(key)
                    acts.append(act("alloc_pages", page=p))
        seen.clear()
        for p, page in enumerate(pages):
            if page[P_OWNER] == st.OTHER:
                key = (page, p in referenced)
                if not self.symmetry or key not in seen:
                    seen.add(key)
                    acts.append(act("free_pages", page=p))
        return acts

    def others_may_alloc(self, state: State, page: int) -> bool:
        """Whether another kernel user's ``alloc_pages`` may take page frame ``page`` (the
        set of enabled actions: who may allocate what). The buddy allocator hands out
        only free frames (mm/page_alloc.c); a page KHO reserved for the next kernel
        (``memblock_reserve`` in ``kho_mem_deserialize``) is not free. A variant may
        replace it as step ``model.others_may_alloc`` (its reference counterpart is
        ``reference.kernel.other_alloc``)."""
        return bool(state[PAGES][page][P_OWNER] == st.FREE)

    def actions(self, state: State) -> Iterable[Action]:
        """Every callable operation in ``state``, in a fixed order, failing ones included.

        A call is left out only when it would block (the kernel makes the caller wait) or
        when the bounds forbid the object it would create.
        """
        glob, outs, incs, _memfds, _pages = state
        phase, faults = glob[PHASE], glob[st.FAULTS]
        b = self.bounds
        d = self.design
        in_reboot = phase != st.RUNNING
        acts = self._user_actions(state)

        # --- /dev/liveupdate ------------------------------------------------------------
        # open() is exclusive (luo_core.c: luo_open: EBUSY while held); close() only drops
        # the device (luo_release): sessions have their own fds and outlive it.
        device = glob[st.DEVICE]
        acts.append(act("open_device"))
        if not device and glob[st.DESER] == st.DESER_PENDING and faults:
            # the first open after a kexec rebuilds the incoming sessions in order; each
            # record it reads is a point where it can fail (luo_session_deserialize)
            for i, s in enumerate(incs):
                acts.append(act("open_device", fault=f"alloc:{i}"))
                if d.deserialize_validates_records:
                    acts.append(act("open_device", fault=f"corrupt:{i}"))
                for j in range(len(s[S_FILES])):
                    acts.append(act("open_device", fault=f"handler:{i}.{j}"))
        if device:
            acts.append(act("close_device"))
            # In 6.19 insert takes the outgoing rwsem that serialize holds: create blocks.
            if not in_reboot or d.block_mutations_in_reboot:
                if len(outs) < b.sessions:
                    acts.append(act("create_session", name="new"))
                if outs:
                    acts.append(act("create_session", name="dup"))
                if d.validate_session_name:
                    acts.append(act("create_session", name="invalid"))
            for i in range(len(incs)):
                acts.append(act("retrieve_session", session=i))
            acts.append(act("retrieve_session", session="unknown"))

        # --- session fds ----------------------------------------------------------------
        for kind, lst in (("out", outs), ("in", incs)):
            for i, s in enumerate(lst):
                status = s[S_STATUS]
                if status in (st.OUT_CLOSING, st.IN_NEW, st.IN_STUCK):
                    continue  # no fd: nothing can be called on it
                acts.extend(self._session_actions(state, kind, i, s, faults))
        # --- reboot(KEXEC) --------------------------------------------------------------
        acts.extend(self._reboot_actions(state))
        return acts

    def _session_actions(
        self, state: State, kind: str, i: int, s: tuple[Any, ...], faults: int
    ) -> list[Action]:
        memfds = state[MEMFDS]
        b = self.bounds
        acts: list[Action] = []
        nfiles = len(s[S_FILES])
        # LIVEUPDATE_SESSION_PRESERVE_FD
        if nfiles:
            acts.append(act("preserve_fd", list=kind, session=i, fd="any", token="dup"))
        if nfiles < b.files:
            for m, mf in enumerate(memfds):
                if mf is not None and mf[M_USER]:
                    acts.append(act("preserve_fd", list=kind, session=i, fd=m, fault=None))
                    if faults:
                        acts.extend(act("preserve_fd", list=kind, session=i, fd=m,
                                        fault=point)
                                    for point in preserve_fault_points(self.design))
            acts.append(act("preserve_fd", list=kind, session=i, fd="devnull"))
            acts.append(act("preserve_fd", list=kind, session=i, fd="closed"))
        # LIVEUPDATE_SESSION_RETRIEVE_FD
        free_slot = any(m is None for m in memfds)
        rejected = self.design.checks_kind("retrieve") and kind == "out"
        for j, f in enumerate(s[S_FILES]):
            # the handler's retrieve creates a memfd: offered only if the bound has room
            done = f[FL_ST] not in (st.F_NEW, st.PRESERVED, st.FROZEN)
            if free_slot or rejected or done:
                acts.append(act("retrieve_fd", list=kind, session=i, file=j, fault=None))
            if faults and free_slot and not (rejected or done):
                # the handler's retrieve runs: it may fail at each of its points
                acts.extend(act("retrieve_fd", list=kind, session=i, file=j, fault=point)
                            for point in retrieve_fault_points(self.design,
                                                               len(f[FL_FOLIOS])))
        acts.append(act("retrieve_fd", list=kind, session=i, file="unknown", fault=None))
        # LIVEUPDATE_SESSION_FINISH
        acts.append(act("finish", list=kind, session=i, fault=None))
        if faults and nfiles:
            acts.append(act("finish", list=kind, session=i, fault="veto"))
        # close(session fd): an outgoing close waits while the reboot gate is closed
        if kind == "in" or not gate_closed(state, self.design):
            acts.append(act("close_session", list=kind, session=i, fault=None))
            if kind == "in" and faults and nfiles:
                acts.append(act("close_session", list=kind, session=i, fault="veto"))
        return acts

    def _reboot_actions(self, state: State) -> list[Action]:
        glob, outs = state[GLOB], state[OUTGOING]
        kexecs, phase, faults = glob[KEXECS], glob[PHASE], glob[st.FAULTS]
        d = self.design
        acts: list[Action] = []
        # serialization's own array allocation (luo_session_serialize), designs with the gate
        alloc = faults and d.block_mutations_in_reboot
        if self.bounds.reboot == "atomic":
            if phase == st.RUNNING and kexecs < self.bounds.kexecs:
                acts.append(act("reboot", fault=None))
                acts.append(act("reboot", image="preserve_context"))
                if faults:
                    for i, s in enumerate(outs):
                        for j in range(len(s[S_FILES])):
                            acts.append(act("reboot", fault=f"freeze:{i}.{j}"))
                    if d.kho_finalize:
                        acts.append(act("reboot", fault="finalize"))
                    acts.append(act("reboot", fault="unwind"))
                if alloc:
                    acts.append(act("reboot", fault="alloc"))
            return acts
        if phase == st.RUNNING:
            if kexecs < self.bounds.kexecs:
                acts.append(act("reboot"))
                if alloc:
                    acts.append(act("reboot", fault="alloc"))
                if d.skip_serialize_preserve_context:
                    acts.append(act("reboot", image="preserve_context"))
        elif phase == st.SERIALIZING:
            i = _cursor(outs)
            acts.append(act("luo_session_serialize", session=i, fault=None))
            if faults:
                for j in range(len(outs[i][S_FILES])):
                    acts.append(act("luo_session_serialize", session=i, fault=f"freeze:{j}"))
        elif phase == st.FINALIZE:
            acts.append(act("kho_finalize", fault=None))
            if faults:
                acts.append(act("kho_finalize", fault="finalize"))
        elif phase == st.READY:
            acts.append(act("kernel_kexec"))
            if faults:
                acts.append(act("kernel_kexec", fault="unwind"))
            if not d.skip_serialize_preserve_context:
                # without the 7.2 fix the image kind matters only here: every LUO step
                # before the jump runs the same for a context-preserving image
                acts.append(act("kernel_kexec", image="preserve_context"))
        return acts

    # ------------------------------------------------------------------ transitions
    def next_state(self, state: State, action: Action) -> Outcome[State]:
        """Run ``action`` on a copy of ``state``; the result is *not* canonicalized."""
        # the fast paths mirror the built-in steps: a variant that replaces steps runs
        # every call through the (possibly replaced) kernel methods
        fast = None if self.design.steps else self.unchanged(state, action)
        if fast is not None:
            return Outcome(fast, state)
        simple = None if self.design.steps else FAST_CALLS.get(action.name)
        if simple is not None:
            arg = action.args[0][1]
            assert isinstance(arg, int)
            return Outcome(0, simple(state, arg))
        return self._run_kernel(state, action)

    #: the kernel code paths this model runs (the legacy machine subclasses it)
    kernel_class: type[Kernel]

    def _run_kernel(self, state: State, action: Action) -> Outcome[State]:
        """The full path: thaw, run the kernel's ``do_<call>``, freeze."""
        w = World.thaw(state)
        k = self.kernel_class(w, self.design, self.bounds, state)
        handler = getattr(k, "do_" + action.name, None)
        if handler is None:
            raise ValueError(f"unknown action {action.name!r}")
        ret: int = handler(**dict(action.args))
        return Outcome(ret, w.freeze(), tuple(k.events))


    def unchanged(self, state: State, action: Action) -> int | None:
        """Fast path: the return value of a call that fails without changing anything.

        Asks the same checks as the ``do_*`` methods (``*_check`` above); ``None`` means
        "run the full kernel path". A FINISH with nothing to finish is answered here too
        (tests/test_model.py checks both paths agree on every transition of tiny).
        """
        name = action.name
        if name == "create_session":
            return create_session_check(state, self.design, action.args[0][1])  # type: ignore[arg-type]
        if name == "retrieve_session":
            return retrieve_session_check(state, self.design, action.args[0][1])  # type: ignore[arg-type]
        if name == "preserve_fd":
            args = dict(action.args)
            return preserve_fd_check(state, self.design, args["list"], args["fd"],  # type: ignore[arg-type]
                                     args.get("token", "new"))  # type: ignore[arg-type]
        if name == "retrieve_fd":
            args = dict(action.args)
            return retrieve_fd_check(state, self.design, args["list"], args["session"],  # type: ignore[arg-type]
                                     args["file"])  # type: ignore[arg-type]
        if name != "finish":
            return None
        args = dict(action.args)
        lst, i = args["list"], args["session"]
        assert isinstance(i, int) and isinstance(lst, str)
        ret = finish_check(state, self.design, lst, i)
        if ret is not None:
            return ret
        incoming = lst == "in"
        s = (state[INCOMING] if incoming else state[OUTGOING])[i]
        if not s[S_FILES] and (not incoming or s[S_STATUS] == st.IN_FINISHED):
            return 0
        return None


# --- user-space calls that touch one record, written directly on the frozen tuples --------
# (the hot path of the explorer; tests/test_model.py checks them against the Kernel paths)

def _set_page(pages: tuple[Any, ...], p: int, page: tuple[int, ...]) -> tuple[Any, ...]:
    return pages[:p] + (page,) + pages[p + 1:]


def _fast_alloc_pages(state: State, p: int) -> State:
    pg = state[PAGES][p]
    page = (st.OTHER, pg[P_TRACKED], pg[P_STAMPED], st.FOREIGN, pg[P_SCRATCH])
    return state[:PAGES] + (_set_page(state[PAGES], p, page),)


def _fast_free_pages(state: State, p: int) -> State:
    pg = state[PAGES][p]
    page = (st.FREE, pg[P_TRACKED], pg[P_STAMPED], st.ZERO, pg[P_SCRATCH])
    return state[:PAGES] + (_set_page(state[PAGES], p, page),)


def _fast_memfd_write(state: State, m: int) -> State:
    pages = state[PAGES]
    for p in state[MEMFDS][m][M_FOLIOS]:
        pg = pages[p]
        pages = _set_page(pages, p,
                          (pg[P_OWNER], pg[P_TRACKED], pg[P_STAMPED], st.DATA_B, pg[P_SCRATCH]))
    return state[:PAGES] + (pages,)


def _fast_close_memfd(state: State, m: int) -> State:
    memfds = list(state[MEMFDS])
    folios = memfds[m][M_FOLIOS]
    if st.managed(state, m):
        memfds[m] = (0, folios)
        return state[:MEMFDS] + (tuple(memfds), state[PAGES])
    memfds[m] = None
    pages = state[PAGES]
    for p in folios:
        pg = pages[p]
        pages = _set_page(pages, p, (st.FREE, pg[P_TRACKED], pg[P_STAMPED], st.ZERO, pg[P_SCRATCH]))
    return state[:MEMFDS] + (tuple(memfds), pages)


FAST_CALLS = {
    "alloc_pages": _fast_alloc_pages,
    "free_pages": _fast_free_pages,
    "memfd_write": _fast_memfd_write,
    "close_memfd": _fast_close_memfd,
}




def _cursor(outs: tuple[Any, ...]) -> int:
    """The next outgoing session luo_session_serialize() visits (creation order)."""
    for i, s in enumerate(outs):
        if not s[S_FROZEN]:
            return i
    return len(outs)


def _referenced_pages(state: State) -> set[int]:
    """Pages some object names (memfd folios, files, files blocks, snapshots)."""
    _glob, outs, incs, memfds, _pages = state
    ref: set[int] = set()
    for mf in memfds:
        if mf is not None:
            ref.update(mf[M_FOLIOS])
    for lst in (outs, incs):
        for s in lst:
            if s[S_FBLK] >= 0:
                ref.add(s[S_FBLK])
            for f in s[S_FILES]:
                if f[FL_SER] >= 0:
                    ref.add(f[FL_SER])
                ref.update(f[FL_FOLIOS])
            if s[S_SNAP] is not None:
                if s[S_SNAP][SNAP_FBLK] >= 0:
                    ref.add(s[S_SNAP][SNAP_FBLK])
                for ser, folios, _h in s[S_SNAP][SNAP_FILES]:
                    if ser >= 0:
                        ref.add(ser)
                    ref.update(folios)
    return ref


class Kernel:
    """The kernel code paths, run on a mutable :class:`World`.

    Method names after kernel functions. ``do_*`` methods are the actions; each returns
    the value user space sees.
    """

    def __init__(self, w: World, design: Design, bounds: Bounds, pre: State) -> None:
        self.w = w
        #: the state before the call (``w`` thawed from it): the early checks read it
        self.pre = pre
        self.d = design
        self.b = bounds
        self.events: list[Event] = []
        # a variant's replaced steps (the model-level ones live on LuoModel)
        design.install_steps(self, "model.", skip=MODEL_LEVEL_STEPS)

    # ================================================================ page allocator
    def _referenced(self) -> set[int]:
        return _referenced_pages(self.w.freeze())

    def pick_free(self, scratch: bool, exclude: Iterable[int] = ()) -> int:
        """The free page an allocation takes, or NONE.

        Preference: a page nothing references, then the smallest page attributes (in 6.19
        a free page may still be KHO-tracked), then the lowest index. The choice depends
        only on what a page *is*, never on its label, so it commutes with the symmetry
        reduction; pages that tie are identical and unreferenced, hence interchangeable.
        """
        ref = self._referenced()
        skip = set(exclude)
        best: tuple[bool, tuple[int, ...], int] | None = None
        for p, pg in enumerate(self.w.pages):
            if pg[P_OWNER] != st.FREE or bool(pg[P_SCRATCH]) != scratch or p in skip:
                continue
            key = (p in ref, tuple(pg), p)
            if best is None or key < best:
                best = key
        return NONE if best is None else best[2]

    def alloc_kernel_page(self, metadata: bool = True) -> int:
        """An unmovable allocation: a free page outside scratch (see pick_free), or NONE.

        KHO-M7 mutant: a metadata allocation may come from scratch (KFENCE / slab).
        """
        p = NONE
        if metadata and not self.d.metadata_outside_scratch:
            p = self.pick_free(scratch=True)
        if p == NONE:
            p = self.pick_free(scratch=False)
        if p == NONE:
            return NONE
        self.w.pages[p][P_OWNER] = st.ALLOC
        self.w.pages[p][P_CONTENT] = st.ZERO
        return p

    def free_page(self, p: int) -> None:
        """__free_pages(): back to the buddy allocator. KHO is not told: kho_preserve_folio()
        takes no reference, so nothing stops a tracked page being freed."""
        page = self.w.pages[p]
        page[P_OWNER] = st.FREE
        page[P_CONTENT] = st.ZERO

    # ======================================= KHO (kernel/liveupdate/kexec_handover.c)
    def kho_preserve(self, p: int) -> None:
        """kho_preserve_folio(): set the tracker bit (set semantics: preserving twice is one
        bit, and one kho_unpreserve_folio() clears it)."""
        self.w.pages[p][P_TRACKED] = 1

    def kho_unpreserve(self, p: int) -> None:
        """kho_unpreserve_folio(): clear the bit; unknown keys are a silent no-op."""
        self.w.pages[p][P_TRACKED] = 0

    def kho_restore(self, p: int) -> bool:
        """kho_restore_folio() -> kho_restore_page(): check and erase the KHOP stamp.

        Success hands the page to the caller (owner ALLOC). A page without a stamp (never
        handed over, or already restored) is refused with a WARN and NULL.
        """
        page = self.w.pages[p]
        if page[P_STAMPED]:
            page[P_STAMPED] = 0
            page[P_OWNER] = st.ALLOC
            self.events.append(("restore", p))
            return True
        if self.d.restore_checks_stamp:
            self.events.append(("restore_refused", p))
            return False
        # KHO-M6: no provenance check; any page is "restored" and given to the caller.
        self.events.append(("restore_unstamped", p))
        page[P_OWNER] = st.ALLOC
        return True

    def kho_restore_free(self, p: int) -> None:
        """kho_restore_free(): restore, then put the page."""
        if self.kho_restore(p):
            self.free_page(p)

    # ================================================================ memfds
    def fput_memfd(self, m: int) -> None:
        """Drop a reference: the memfd dies (its folios are freed) with its last one."""
        mf = self.w.memfds[m]
        if mf is None or mf.user or self.managed(m):
            return
        for p in mf.folios:
            self.free_page(p)
        self.w.memfds[m] = None

    def new_memfd(self, folios: tuple[int, ...]) -> int:
        slot = self.w.memfds.index(None)
        self.w.memfds[slot] = WMemfd(user=1, folios=folios)
        return slot

    def managed(self, m: int) -> bool:
        """LUO holds a reference on memfd ``m`` now (:func:`state.managed` of the world)."""
        return st.managed(self.w.freeze(), m)

    # ================================================================ user space
    def do_memfd_create(self, size: int, scratch: int) -> int:
        """memfd_create() + ftruncate(size pages) + write: user data "A" in every folio.

        Movable allocations may land in scratch (CMA); ``scratch=1`` puts the first folio
        there. Out of memory: -ENOMEM and nothing changes.
        """
        folios: list[int] = []
        for k in range(size):
            p = self.pick_free(scratch=bool(scratch) and k == 0, exclude=folios)
            if p == NONE:
                for q in folios:
                    self.free_page(q)
                return -E.ENOMEM
            self.w.pages[p][P_OWNER] = st.ALLOC
            folios.append(p)
        for p in folios:
            self.w.pages[p][P_CONTENT] = st.DATA_A
        self.new_memfd(tuple(folios))
        return 0

    def do_memfd_write(self, memfd: int) -> int:
        """write(): new data "B" into every folio (allowed while preserved: memfd_luo_preserve
        freezes only the size)."""
        mf = self.w.memfds[memfd]
        assert mf is not None
        for p in mf.folios:
            self.w.pages[p][P_CONTENT] = st.DATA_B
        return 0

    def do_close_memfd(self, memfd: int) -> int:
        """close() of the user's memfd fd; LUO's own reference (the fget() of
        luo_preserve_file()) keeps it alive."""
        mf = self.w.memfds[memfd]
        assert mf is not None
        mf.user = 0
        self.fput_memfd(memfd)
        return 0

    def do_alloc_pages(self, page: int) -> int:
        """Another kernel user allocates a free page and writes its own data to it."""
        pg = self.w.pages[page]
        pg[P_OWNER] = st.OTHER
        pg[P_CONTENT] = st.FOREIGN
        return 0

    def do_free_pages(self, page: int) -> int:
        """Another kernel user frees one of its pages."""
        self.free_page(page)
        return 0

    # ================================================================ /dev/liveupdate
    def do_open_device(self, fault: str | None = None) -> int:
        """open("/dev/liveupdate") (``kernel/liveupdate/luo_core.c``: ``luo_open``): one
        holder at a time, EBUSY while user space holds it. The first open after a kexec
        deserializes the incoming sessions (:meth:`luo_session_deserialize`); if that
        failed, user space gets EIO (never the inner errno), now and (with the LUO-M2
        fix) at every later open."""
        if self.w.device:
            return -E.EBUSY
        if self.w.deser == st.DESER_PENDING:
            if self.luo_session_deserialize(fault):
                return -E.EIO
        elif self.w.deser == st.DESER_FAILED:
            return -E.EIO
        self.w.device = 1
        return 0

    def luo_session_deserialize(self, fault: str | None) -> bool:
        """``kernel/liveupdate/luo_session.c``: ``luo_session_deserialize`` (with
        ``luo_file.c``: ``luo_file_deserialize``): rebuild the incoming sessions from the
        handed-over records, in serialization order. True: it failed (open gives EIO).

        The incoming list already holds the records (the jump put them there); a fault
        says where rebuilding stops: ``alloc:i`` (session i's allocation, ENOMEM),
        ``corrupt:i`` (session i's record is corrupt, EINVAL; designs that check) or
        ``handler:i.j`` (file j of session i has no registered handler). What was not
        rebuilt is dropped from the list and its pages stay reserved until the next
        kexec (``LEAKED``). Then, with the N1 discard, everything rebuilt is discarded
        too (:meth:`luo_file_abort_deserialized`); 6.19 keeps it. Whether the failure is
        remembered decides what the next open sees (``Design`` ``deserialize_*``).
        """
        w = self.w
        if fault is None:
            w.deser = st.DESER_DONE
            return False
        w.faults -= 1
        kind, _, where = fault.partition(":")
        i, _, j = where.partition(".")
        si = int(i)
        if kind == "handler":
            s = w.inc[si]
            for f in s.files[int(j):]:
                self.leak_pages(f.named_pages())
            del s.files[int(j):]
            if not self.d.deserialize_propagates_file_errors:
                # LUO-M1: the error is dropped; the later sessions are still rebuilt
                w.deser = st.DESER_SWALLOWED
                return False
            built = si + 1
        else:
            built = si
        for s in w.inc[built:]:
            self.leak_session(s)
        del w.inc[built:]
        if self.d.discard_deserialized:
            while w.inc:  # luo_session_discard_deserialized: newest first
                self.luo_file_abort_deserialized(w.inc.pop())
        cached = kind != "alloc" or self.d.deserialize_caches_alloc_error
        w.deser = st.DESER_FAILED if cached else st.DESER_SWALLOWED
        return True

    def leak_pages(self, pages: Iterable[int]) -> None:
        """Nothing in this kernel will restore these handed-over pages: they stay
        memblock-reserved until the next kexec (ghost owner class LEAKED)."""
        for p in pages:
            if self.w.pages[p][P_OWNER] == st.RESV:
                self.w.pages[p][P_OWNER] = st.LEAKED

    def leak_session(self, s: WSession) -> None:
        for f in s.files:
            self.leak_pages(f.named_pages())
        if s.fblk != NONE:
            self.leak_pages((s.fblk,))

    def luo_file_abort_deserialized(self, s: WSession) -> None:
        """The per-file discard of a deserialized session (``luo_file.c``:
        ``luo_file_abort_deserialized``, not in any readable copy): the Design choice
        ``discard_reclaims_pages`` says whether each file's handler restores and frees
        its pages (finish with retrieved=false) or they stay reserved until the next
        kexec."""
        if not self.d.discard_reclaims_pages:
            self.leak_session(s)
            return
        while s.files:
            self.memfd_luo_discard(s.files.pop())
        if s.fblk != NONE:
            self.kho_restore_free(s.fblk)

    def do_close_device(self) -> int:
        """close() of /dev/liveupdate (``luo_core.c``: ``luo_release``): the device is free
        again; sessions keep their own fds and are not touched."""
        self.w.device = 0
        return 0

    def do_create_session(self, name: str) -> int:
        """LIVEUPDATE_IOCTL_CREATE_SESSION (``kernel/liveupdate/luo_core.c``:
        ``luo_ioctl_create_session`` -> ``luo_session.c``: ``luo_session_create``).

        ``name="new"`` is a name no outgoing session has; ``"dup"`` one that exists
        (EEXIST; names are unique within the outgoing list only); ``"invalid"`` an empty
        or unterminated name (EINVAL with the LUO-M6 fix). With the LUO-M11 fix, create
        fails with EBUSY while the reboot gate is closed (in 6.19 it blocks on the
        outgoing rwsem, so the action is not offered then).
        """
        ret = create_session_check(self.pre, self.d, name)
        if ret is not None:
            return ret
        self.w.out.append(WSession(status=st.OUT_OPEN))
        return 0

    def do_retrieve_session(self, session: int | str) -> int:
        """LIVEUPDATE_IOCTL_RETRIEVE_SESSION (``luo_ioctl_retrieve_session`` ->
        ``luo_session_retrieve``): ENOENT unknown or unlinked, EINVAL if retrieved."""
        ret = retrieve_session_check(self.pre, self.d, session)
        if ret is not None:
            return ret
        assert isinstance(session, int)
        self.w.inc[session].status = st.IN_RETRIEVED
        return 0

    # ================================================================ session ioctls
    def _session(self, lst: str, i: int) -> WSession:
        return (self.w.out if lst == "out" else self.w.inc)[i]

    def do_preserve_fd(
        self, list: str, session: int, fd: int | str, token: str = "new",
        fault: str | None = None,
    ) -> int:
        """LIVEUPDATE_SESSION_PRESERVE_FD: ``kernel/liveupdate/luo_session.c``:
        ``luo_session_preserve_fd`` -> ``luo_file.c``: ``luo_preserve_file``.

        Checks in kernel order: session kind (LUO-M7 fix, EINVAL), reboot in progress
        (LUO-M11 fix, EBUSY), token already used in this session (EEXIST), fget (EBADF),
        already managed (LUO-M3 fix, EBUSY), files block allocation, can_preserve
        (ENOENT), then the handler's preserve. Any failure after the files block was
        allocated frees it again if the session has no files.
        """
        early = preserve_fd_check(self.pre, self.d, list, fd, token)
        if early is not None:
            return early
        s = self._session(list, session)
        allocated_block = False
        if s.fblk == NONE:
            p = self.alloc_kernel_page()
            if p == NONE:
                return -E.ENOMEM
            self.kho_preserve(p)  # kho_alloc_preserve()
            s.fblk = p
            allocated_block = True
        if fd == "devnull":
            ret = -E.ENOENT  # no handler's can_preserve accepts /dev/null
        else:
            assert isinstance(fd, int)
            ret = self.memfd_luo_preserve(s, fd, fault)
        if ret and allocated_block and not s.files:
            self.kho_unpreserve(s.fblk)
            self.free_page(s.fblk)
            s.fblk = NONE
        return ret

    def memfd_luo_preserve(self, s: WSession, m: int, fault: str | None) -> int:
        """memfd handler preserve (``mm/memfd_luo.c``: ``memfd_luo_preserve``,
        ``memfd_luo_preserve_folios``).

        Allocate the ser page, check seals and size, pin every folio (a folio in scratch
        is migrated out first: ``mm/gup.c``: ``memfd_pin_folios`` moves it off CMA, where
        scratch lives), KHO-preserve every folio and the ser. A fault names the step that
        fails (:data:`MEMFD_PRESERVE_FAULTS`); the kernel undoes every step before it
        (``err_unpreserve``, ``err_unpin``, ``err_free_ser``), so the only trace a failure
        leaves is a migration out of scratch done by the pin. The ser is allocated first:
        with no free page the preserve fails with ENOMEM before any fault point.
        """
        ser = self.alloc_kernel_page()
        if ser == NONE:
            return -E.ENOMEM
        if fault in ("seals", "size", "pin"):
            # seals and size are checked after kho_alloc_preserve(ser); the model's
            # memfd_pin_folios() fails before it has moved anything: the ser is undone
            self.free_page(ser)
            return self.memfd_preserve_failed(s, m, fault)
        folios = self.memfd_pin_folios(m, ser)
        if folios is None:
            return -E.ENOMEM
        for p in folios:
            self.kho_preserve(p)
        if fault == "kho_preserve":
            if self.d.preserve_undoes_kho_preserve:  # MF7 mutant: the folios stay tracked
                for p in folios:
                    self.kho_unpreserve(p)
            self.free_page(ser)  # unpin, then kho_unpreserve_free(ser)
            return self.memfd_preserve_failed(s, m, fault)
        self.kho_preserve(ser)
        s.files.append(WFile(st=st.PRESERVED, memfd=m, ser=ser, folios=folios))
        return 0

    def memfd_preserve_failed(self, s: WSession, m: int, fault: str) -> int:
        """The fault ``fault`` failed memfd preserve, everything before it undone: its
        errno. KHO-M9 mutant: the error path returns 0 instead; LUO records a file with
        no handle whose folios nobody preserved."""
        self.w.faults -= 1
        if not self.d.preserve_error_reported:
            mf = self.w.memfds[m]
            assert mf is not None
            s.files.append(WFile(st=st.PRESERVED, memfd=m, ser=NONE, folios=mf.folios,
                                 handle=0))
            return 0
        return -MEMFD_PRESERVE_FAULTS[fault]

    def memfd_alloc_ser_and_pin(self, m: int) -> tuple[int, tuple[int, ...]] | None:
        """Allocate the ser page and pin memfd ``m``'s folios (:meth:`memfd_pin_folios`).
        None: -ENOMEM, with the ser freed again."""
        ser = self.alloc_kernel_page()
        if ser == NONE:
            return None
        folios = self.memfd_pin_folios(m, ser)
        return None if folios is None else (ser, folios)

    def memfd_pin_folios(self, m: int, ser: int) -> tuple[int, ...] | None:
        """Pin memfd ``m``'s folios, migrating any folio in scratch to a new page first
        (``mm/gup.c``: ``memfd_pin_folios`` moves it off CMA, where scratch lives). None:
        -ENOMEM (no migration target), with the ser freed again."""
        mf = self.w.memfds[m]
        assert mf is not None
        folios = list(mf.folios)
        for k, p in enumerate(folios):
            if self.w.pages[p][P_SCRATCH]:
                target = self.alloc_kernel_page(metadata=False)
                if target == NONE:
                    self.free_page(ser)
                    return None
                self.w.pages[target][P_CONTENT] = self.w.pages[p][P_CONTENT]
                self.free_page(p)
                folios[k] = target
        mf.folios = tuple(folios)
        return mf.folios

    def memfd_luo_unpreserve(self, f: WFile) -> None:
        """memfd handler unpreserve: undo preserve; with handle 0 it WARNs and returns."""
        if not f.handle:
            self.events.append(("unpreserve_without_handle", f.ser))
            return
        if self.d.unpreserve_untracks_folios:  # KHO-M18 mutant: freed still preserved
            for p in f.folios:
                self.kho_unpreserve(p)
        if self.d.unpreserve_untracks_ser:  # KHO-M4 mutant: wrong keys, a no-op
            self.kho_unpreserve(f.ser)  # kho_unpreserve_free()
        self.free_page(f.ser)

    def do_retrieve_fd(self, list: str, session: int, file: int | str,
                       fault: str | None) -> int:
        """LIVEUPDATE_SESSION_RETRIEVE_FD (``kernel/liveupdate/luo_session.c``:
        ``luo_session_retrieve_fd`` -> ``luo_file.c``: ``luo_retrieve_file``).

        A retrieved file gives a new fd to the same memfd. A file whose retrieve failed
        returns the errno it failed with (LUO-M4 fix: the state remembers it). Otherwise
        the handler's retrieve runs (:meth:`memfd_luo_retrieve`); 6.19 LUO records a
        failure nowhere (LUO-M4).
        """
        early = retrieve_fd_check(self.pre, self.d, list, session, file)
        if early is not None:
            return early
        s = self._session(list, session)
        assert isinstance(file, int)
        f = s.files[file]
        if f.st == st.F_OK:
            mf = self.w.memfds[f.memfd]
            assert mf is not None
            mf.user = 1
            return 0
        if f.st in st.RETRIEVE_FAILED:
            return -st.RETRIEVE_FAILED[f.st]
        self.events.append(("handler_retrieve", f.tried))
        f.tried = 1
        ret = self.memfd_luo_retrieve(f, fault)
        if ret == 0:
            if f.st in (st.PRESERVED, st.FROZEN):
                # 6.19, RETRIEVE_FD on an outgoing session (LUO-M7): LUO overwrites the file
                # pointer and marks it retrieved; the outgoing file keeps its state.
                pass
            else:
                f.st = st.F_OK
                f.ser, f.folios = NONE, ()
        elif self.d.remember_retrieve_status and f.st == st.F_NEW:
            f.st = st.FAILED_WITH[-ret]
            # Once LUO has recorded the outcome nothing reads serialized_data again
            # (finish skips a failed file), so the model forgets the pages it named:
            # they belong to the allocator now or, after a failure before any folio was
            # restored, stay reserved, named by nothing, until the next kexec (LEAKED:
            # the kernel's documented cost). The LUO-M4f mutant's finish reads the
            # handle again, and the freed ser it names still holds the folio array: there
            # the record keeps naming both (what a use-after-free reads while the page is
            # not reused).
            if self.d.finish_skips_failed_retrieve:
                if fault is not None and fault in MEMFD_RETRIEVE_FAULTS:
                    self.leak_pages(f.folios)
                f.ser, f.folios = NONE, ()
        return ret

    def memfd_luo_retrieve(self, f: WFile, fault: str | None) -> int:
        """memfd handler retrieve (``mm/memfd_luo.c``: ``memfd_luo_retrieve``,
        ``memfd_luo_retrieve_folios``): read the ser in place, restore each folio into a
        new memfd, then restore-free the ser (on every path: 7.0 "restore and free
        memfd_luo_ser on failure", used in every design).

        A fault names the failing step. Before any folio is restored
        (:data:`MEMFD_RETRIEVE_FAULTS`) only the ser is freed; the folios stay reserved.
        ``insert:K``: folio K is restored but its charge or page-cache insert fails; it
        is put, the folios before it go with the new file as it is torn down, and the
        cleanup (``put_folios``) restores and puts every folio after it (the KHO-M11
        mutant passes a pfn where an address is expected: those are never restored). A
        folio KHO refuses to restore fails the same way with EIO.
        """
        kind, _, where = (fault or "").partition(":")
        if kind in MEMFD_RETRIEVE_FAULTS:
            self.w.faults -= 1
            if f.ser != NONE:
                self.kho_restore_free(f.ser)
            return -MEMFD_RETRIEVE_FAULTS[kind]
        failing = int(where) if kind == "insert" else -1
        restored: list[int] = []
        err = 0
        for k, p in enumerate(f.folios):
            if not self.kho_restore(p):
                err = -E.EIO
            elif k == failing:
                self.w.faults -= 1
                self.free_page(p)  # folio_put(): it never reached the page cache
                err = -INSERT_ERRNO
            else:
                restored.append(p)
                continue
            if self.d.put_folios_restores_rest:  # KHO-M11 mutant: never restored
                for rest in f.folios[k + 1:]:
                    self.kho_restore_free(rest)
            break
        if f.ser != NONE:
            self.kho_restore_free(f.ser)
        if err:
            for p in restored:
                self.free_page(p)  # fput() of the new file frees what it holds
            return err
        f.memfd = self.new_memfd(tuple(restored))
        return 0

    def memfd_luo_discard(self, f: WFile) -> None:
        """finish(retrieved=false) of the memfd handler: restore and free every folio,
        then restore-free the ser."""
        for p in f.folios:
            self.kho_restore_free(p)
        if f.ser != NONE:
            self.kho_restore_free(f.ser)

    def luo_file_finish(self, s: WSession, fault: str | None) -> int:
        """``kernel/liveupdate/luo_file.c``: ``luo_file_finish``: can_finish on every file,
        then finish LIFO.

        A veto changes nothing but the ghost ``vetoed`` flag. Files never retrieved get
        finish(retrieved=false): the memfd handler restores and frees the ser and every
        folio. Retrieved files: LUO drops its extra reference. Failed retrieves (7.0):
        nothing (``memfd_luo_finish`` returns for any nonzero ``retrieve_status``). Then
        kho_restore_free(files block).
        """
        if not s.files:
            return 0
        if fault is not None:
            self.w.faults -= 1
            s.vetoed = 1
            return -E.EBUSY
        while s.files:
            f = s.files.pop()
            if f.st in (st.F_NEW, st.PRESERVED, st.FROZEN):
                # finish(retrieved=false): discard the preserved data. On an outgoing file
                # (LUO-M7) the pages carry no stamp and KHO refuses them.
                self.memfd_luo_discard(f)
                if f.st != st.F_NEW and f.memfd != NONE:
                    self.fput_memfd(f.memfd)
            elif f.st == st.F_OK:
                self.fput_memfd(f.memfd)
            elif not self.d.finish_skips_failed_retrieve:
                # LUO-M4f mutant: memfd_luo_finish() checks for a successful retrieve
                # only, so a failed file's data is discarded a second time
                self.memfd_luo_discard(f)
        if s.fblk != NONE:
            self.kho_restore_free(s.fblk)
            s.fblk = NONE
        return 0

    def do_finish(self, list: str, session: int, fault: str | None) -> int:
        """LIVEUPDATE_SESSION_FINISH (``kernel/liveupdate/luo_session.c``:
        ``luo_session_finish`` -> ``luo_session_finish_one``); EINVAL on an outgoing
        session (LUO-M7 fix) or on a session no longer retrieved.

        With the N1 lifetime (``Design.finish_unlinks_session``) a successful FINISH then
        unlinks the session from the incoming list and clears ``retrieved``
        (IN_FINISHED: the object lives on while user space holds its fd); the LUO-M20
        mutant clears ``retrieved`` but leaves it listed (IN_RELISTED). 6.19 leaves it
        listed and retrieved (IN_FINISHED).
        """
        early = finish_check(self.pre, self.d, list, session)
        if early is not None:
            return early
        s = self._session(list, session)
        ret = self.luo_file_finish(s, fault)
        if ret == 0 and s.incoming:
            relisted = self.d.finish_unlinks_session and not self.d.finish_unlinks_list
            s.status = st.IN_RELISTED if relisted else st.IN_FINISHED
        return ret

    def do_close_session(self, list: str, session: int, fault: str | None) -> int:
        """close() of a session fd: ``kernel/liveupdate/luo_session.c``:
        ``luo_session_release`` (outgoing: ``luo_file_unpreserve_files``; incoming:
        ``luo_file_finish``).

        Outgoing: unpreserve every file newest first, free the files block, unlink. In
        6.19 this may run during reboot (LUO-M11): the files are unpreserved at once, the
        unlink waits for the outgoing rwsem, so the session stays listed (OUT_CLOSING)
        until the reboot ends. Incoming: finish; if vetoed, 6.19 keeps the session listed
        and unretrievable (LUO-M13), later kernels make it retrievable again. An incoming
        session no longer retrieved (N1: finished and unlinked; LUO-M20: relisted) is not
        finished again: the close only drops the fd, and a relisted session stays listed.
        close() itself returns 0: the VFS ignores release's error.
        """
        lst = self.w.out if list == "out" else self.w.inc
        s = lst[session]
        if s.status == st.IN_RELISTED:
            s.status = st.IN_NEW
            return 0
        if s.status == st.IN_FINISHED and self.d.finish_unlinks_session:
            del lst[session]
            return 0
        if not s.incoming:
            while s.files:
                f = s.files.pop()
                self.memfd_luo_unpreserve(f)
                self.fput_memfd(f.memfd)
            if s.fblk != NONE:
                self.kho_unpreserve(s.fblk)  # kho_unpreserve_free()
                self.free_page(s.fblk)
                s.fblk = NONE
            if self.w.phase == st.RUNNING:
                del lst[session]
            else:
                s.status = st.OUT_CLOSING
            return 0
        ret = self.luo_file_finish(s, fault)
        if ret == 0:
            del lst[session]
        elif self.d.retrievable_after_vetoed_close:
            s.status = st.IN_NEW
        else:
            s.status = st.IN_STUCK
        return 0

    # ================================================================ reboot(KEXEC)
    def luo_file_freeze(self, i: int, fail_at: int | None) -> int:
        """Freeze session ``i`` (``kernel/liveupdate/luo_file.c``: ``luo_file_freeze``):
        freeze every file FIFO, write the snapshot.

        Returns 0, or the error of the file that failed after rolling back this session's
        frozen prefix (the caller rolls back earlier sessions).
        """
        s = self.w.out[i]
        entries: list[tuple[int, tuple[int, ...], int]] = []
        for j, f in enumerate(s.files):
            if fail_at == j:
                self.w.faults -= 1
                err = -E.EIO
            elif not f.handle:
                err = -E.EINVAL  # memfd freeze with serialized_data == 0 (LUO-M5)
            else:
                err = 0
            if err:
                for g in s.files[:j]:
                    self.luo_file_unfreeze_one(g)
                s.snap = None
                return err
            f.st = st.FROZEN
            entries.append((f.ser, f.folios, f.handle))
        s.frozen = 1
        s.snap = (s.fblk, tuple(entries)) if s.files else None
        return 0

    def luo_file_unfreeze_one(self, f: WFile) -> None:
        f.st = st.PRESERVED
        if not self.d.keep_handle_on_unfreeze:
            f.handle = 0  # 6.19: serialized_data = 0 after unfreeze (LUO-M5)

    def luo_session_unfreeze(self, s: WSession) -> None:
        """Unfreeze one serialized session: its frozen files in preservation order
        (``luo_file.c``: ``luo_file_unfreeze``), its snapshot entry zeroed."""
        for f in s.files:
            if f.st == st.FROZEN:
                self.luo_file_unfreeze_one(f)
        s.snap = None
        s.frozen = 0

    def luo_session_unfreeze_all(self, upto: int) -> None:
        """Serialization's own rollback (``luo_session.c``: ``luo_session_serialize``,
        ``err_undo``): sessions ``upto-1 .. 0``, newest first; the gate opens again."""
        for s in reversed(self.w.out[:upto]):
            self.luo_session_unfreeze(s)
        self.w.rebooting = 0

    def luo_session_abort_reboot(self) -> None:
        """``luo_session.c``: ``luo_session_abort_reboot``: after a successful
        serialization the reboot failed; every serialized session is unfrozen in creation
        order and the gate opens again. (The order of unfreezes, here and in the rollback,
        is the kernel's; no page changes owner in either, so the symbolic encoding
        unfreezes all at once.)"""
        for s in self.w.out:
            self.luo_session_unfreeze(s)
        self.w.rebooting = 0

    def reboot_failed(self) -> None:
        """reboot() returns to user space -- with an error, or after a context-preserving
        kexec came back: the machine runs normally again and sessions whose close waited
        are now unlinked. LUO's gate is left as the failing path left it."""
        self.w.phase = st.RUNNING
        self.w.out = [s for s in self.w.out if s.status != st.OUT_CLOSING]
        for s in self.w.out:
            s.frozen = 0

    def serialize_one(self, i: int, fail_at: int | None) -> int:
        ret = self.luo_file_freeze(i, fail_at)
        if ret:
            self.luo_session_unfreeze_all(i)
            self.reboot_failed()
            return ret
        if i + 1 >= len(self.w.out):
            self.w.phase = st.FINALIZE if self.d.kho_finalize else st.READY
        return 0

    def finalize(self, fail: bool) -> int:
        """kho_finalize() inside liveupdate_reboot() (6.19-7.0;
        ``kernel/liveupdate/luo_core.c``: ``liveupdate_reboot``, ``kexec_handover.c``:
        ``kho_finalize``)."""
        if not fail:
            self.w.phase = st.READY
            return 0
        self.w.faults -= 1
        if not self.d.abort_keeps_preservations:
            for pg in self.w.pages:  # KHO-M2 mutant: abort destroys the whole tracker
                pg[P_TRACKED] = 0
        if self.d.abort_reboot_unfreezes:
            self.luo_session_abort_reboot()
        # 6.19 (LUO-M10/G1): returns -EAGAIN with every file still frozen.
        self.reboot_failed()
        return -E.EAGAIN

    def kexec_unwind(self) -> int:
        """The kexec path fails after liveupdate_reboot() succeeded (``kernel/kexec_core.c``:
        ``kernel_kexec`` unwinding, e.g. freeze_processes() of a context-preserving image:
        -EBUSY, the errno the model returns). With the LUO-M18 fix ("kexec: abort
        liveupdate handover on kernel_kexec() unwind") LUO aborts the handover; without
        it every file stays frozen and the gate stays closed."""
        self.w.faults -= 1
        if self.d.abort_reboot_unfreezes:
            self.luo_session_abort_reboot()
        self.reboot_failed()
        return -E.EBUSY

    def start_reboot(self) -> int:
        """``luo_session.c``: ``luo_session_serialize`` up to the first session: with the
        gate (LUO-M11 fix), EBUSY if a reboot is already in progress; then the gate
        closes. Returns 0 or the error (nothing changed)."""
        if self.d.block_mutations_in_reboot:
            if self.w.rebooting:
                return -E.EBUSY
            self.w.rebooting = 1
        self.w.phase = st.SERIALIZING
        for s in self.w.out:
            s.frozen = 0
        if not self.w.out:
            self.w.phase = st.FINALIZE if self.d.kho_finalize else st.READY
        return 0

    def do_reboot(self, fault: str | None = None, image: str | None = None) -> int:
        """reboot(LINUX_REBOOT_CMD_KEXEC) (``kernel/kexec_core.c``: ``kernel_kexec`` ->
        ``kernel/liveupdate/luo_core.c``: ``liveupdate_reboot``).

        Interleaved bounds: this only enters liveupdate_reboot() (returns 0: in
        progress); luo_session_serialize / kho_finalize / kernel_kexec follow as separate
        steps. Atomic bounds: the whole path, ending in the next kernel, in one step;
        ``fault`` is ``freeze:S.J`` (file J of session S fails to freeze), ``finalize``
        or ``unwind`` (the kexec path fails after LUO's step).

        ``fault="alloc"``: serialization's array allocation fails, -ENOMEM before
        anything changes (designs with the gate). ``image="preserve_context"``: a kexec
        that returns to this kernel; with the 7.2 fix LUO skips it (0, nothing changes);
        without it (atomic bounds; interleaved ones show it at ``kernel_kexec``) the
        sessions are serialized and the machine comes back with them frozen.
        """
        if fault == "alloc":
            self.w.faults -= 1
            return -E.ENOMEM
        if image is not None and self.d.skip_serialize_preserve_context:
            return 0
        ret = self.start_reboot()
        if ret or self.b.reboot == "interleaved":
            return ret
        fail_s, fail_j = -1, -1
        if fault is not None and fault.startswith("freeze:"):
            a, b = fault[len("freeze:"):].split(".")
            fail_s, fail_j = int(a), int(b)
        for i in range(len(self.w.out)):
            ret = self.serialize_one(i, fail_j if i == fail_s else None)
            if ret:
                return ret
        if self.w.phase == st.FINALIZE:
            ret = self.finalize(fault == "finalize")
            if ret:
                return ret
        if fault == "unwind":
            return self.kexec_unwind()
        if image is not None:
            self.reboot_failed()  # machine_kexec() returned: the same kernel runs on
            return 0
        self.machine_kexec()
        return 0

    def do_luo_session_serialize(self, session: int, fault: str | None) -> int:
        """One session of ``kernel/liveupdate/luo_session.c``: ``luo_session_serialize``,
        under that session's mutex (the outgoing rwsem is held for the whole pass)."""
        fail_at = int(fault.split(":")[1]) if fault else None
        return self.serialize_one(session, fail_at)

    def do_kho_finalize(self, fault: str | None) -> int:
        return self.finalize(fault is not None)

    def do_kernel_kexec(self, fault: str | None = None, image: str | None = None) -> int:
        """The rest of ``kernel/kexec_core.c``: ``kernel_kexec`` after liveupdate_reboot():
        machine_kexec(), the jump; ``fault="unwind"``: the path fails first
        (:meth:`kexec_unwind`); ``image="preserve_context"`` (designs without the 7.2
        fix): machine_kexec() returns to this kernel, LUO is not told."""
        if fault == "unwind":
            return self.kexec_unwind()
        if image is not None:
            self.reboot_failed()
            return 0
        self.machine_kexec()
        return 0

    def machine_kexec(self) -> None:
        """The jump and the next boot (``kernel/liveupdate/kexec_handover.c``:
        ``kho_populate``, ``kho_memory_init``; ``luo_core.c``: ``luo_early_startup``;
        ``luo_session.c``: ``luo_session_deserialize``).

        Every tracked page is memblock-reserved and stamped; everything else, including
        pages the previous kernel left reserved (never restored there, so absent from
        that kernel's outgoing tracker, which starts empty: a leak lasts one kernel),
        becomes free memory.
        Scratch is scribbled on by early boot. Serialized outgoing sessions become the
        incoming list with their snapshotted files; user space and other kernel users
        start afresh, so every memfd and OTHER page is gone.
        """
        w = self.w
        expects: dict[int, int] = {p: pg[P_CONTENT] for p, pg in enumerate(w.pages)}
        # KHO-M17 mutant: the reservation misses the files blocks
        short = set() if self.d.reserve_covers_block else {
            s.snap[SNAP_FBLK] for s in w.out if s.snap is not None}
        stamp = 1 if self.d.stamps_survive_boot else 0  # KHO-M21 mutant: stamp lost
        for p, pg in enumerate(w.pages):
            if pg[P_TRACKED] and p in short:
                pg[P_OWNER], pg[P_TRACKED], pg[P_STAMPED], pg[P_CONTENT] = st.FREE, 0, 0, st.ZERO
            elif pg[P_TRACKED]:
                pg[P_OWNER], pg[P_TRACKED], pg[P_STAMPED] = st.RESV, 0, stamp
                if pg[P_SCRATCH]:
                    pg[P_CONTENT] = st.JUNK
            else:
                pg[P_OWNER], pg[P_TRACKED], pg[P_STAMPED], pg[P_CONTENT] = st.FREE, 0, 0, st.ZERO
        incoming: list[WSession] = []
        for s in w.out:
            files: list[WFile] = []
            fblk = NONE
            if s.snap is not None:
                fblk = s.snap[SNAP_FBLK]
                for ser, folios, handle in s.snap[SNAP_FILES]:
                    files.append(WFile(st=st.F_NEW, memfd=NONE, ser=ser, folios=folios,
                                       handle=handle, tried=0,
                                       expect=tuple(expects[p] for p in folios)))
            incoming.append(WSession(status=st.IN_NEW, fblk=fblk, files=files))
        w.inc = incoming
        w.out = []
        w.memfds = [None] * len(w.memfds)
        w.kexecs += 1
        w.phase = st.RUNNING
        w.rebooting = 0
        # /dev/liveupdate starts closed; its first open deserializes the records
        w.device = 0
        w.deser = st.DESER_PENDING


LuoModel.kernel_class = Kernel
