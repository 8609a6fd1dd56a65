"""The legacy design: the v3/v4 review series' global LUO state machine (never merged;
GitHub googleprodkernel/linux-liveupdate, ``kernel/liveupdate/luo_core.c``:
``luo_prepare``, ``luo_freeze``, ``luo_cancel``, ``luo_finish``, and
``kernel/liveupdate/luo_files.c``).

Before sessions were merged (6.19), LUO had one global state -- NORMAL, PREPARED, FROZEN,
UPDATED -- driven by the events PREPARE, FREEZE, CANCEL, FINISH and by reboot(KEXEC), and
a file handler had separate ``prepare`` / ``freeze`` / ``cancel`` / ``finish`` callbacks.
This module models that machine with the same state layout, page allocator, KHO and
memfd handler as :mod:`luoverify.model.luo`, so every ownership property of the
catalogue applies to it unchanged. The ``legacy`` profile has the defects O1-O6 fixed;
each is a mutant (``specs/defects.py``).

Mapping onto the shared state (``model/state.py``):

* ``glob[PHASE]`` holds the global state (``L_NORMAL`` .. ``L_UPDATED``) plus the bit
  ``KHO_FINALIZED``. NORMAL is 0, so a cold boot is the same state in every design.
* The one outgoing "session" is the open /dev/liveupdate: v3 opens it exclusively and
  registers files on it by token (v3 ``kernel/liveupdate/luo_ioctl.c``: ``luo_open``,
  ``luo_ioctl_fd_preserve``; v1 of the series called each open a session).
  ``create_session`` / ``close_session`` are open() / close() of the device.
* An outgoing file is ``REGISTERED`` after FD_PRESERVE (an fget, no pages touched),
  ``PRESERVED`` after the handler's prepare (its ser page and folios KHO-preserved: the
  per-file PREPARED state), ``FROZEN`` after freeze. The files FDT is the session's
  ``fblk`` page, written at PREPARE; its content is the session's ``snap``.
* The incoming data is one incoming session (``IN_RETRIEVED``: v3 has no retrieve-session
  step, FD_RESTORE works on the device) that exists exactly while UPDATED.

Choices where the review-series code and documentation are silent or disagree (made
here, mirrored by ``reference/luo_legacy.py``):

* KHO of that era refuses ``kho_preserve_*`` and ``kho_unpreserve_*`` with EBUSY while
  finalized (the v3/v4-era kexec_handover.c checks ``kho_out.finalized`` in both), and
  the callers ignore unpreserve's error. The handover map is therefore the tracker as it
  was at kho_finalize(). A kexec without finalized KHO hands nothing over.
* What "fixed" means for each defect (the profile): O1 -- PREPARE rolls back to NORMAL
  when kho_finalize() fails; O2 -- CANCEL proceeds when KHO is not finalized; O3 -- a
  FREEZE failure cancels every file and aborts KHO, as the v3 documentation says (the
  kernel-doc of ``luo_freeze``: "everything is canceled"; the code, ``luo_files_freeze``,
  cancelled only the files before the failing one); O4 -- FD_RESTORE marks a file
  reclaimed only after a successful retrieve; O5 -- FREEZE with nothing prepared returns
  0; O6 -- closing the device while PREPARED/FROZEN cancels first.
* An injected retrieve fault is an *early* failure (the handler cannot allocate the new
  file): nothing is restored, so the fixed design may retry and FINISH discards the
  data; a retrieve that a refused restore breaks consumes the data (as in the session
  model) and is remembered.
* FINISH and CANCEL cannot be vetoed; finish with nothing incoming (EINVAL) is not
  offered (the model names the incoming data by session position). FREEZE is the
  debugfs event; reboot(KEXEC) from PREPARED freezes first (v3 ``luo_core.c``:
  ``liveupdate_reboot``). Handler and subsystem registration and the per-FD events of
  v3 are not modelled.
"""

from __future__ import annotations

from collections.abc import Iterable

from luoverify.model import errno as E
from luoverify.model import state as st
from luoverify.model.core import Action, Outcome
from luoverify.model.luo import Kernel, LuoModel, act, double_management_check
from luoverify.model.state import (
    FAULTS,
    FL_ST,
    GLOB,
    M_USER,
    NONE,
    OUTGOING,
    P_TRACKED,
    PHASE,
    S_FILES,
    State,
    WFile,
    WSession,
)

FIN = st.KHO_FINALIZED

def base(phase: int) -> int:
    """The global LUO state without the KHO bit."""
    return phase & ~FIN


class LegacyModel(LuoModel):
    """The v3/v4 global state machine over the shared state layout."""

    # ------------------------------------------------------------------ enabled calls
    def actions(self, state: State) -> Iterable[Action]:
        glob, outs, incs, memfds, _pages = state
        kexecs, phase, faults = glob[:3]
        b = self.bounds
        L = base(phase)
        acts = self._user_actions(state)
        # open("/dev/liveupdate"): exclusive
        acts.append(act("create_session", name="dup" if outs else "new"))
        if outs:
            s = outs[0]
            files = s[S_FILES]
            # FD_PRESERVE (registration) and FD_UNPRESERVE
            if files:
                acts.append(act("preserve_fd", list="out", session=0, fd="any",
                                 token="dup"))
            if len(files) < b.files:
                for m, mf in enumerate(memfds):
                    if mf is not None and mf[M_USER]:
                        acts.append(act("preserve_fd", list="out", session=0, fd=m,
                                         fault=None))
                acts.append(act("preserve_fd", list="out", session=0, fd="devnull"))
                acts.append(act("preserve_fd", list="out", session=0, fd="closed"))
            for j in range(len(files)):
                acts.append(act("unpreserve_fd", list="out", session=0, file=j))
            # SET_EVENT PREPARE / CANCEL
            acts.append(act("prepare", fault=None))
            if faults and L == st.L_NORMAL:
                for j, f in enumerate(files):
                    if f[FL_ST] == st.REGISTERED:
                        acts.append(act("prepare", fault=f"prepare:{j}"))
                acts.append(act("prepare", fault="finalize"))
            acts.append(act("cancel"))
            acts.append(act("close_session", list="out", session=0, fault=None))
        # debugfs FREEZE
        acts.append(act("freeze", fault=None))
        acts.extend(self._freeze_faults(state, "freeze"))
        # the incoming data: FD_RESTORE and FINISH (UPDATED)
        free_slot = any(m is None for m in memfds)
        for i, s in enumerate(incs):
            for j, f in enumerate(s[S_FILES]):
                if free_slot or f[FL_ST] != st.F_NEW:
                    acts.append(act("retrieve_fd", list="in", session=i, file=j,
                                     fault=None))
                    if faults and f[FL_ST] == st.F_NEW:
                        acts.append(act("retrieve_fd", list="in", session=i, file=j,
                                         fault="retrieve"))
            acts.append(act("retrieve_fd", list="in", session=i, file="unknown",
                             fault=None))
            acts.append(act("finish", list="in", session=i, fault=None))
        # reboot(KEXEC)
        if kexecs < b.kexecs:
            acts.append(act("reboot", fault=None))
            acts.extend(self._freeze_faults(state, "reboot"))
        return acts

    def _freeze_faults(self, state: State, call: str) -> list[Action]:
        """Failing variants of FREEZE (or of the freeze inside reboot) in PREPARED."""
        glob, outs = state[GLOB], state[OUTGOING]
        if base(glob[PHASE]) != st.L_PREPARED:
            return []
        files = outs[0][S_FILES] if outs else ()
        prepared = [j for j, f in enumerate(files) if f[FL_ST] == st.PRESERVED]
        acts: list[Action] = []
        if glob[FAULTS]:
            acts.extend(act(call, fault=f"freeze:{j}") for j in prepared)
        if not prepared and not self.design.freeze_ret_initialized:
            # O5: the return value is whatever the stack held; 0 is the plain action
            acts.append(act(call, fault="uninit"))
        return acts

    # ------------------------------------------------------------------ transitions
    def next_state(self, state: State, action: Action) -> Outcome[State]:
        """Every call runs the legacy kernel paths: the session model's fast paths
        (``LuoModel.unchanged``, ``FAST_CALLS``) mirror the session machine's checks,
        not this machine's (e.g. FD_PRESERVE is refused by the global state first)."""
        return self._run_kernel(state, action)

    # ------------------------------------------------------------------ coverage
    def action_kind(self, action: Action) -> str:
        if action.name == "unpreserve_fd":
            return "unpreserve_fd"
        if action.name == "create_session":
            return f"open_liveupdate[{'again' if action.arg('name') == 'dup' else 'first'}]"
        if action.name == "close_session":
            return "close_liveupdate"
        return super().action_kind(action)

    def expected_outcomes(self) -> dict[tuple[str, int], str | None]:
        b = self.bounds
        ok: dict[tuple[str, int], str | None] = {}
        no_faults = "bound faults=0" if b.faults == 0 else None
        no_reboot = "bound kexecs=0" if b.kexecs == 0 else None
        for kind, ret, why in (
            ("memfd_create", 0, "bound folios=0" if b.folios == 0 else None),
            ("memfd_create", -E.ENOMEM, "needs every page in use at once (bound-dependent)"),
            ("memfd_create[empty]", 0, None),
            ("memfd_write", 0, "bound folios=0" if b.folios == 0 else None),
            ("close_memfd", 0, None), ("alloc_pages", 0, None), ("free_pages", 0, None),
            ("open_liveupdate[first]", 0, None),
            ("open_liveupdate[again]", -E.EBUSY, None),
            ("close_liveupdate", 0, None),
            ("preserve_fd", 0, None),
            ("preserve_fd", -E.EBUSY, None),
            ("preserve_fd[token=dup]", -E.EEXIST, None),
            ("preserve_fd[token=dup]", -E.EBUSY, None),
            ("preserve_fd[fd=devnull]", -E.ENOENT, None),
            ("preserve_fd[fd=devnull]", -E.EBUSY, None),
            ("preserve_fd[fd=closed]", -E.EBADF, None),
            ("preserve_fd[fd=closed]", -E.EBUSY, None),
            ("unpreserve_fd", 0, None),
            ("unpreserve_fd", -E.EBUSY, None),
            ("prepare", 0, None),
            ("prepare", -E.EINVAL, None),
            ("prepare", -E.ENOMEM, "needs every page in use at once (bound-dependent)"),
            ("prepare[fault:prepare]", -E.ENOMEM, no_faults),
            ("prepare[fault:finalize]", -E.ENOMEM, no_faults),
            ("cancel", 0, None),
            ("cancel", -E.EINVAL, None),
            ("freeze", 0, None),
            ("freeze", -E.EINVAL, None),
            ("freeze[fault:freeze]", -E.EIO, no_faults),
            ("reboot", 0, no_reboot),
            ("reboot[fault:freeze]", -E.EIO, no_faults or no_reboot),
            ("retrieve_fd", 0, no_reboot),
            ("retrieve_fd", -E.EINVAL, no_reboot),
            ("retrieve_fd[token=unknown]", -E.ENOENT, no_reboot),
            ("retrieve_fd[fault:retrieve]", -E.ENOMEM, no_faults or no_reboot),
            ("finish", 0, no_reboot),
        ):
            ok[(kind, ret)] = why
        return ok


class LegacyKernel(Kernel):
    """The v3/v4 code paths on a mutable World (method names after the v3 functions)."""

    # --------------------------------------------------------------- global state
    @property
    def L(self) -> int:
        return base(self.w.phase)

    @property
    def finalized(self) -> bool:
        return bool(self.w.phase & FIN)

    def set_state(self, L: int) -> None:
        self.w.phase = L | (self.w.phase & FIN)

    # --------------------------------------------------------------- KHO of that era
    def kho_preserve_checked(self, p: int) -> bool:
        """__kho_preserve_order(): EBUSY once finalized."""
        if self.finalized:
            return False
        self.kho_preserve(p)
        return True

    def kho_unpreserve(self, p: int) -> None:
        """kho_unpreserve_folio(): EBUSY once finalized; every caller ignores it."""
        if self.finalized:
            self.events.append(("unpreserve_refused", p))
            return
        super().kho_unpreserve(p)

    def kho_abort(self) -> None:
        """Un-finalize; the preservations stay (the KHO-M2 fix)."""
        self.w.phase &= ~FIN

    # --------------------------------------------------------------- /dev/liveupdate
    def do_create_session(self, name: str) -> int:
        """open("/dev/liveupdate"): exclusive, EBUSY while open (v3)."""
        if self.w.out:
            return -E.EBUSY
        self.w.out.append(WSession(status=st.OUT_OPEN))
        return 0

    def do_close_session(self, list: str, session: int, fault: str | None) -> int:
        """close() of the device: luo_release() unregisters every outgoing file (v3).

        Fixed (O6): while PREPARED / FROZEN it cancels first. The O6 mutant cancels and
        unregisters the files but leaves the global state PREPARED with KHO finalized:
        the unpreserves are refused and the pages freed anyway.
        """
        if self.L in (st.L_PREPARED, st.L_FROZEN) and self.d.close_cancels_prepared:
            self.luo_cancel(force=True)
        s = self.w.out[0]
        while s.files:
            f = s.files.pop()
            if f.st in (st.PRESERVED, st.FROZEN):
                self.memfd_luo_cancel(f)
            self.fput_memfd(f.memfd)
        if s.fblk != NONE:  # the files FDT node is removed
            self.kho_unpreserve(s.fblk)
            self.free_page(s.fblk)
            s.fblk = NONE
        del self.w.out[0]
        return 0

    def do_preserve_fd(self, list: str, session: int, fd: int | str, token: str = "new",
                       fault: str | None = None) -> int:
        """LIVEUPDATE_IOCTL_FD_PRESERVE: register the file (v3 ``luo_files.c``:
        ``luo_register_file``): NORMAL or UPDATED only (EBUSY), token in use (EEXIST),
        bad fd (EBADF), no handler (ENOENT), already managed (EBUSY, the LUO-M3 fix
        kept). No pages are touched until PREPARE."""
        if self.L not in (st.L_NORMAL, st.L_UPDATED):
            return -E.EBUSY
        if token == "dup":
            return -E.EEXIST
        if fd == "closed":
            return -E.EBADF
        if fd == "devnull":
            return -E.ENOENT
        assert isinstance(fd, int)
        busy = double_management_check(self.pre, self.d, fd)
        if busy is not None:
            return busy
        self.w.out[0].files.append(WFile(st=st.REGISTERED, memfd=fd, ser=NONE, folios=()))
        return 0

    def do_unpreserve_fd(self, list: str, session: int, file: int) -> int:
        """LIVEUPDATE_IOCTL_FD_UNPRESERVE: NORMAL or UPDATED only (EBUSY). A file still
        prepared (only after the O3 defect) is cancelled first."""
        if self.L not in (st.L_NORMAL, st.L_UPDATED):
            return -E.EBUSY
        f = self.w.out[0].files.pop(file)
        if f.st in (st.PRESERVED, st.FROZEN):
            self.memfd_luo_cancel(f)
        self.fput_memfd(f.memfd)
        return 0

    # --------------------------------------------------------------- the memfd handler
    def memfd_luo_prepare(self, f: WFile) -> int:
        """prepare(): allocate the ser page, migrate folios out of scratch, KHO-preserve
        every folio and the ser (EBUSY while KHO is finalized)."""
        pinned = self.memfd_alloc_ser_and_pin(f.memfd)
        if pinned is None:
            return -E.ENOMEM
        ser, folios = pinned
        if self.finalized:
            self.free_page(ser)
            return -E.EBUSY
        for p in folios:
            self.kho_preserve(p)
        self.kho_preserve(ser)
        f.st, f.ser, f.folios, f.handle = st.PRESERVED, ser, folios, 1
        return 0

    def memfd_luo_cancel(self, f: WFile) -> None:
        """cancel(): undo prepare (unpreserve folios and ser, free the ser)."""
        self.memfd_luo_unpreserve(f)
        f.st, f.ser, f.folios = st.REGISTERED, NONE, ()

    # --------------------------------------------------------------- events
    def luo_cancel(self, force: bool = False) -> int:
        """CANCEL (v3/v4 ``luo_core.c``: ``luo_cancel``; ``luo_files.c``:
        ``luo_files_cancel_one``): kho_abort(), then cancel every file, destroy the FDT."""
        if not self.finalized and not (force or self.d.cancel_without_finalized_kho):
            return -E.ENOENT  # O2: kho_abort() fails and CANCEL gives up, no change
        self.kho_abort()
        s = self.w.out[0] if self.w.out else None
        if s is not None:
            for f in s.files:
                if f.st in (st.PRESERVED, st.FROZEN):
                    self.memfd_luo_cancel(f)
            if s.fblk != NONE:
                self.kho_unpreserve(s.fblk)
                self.free_page(s.fblk)
                s.fblk = NONE
            s.snap = None
        self.set_state(st.L_NORMAL)
        return 0

    def do_cancel(self) -> int:
        if self.L not in (st.L_PREPARED, st.L_FROZEN):
            return -E.EINVAL
        return self.luo_cancel()

    def do_prepare(self, fault: str | None = None) -> int:
        """PREPARE (v3/v4 ``luo_core.c``: ``luo_prepare``; ``luo_files.c``:
        ``luo_files_prepare``): prepare every registered file in token order (a
        failure cancels those before it), write the files FDT, set PREPARED, then
        kho_finalize(). Fixed (O1): a finalize failure rolls everything back."""
        if self.L != st.L_NORMAL:
            return -E.EINVAL
        if self.finalized:
            # NORMAL with KHO still finalized (only after the O3 defect): the files'
            # kho_preserve and then kho_finalize fail (EBUSY, EEXIST); net: an error and
            # no change
            return -E.EBUSY
        s = self.w.out[0]
        fail_at = int(fault.split(":")[1]) if fault and fault.startswith("prepare:") else None
        done: list[WFile] = []
        for j, f in enumerate(s.files):
            if f.st != st.REGISTERED:
                continue  # already prepared (only after the O3 defect): skipped
            if fail_at == j:
                self.w.faults -= 1
                ret = -E.ENOMEM
            else:
                ret = self.memfd_luo_prepare(f)
            if ret:
                for g in done:
                    self.memfd_luo_cancel(g)
                return ret
            done.append(f)
        if s.files:
            blk = self.alloc_kernel_page()
            if blk == NONE or not self.kho_preserve_checked(blk):
                if blk != NONE:
                    self.free_page(blk)
                for g in done:
                    self.memfd_luo_cancel(g)
                return -E.ENOMEM if blk == NONE else -E.EBUSY
            s.fblk = blk
            s.snap = (blk, tuple((f.ser, f.folios, f.handle) for f in s.files))
        self.set_state(st.L_PREPARED)
        if fault == "finalize":
            self.w.faults -= 1
            if self.d.prepare_rolls_back_on_finalize_error:
                self.luo_cancel(force=True)
            return -E.ENOMEM  # O1: the error, yet PREPARED with KHO not finalized
        self.w.phase |= FIN
        return 0

    def luo_freeze(self, fault: str | None) -> int:
        """FREEZE (v3/v4 ``luo_core.c``: ``luo_freeze``; ``luo_files.c``:
        ``luo_files_freeze``): freeze every prepared file in token order."""
        if self.L != st.L_PREPARED:
            return -E.EINVAL
        s = self.w.out[0] if self.w.out else None
        files = s.files if s is not None else []
        fail_at = int(fault.split(":")[1]) if fault and fault.startswith("freeze:") else None
        ret = 0
        for j, f in enumerate(files):
            if f.st != st.PRESERVED:
                continue
            if fail_at == j:
                self.w.faults -= 1
                ret = -E.EIO
                break
            f.st = st.FROZEN
        else:
            if fault == "uninit":
                ret = 1  # O5: an uninitialized int; nonzero reads as failure
        if ret == 0:
            self.set_state(st.L_FROZEN)
            return 0
        if self.d.freeze_failure_cancels_all:
            self.luo_cancel(force=True)
            return ret
        # O3: cancel only the files before the failing one; the global state becomes
        # NORMAL, KHO stays finalized, later files stay prepared
        for f in files[:fail_at if fail_at is not None else 0]:
            if f.st == st.FROZEN:
                self.memfd_luo_cancel(f)
        self.set_state(st.L_NORMAL)
        return ret

    def do_freeze(self, fault: str | None = None) -> int:
        return self.luo_freeze(fault)

    def do_reboot(self, fault: str | None = None, image: str | None = None) -> int:
        """reboot(KEXEC): liveupdate_reboot() freezes when PREPARED (a failure aborts
        the kexec); in every other state it does nothing (v3/v4 ``luo_core.c``:
        ``liveupdate_reboot``). Then the jump. (The legacy machine is not offered the
        session machine's ``image`` argument.)"""
        if self.L == st.L_PREPARED:
            ret = self.luo_freeze(fault)
            if ret:
                return ret
        self.machine_kexec()
        return 0

    # --------------------------------------------------------------- incoming side
    def do_retrieve_fd(self, list: str, session: int, file: int | str,
                       fault: str | None) -> int:
        """LIVEUPDATE_IOCTL_FD_RESTORE (v3 ``luo_files.c``: ``luo_retrieve_file``):
        UPDATED only (EBUSY), unknown token ENOENT, a reclaimed file EINVAL. O4:
        reclaimed is set before retrieve runs."""
        if self.L != st.L_UPDATED:
            return -E.EBUSY
        if file == "unknown":
            return -E.ENOENT
        assert isinstance(file, int)
        f = self.w.inc[session].files[file]
        if f.st != st.F_NEW:
            return -E.EINVAL
        self.events.append(("handler_retrieve", f.tried))
        if fault is not None:
            # an early failure: the handler cannot create the file; nothing restored
            self.w.faults -= 1
            if not self.d.reclaim_after_retrieve:
                f.st = st.F_ERR  # O4: counted as reclaimed, its data kept reserved
            return -E.ENOMEM
        f.tried = 1
        ret = self.memfd_luo_retrieve(f, None)
        if ret == 0:
            f.st = st.F_OK
        else:
            f.st = st.F_ERR  # the data was consumed by the failed restore
        f.ser, f.folios = NONE, ()
        return ret

    def do_finish(self, list: str, session: int, fault: str | None) -> int:
        """FINISH (v3/v4 ``luo_core.c``: ``luo_finish``; ``luo_files.c``:
        ``luo_files_finish_one``): every incoming file gets finish(reclaimed); an
        unreclaimed file's data is discarded, a reclaimed one's belongs to its new file.
        Then the FDT goes and the state is NORMAL."""
        if self.L != st.L_UPDATED:
            return -E.EINVAL
        s = self.w.inc[session]
        while s.files:
            f = s.files.pop()
            if f.st == st.F_NEW:
                self.memfd_luo_discard(f)
            elif f.st == st.F_OK:
                self.fput_memfd(f.memfd)
            # F_ERR: reclaimed (O4) or consumed: nothing to do
        if s.fblk != NONE:
            self.kho_restore_free(s.fblk)
            s.fblk = NONE
        del self.w.inc[session]
        self.set_state(st.L_NORMAL)
        return 0

    # --------------------------------------------------------------- the jump
    def machine_kexec(self) -> None:
        """The jump: with KHO finalized, the tracker (frozen since finalize) and the LUO
        FDT are handed over and the next kernel boots UPDATED; otherwise nothing is
        handed over and it boots NORMAL."""
        w = self.w
        fin = self.finalized
        if not fin:
            for pg in w.pages:
                pg[P_TRACKED] = 0
        keep = [s for s in w.out if fin and s.snap is not None]
        for s in w.out:
            if s not in keep:
                s.snap = None
        super().machine_kexec()
        # the v3 kernel restores its sessions at boot; the device is how sessions are made
        w.device, w.deser = 1, st.DESER_DONE
        w.inc = [s for s in w.inc if s.fblk != NONE]
        for s in w.inc:
            s.status = st.IN_RETRIEVED
        w.phase = st.L_UPDATED if w.inc else st.L_NORMAL


LegacyModel.kernel_class = LegacyKernel

__all__ = ["LegacyModel", "base"]
