"""The v3/v4 review series' LUO (LKML "Live Update Orchestrator" v3/v4, never merged;
its ``kernel/liveupdate/luo_core.c``: ``luo_prepare``, ``luo_freeze``, ``luo_cancel``,
``luo_finish``, as kept in googleprodkernel/linux-liveupdate): one global state machine,
files registered by token on /dev/liveupdate, handler callbacks prepare / freeze / cancel /
finish / retrieve, and KHO of that era (finalized at PREPARE; preserve and unpreserve
refused with EBUSY while finalized).

The same machine, allocator, shmem files, user space and memfd handler as the session
reference (``luo_core``); what differs is written here in the v3 shape:
``luo_core.c`` (global state, events), ``luo_files.c`` (the token xarray, per-file state,
prepare / freeze / cancel / finish calls and their rollback) and the device release. The
defects O1-O6 are read from the Design flags exactly where v3 / v4 had them; see
``model/legacy.py`` for the choices where the reference is unsure (mirrored here).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from luoverify.model import errno as E
from luoverify.reference.kexec_handover import Kho
from luoverify.reference.luo_core import DeviceFile, Kernel
from luoverify.reference.memfd_luo import (
    File,
    MemfdHandler,
    OpArgs,
    ShmemFile,
    pfn_of,
)

if TYPE_CHECKING:
    from luoverify.reference.luo_core import Machine

NORMAL, PREPARED, FROZEN, UPDATED = "NORMAL", "PREPARED", "FROZEN", "UPDATED"


@dataclass
class LegacyKho(Kho):
    """KHO of the v3/v4 era: ``kho_out.finalized`` blocks (un)preservation."""

    def kho_preserve_folio(self, pfn: int) -> int:
        if self.finalized:
            return -E.EBUSY
        return super().kho_preserve_folio(pfn)

    def kho_unpreserve_folio(self, pfn: int) -> None:
        if self.finalized:
            self.events.append(("unpreserve_refused", pfn))  # -EBUSY, ignored by callers
            return
        super().kho_unpreserve_folio(pfn)

    def kho_abort(self) -> int:
        """Un-finalize; preservations stay (the KHO-M2 fix). ENOENT if not finalized."""
        if not self.finalized:
            return -E.ENOENT
        self.finalized = False
        return 0

    def handover(self) -> frozenset[int]:
        """Nothing is handed over unless KHO was finalized."""
        return frozenset(self.tracker) if self.finalized else frozenset()


@dataclass(eq=False)
class LegacyFile:
    """``struct luo_file`` of v3: one registered fd, by token."""

    token: int
    file: File | None
    # NORMAL / PREPARED / FROZEN / UPDATED, per file (v3 luo_files.c: luo_files_prepare_one,
    # luo_files_freeze_one, luo_files_cancel_one, luo_files_finish_one)
    state: str = NORMAL
    serialized_data: int = 0
    private_data: Any = None
    reclaimed: bool = False
    #: a failed retrieve that consumed the data, remembered (as the session model does)
    retrieve_status: int = 0
    ghost_consumed: bool = False
    ghost_expect: tuple[bytes, ...] = ()

    def args(self) -> OpArgs:
        return OpArgs(file=self.file, serialized_data=self.serialized_data,
                      private_data=self.private_data)


@dataclass
class LegacyRecord:
    """One file's entry in the files FDT: token and the handler's data."""

    token: int
    data: int


class LegacyMemfdHandler(MemfdHandler):
    """The memfd handler with the v3 op names."""

    def prepare(self, lf: LegacyFile) -> int:
        if self.k.faults.should_fail("prepare", lf):
            return -E.ENOMEM
        k = self.k
        file = lf.file
        assert isinstance(file, ShmemFile)
        ser = self.alloc_ser_and_pin(file)
        if ser is None:
            return -E.ENOMEM
        if k.kho.finalized:  # the first kho_preserve_folio() says EBUSY
            k.alloc.free_page(ser)
            return -E.EBUSY
        lf.serialized_data, lf.private_data = self.preserve_pinned(file, ser)
        return 0

    def cancel(self, lf: LegacyFile) -> None:
        self.unpreserve(lf.args())
        lf.serialized_data, lf.private_data = 0, None

    def freeze_file(self, lf: LegacyFile) -> int:
        if self.k.faults.should_fail("freeze", lf):
            return -E.EIO
        return 0

    def retrieve_legacy(self, lf: LegacyFile) -> int:
        """An injected fault is an early failure (the new file cannot be allocated):
        nothing is restored. Otherwise the session handler's retrieve."""
        if self.k.faults.should_fail("retrieve"):
            return -E.ENOMEM
        lf.ghost_consumed = True
        args = lf.args()
        ret = self.retrieve(args)
        if ret == 0:
            lf.file = args.file
        return ret

    def finish_legacy(self, lf: LegacyFile) -> None:
        """finish(reclaimed): discard the data of an unreclaimed file."""
        if lf.reclaimed or lf.retrieve_status:
            return
        self.finish(lf.args())


@dataclass
class LegacyHandover:
    """What crosses kexec: the KHO map and, when finalized, the LUO FDT."""

    tracked: frozenset[int]
    files_fdt: int | None
    records: list[LegacyRecord] = field(default_factory=list)
    expect: dict[int, tuple[bytes, ...]] = field(default_factory=dict)


class LegacyKernel(Kernel):
    """One boot of a v3/v4-era kernel."""

    kho: LegacyKho

    def __init__(self, machine: Machine, handover: Any) -> None:
        super().__init__(machine, None)
        self.kho = LegacyKho(self.alloc, self.design)
        self.design.install_steps(self.kho, "reference.kho.")
        self.kho.events = self.events
        self.alloc.tracked_frames = lambda: self.kho.tracker
        self.memfd = LegacyMemfdHandler(self)
        self.design.install_steps(self.memfd, "reference.memfd.")  # replaced handler ops
        self.luo_state = NORMAL
        self.files: dict[int, LegacyFile] = {}  # the outgoing xarray, by token
        self.files_fdt: int | None = None  # the files FDT page, written at PREPARE
        self.incoming_files: list[LegacyFile] = []
        self.incoming_fdt: int | None = None
        self.devfd_file: DeviceFile | None = None
        #: what the stack holds where v4's freeze forgets to initialize ``ret`` (O5)
        self.stack_garbage = 0
        if isinstance(handover, LegacyHandover):
            self._legacy_boot(handover)

    # ------------------------------------------------------------ helpers
    def ordered(self) -> list[LegacyFile]:
        return [self.files[t] for t in sorted(self.files)]

    def named_frames(self) -> set[int]:
        out: set[int] = set()
        for f in self.live_files():
            if isinstance(f, ShmemFile):
                out.update(f.folios)
        for lf in [*self.files.values(), *self.incoming_files]:
            if lf.private_data is not None:
                out.add(lf.private_data.ser_pfn)
                out.update(lf.private_data.folios)
            elif lf.serialized_data and lf.file is None and not lf.retrieve_status:
                out.add(pfn_of(lf.serialized_data))
                out.update(p for p, _i in self.memfd.read_ser(lf.serialized_data).folios)
        if self.files_fdt is not None:  # the outgoing FDT and what its records name
            out.add(self.files_fdt)
            for rec in self.fdt_records(self.files_fdt):
                out.add(pfn_of(rec.data))
                out.update(p for p, _i in self.memfd.read_ser(rec.data).folios)
        if self.incoming_fdt is not None:  # its records live on as the incoming files
            out.add(self.incoming_fdt)
        return out

    def luo_is_managed(self, file: File) -> bool:
        """The LUO-M3 fix's "already managed" test on this machine: LUO holds a reference
        on ``file`` (registered, or restored and not finished)."""
        held = [*self.files.values(), *(lf for lf in self.incoming_files if lf.reclaimed)]
        return any(lf.file is file for lf in held)

    def fdt_records(self, pfn: int) -> list[LegacyRecord]:
        content = self.mem.frames[pfn].content
        return [r for r in content if isinstance(r, LegacyRecord)] if isinstance(
            content, list) else []

    def live_files(self) -> list[File]:
        seen: dict[int, File] = {id(f): f for f in self.shmem_files}
        for f in self.user.fds.values():
            seen[id(f)] = f
        for lf in [*self.files.values(), *self.incoming_files]:
            if lf.file is not None:
                seen[id(lf.file)] = lf.file
        return [f for f in seen.values() if f.refs > 0]

    def fput(self, file: File) -> None:
        if isinstance(file, DeviceFile):
            file.refs -= 1
            if file.refs <= 0:
                self.luo_release()
                self.device_in_use = False
            return
        super().fput(file)

    # ------------------------------------------------------------ the device
    def open_liveupdate(self) -> int:
        if self.device_in_use:
            return -E.EBUSY
        self.device_in_use = True
        dev = DeviceFile()
        self.devfd_file = dev
        return self.user.install(dev)

    def luo_release(self) -> None:
        """Device close (v3): unregister every outgoing file, whatever the state. Fixed
        (O6): while PREPARED / FROZEN, CANCEL runs first."""
        if self.luo_state in (PREPARED, FROZEN) and self.design.close_cancels_prepared:
            self.luo_cancel(force=True)
        for lf in reversed(self.ordered()):
            if lf.state in (PREPARED, FROZEN):
                self.memfd.cancel(lf)
            del self.files[lf.token]
            assert lf.file is not None
            self.fput(lf.file)
        if self.files_fdt is not None:  # the files FDT node is removed
            self.kho.kho_unpreserve_folio(self.files_fdt)
            self.alloc.free_page(self.files_fdt)
            self.files_fdt = None
        self.devfd_file = None

    def _is_dev(self, fd: int) -> bool:
        return isinstance(self.user.fget(fd), DeviceFile)

    # ------------------------------------------------------------ FD ioctls
    def ioctl_fd_preserve(self, devfd: int, fd: int, token: int) -> int:
        if not self._is_dev(devfd):
            return -E.ENOTTY
        if self.luo_state not in (NORMAL, UPDATED):
            return -E.EBUSY
        if token in self.files:
            return -E.EEXIST
        file = self.user.fget(fd)
        if file is None:
            return -E.EBADF
        if not self.memfd.can_preserve(file):
            return -E.ENOENT
        if self.design.reject_double_preserve and self.luo_is_managed(file):
            return -E.EBUSY
        file.refs += 1  # fget
        self.files[token] = LegacyFile(token=token, file=file)
        return 0

    def ioctl_fd_unpreserve(self, devfd: int, token: int) -> int:
        if not self._is_dev(devfd):
            return -E.ENOTTY
        if self.luo_state not in (NORMAL, UPDATED):
            return -E.EBUSY
        lf = self.files.pop(token, None)
        if lf is None:
            return -E.ENOENT
        if lf.state in (PREPARED, FROZEN):  # only after O3
            self.memfd.cancel(lf)
        assert lf.file is not None
        self.fput(lf.file)
        return 0

    def ioctl_fd_restore(self, devfd: int, token: int) -> int:
        """FD_RESTORE: an fd for the restored file, or -errno."""
        if not self._is_dev(devfd):
            return -E.ENOTTY
        if self.luo_state != UPDATED:
            return -E.EBUSY
        lf = next((f for f in self.incoming_files if f.token == token), None)
        if lf is None:
            return -E.ENOENT
        if lf.reclaimed or lf.retrieve_status:
            return -E.EINVAL
        self.events.append(("handler_retrieve", 1 if lf.ghost_consumed else 0))
        if not self.design.reclaim_after_retrieve:
            lf.reclaimed = True  # O4: set before retrieve runs
        ret = self.memfd.retrieve_legacy(lf)
        if ret == 0:
            lf.reclaimed = True
            assert lf.file is not None
            lf.file.refs += 1  # LUO's reference, dropped at FINISH
            return self.user.install(lf.file)
        if lf.ghost_consumed:
            lf.retrieve_status = ret  # the data is gone: remembered
        return ret

    # ------------------------------------------------------------ events
    def luo_cancel(self, force: bool = False) -> int:
        if self.kho.kho_abort() and not (force or self.design.cancel_without_finalized_kho):
            return -E.ENOENT  # O2: kho_abort() failed; no change
        for lf in self.ordered():
            if lf.state in (PREPARED, FROZEN):
                self.memfd.cancel(lf)
                lf.state = NORMAL
        if self.files_fdt is not None:
            self.kho.kho_unpreserve_folio(self.files_fdt)
            self.alloc.free_page(self.files_fdt)
            self.files_fdt = None
        self.luo_state = NORMAL
        return 0

    def luo_prepare(self) -> int:
        if self.luo_state != NORMAL:
            return -E.EINVAL
        if self.kho.finalized:  # only after O3: net effect of EBUSY / EEXIST, no change
            return -E.EBUSY
        done: list[LegacyFile] = []
        for lf in self.ordered():
            if lf.state != NORMAL:
                continue
            ret = self.memfd.prepare(lf)
            if ret:
                for g in done:
                    self.memfd.cancel(g)
                    g.state = NORMAL
                return ret
            lf.state = PREPARED
            done.append(lf)
        if self.files:
            blk = self.alloc.alloc_metadata("luo:files-fdt", self.design)
            if blk is None:
                for g in done:
                    self.memfd.cancel(g)
                    g.state = NORMAL
                return -E.ENOMEM
            self.kho.kho_preserve_folio(blk)
            self.mem.frames[blk].content = [LegacyRecord(lf.token, lf.serialized_data)
                                            for lf in self.ordered()]
            self.files_fdt = blk
        self.luo_state = PREPARED
        try:
            self.kho.kho_finalize(self.faults.should_fail("finalize"))
        except Exception:  # KhoError
            if self.design.prepare_rolls_back_on_finalize_error:
                self.luo_cancel(force=True)
            return -E.ENOMEM  # O1: and the state stays PREPARED
        return 0

    def luo_freeze(self) -> int:
        if self.luo_state != PREPARED:
            return -E.EINVAL
        ret = 0 if self.design.freeze_ret_initialized else self.stack_garbage
        files = self.ordered()
        failed_at: int | None = None
        any_prepared = False
        for j, lf in enumerate(files):
            if lf.state != PREPARED:
                continue
            any_prepared = True
            ret = self.memfd.freeze_file(lf)
            if ret:
                failed_at = j
                break
            lf.state = FROZEN
        if any_prepared and failed_at is None:
            ret = 0
        if ret == 0:
            self.luo_state = FROZEN
            return 0
        if self.design.freeze_failure_cancels_all:
            self.luo_cancel(force=True)
            return ret
        for lf in files[:failed_at if failed_at is not None else 0]:  # O3
            if lf.state == FROZEN:
                self.memfd.cancel(lf)
                lf.state = NORMAL
        self.luo_state = NORMAL
        return ret

    def ioctl_set_event(self, devfd: int, event: str) -> int:
        if not self._is_dev(devfd):
            return -E.ENOTTY
        if event == "PREPARE":
            return self.luo_prepare()
        if event == "CANCEL":
            if self.luo_state not in (PREPARED, FROZEN):
                return -E.EINVAL
            return self.luo_cancel()
        if event == "FINISH":
            return self.luo_finish()
        return -E.EINVAL

    def debugfs_freeze(self) -> int:
        return self.luo_freeze()

    def luo_finish(self) -> int:
        if self.luo_state != UPDATED:
            return -E.EINVAL
        for lf in reversed(self.incoming_files):
            self.memfd.finish_legacy(lf)
            if lf.reclaimed and lf.file is not None:
                self.fput(lf.file)
        self.incoming_files = []
        if self.incoming_fdt is not None:
            self.kho.kho_restore_free(self.incoming_fdt)
            self.incoming_fdt = None
        self.luo_state = NORMAL
        return 0

    # ------------------------------------------------------------ reboot(KEXEC)
    def legacy_reboot(self) -> int:
        if self.machine.kexecs >= self.machine.max_kexecs:
            return -E.EINVAL
        if self.luo_state == PREPARED:
            ret = self.luo_freeze()
            if ret:
                return ret
        h = LegacyHandover(tracked=self.kho.handover(),
                           files_fdt=self.files_fdt if self.kho.finalized else None)
        if h.files_fdt is not None:
            h.records = self.fdt_records(h.files_fdt)
            for rec in h.records:
                ser = self.memfd.read_ser(rec.data)
                h.expect[pfn_of(rec.data)] = tuple(self.mem.frames[p].content
                                                   for p, _i in ser.folios)
        self.machine.jump(h)  # type: ignore[arg-type]
        return 0

    def _legacy_boot(self, h: LegacyHandover) -> None:
        short = (set() if self.design.reserve_covers_block or h.files_fdt is None
                 else {h.files_fdt})
        self.kho_reserve_handed_over(h.tracked, short)
        if h.files_fdt is None:
            return
        self.incoming_fdt = h.files_fdt
        for rec in h.records:
            self.incoming_files.append(LegacyFile(
                token=rec.token, file=None, state=UPDATED, serialized_data=rec.data,
                ghost_expect=h.expect.get(pfn_of(rec.data), ())))
        self.luo_state = UPDATED


__all__ = ["LegacyFile", "LegacyHandover", "LegacyKernel", "LegacyKho", "LegacyRecord"]
