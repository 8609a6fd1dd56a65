"""Run the legacy model's actions on the v3/v4 reference (``luo_legacy``), and map its
state back to a model state.

The model's one outgoing "session" is the open /dev/liveupdate; ``create_session`` /
``close_session`` open and close it. Files are named by position in token order (the
driver hands out increasing tokens, so that is registration order). FD_RESTORE and
FINISH need the device: when user space does not hold it, the driver opens it for the
call and closes it again (nothing is registered on it, so the close changes nothing).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from luoverify.model import state as st
from luoverify.model.state import State
from luoverify.reference import abstraction
from luoverify.reference.driver import (
    UNKNOWN_TOKEN,
    NotCallable,
    ReferenceDriver,
)
from luoverify.reference.luo_legacy import (
    FROZEN,
    NORMAL,
    PREPARED,
    UPDATED,
    LegacyFile,
    LegacyKernel,
)
from luoverify.reference.memfd_luo import ShmemFile, pfn_of

L_CODES = {NORMAL: st.L_NORMAL, PREPARED: st.L_PREPARED, FROZEN: st.L_FROZEN,
           UPDATED: st.L_UPDATED}


def _ser_folios(k: LegacyKernel, data: int) -> tuple[int, ...]:
    return tuple(p for p, _i in k.memfd.read_ser(data).folios) if data else ()


def out_file(lf: LegacyFile, slot_of: dict[int, int]) -> tuple[Any, ...]:
    memfd = slot_of.get(id(lf.file), st.NONE)
    if lf.state == NORMAL:
        return (st.REGISTERED, memfd, st.NONE, (), 1, 0, ())
    priv = lf.private_data
    return (st.FROZEN if lf.state == FROZEN else st.PRESERVED, memfd, priv.ser_pfn,
            tuple(priv.folios), 1, 0, ())


def _in_file(k: LegacyKernel, lf: LegacyFile, slot_of: dict[int, int]) -> tuple[Any, ...]:
    expect = tuple(abstraction.content_tag(c) for c in lf.ghost_expect)
    tried = 1 if lf.ghost_consumed else 0
    if lf.retrieve_status:  # consumed by a failed restore
        return (st.F_ERR, st.NONE, st.NONE, (), 1, tried, expect)
    if lf.reclaimed and lf.file is not None:
        return (st.F_OK, slot_of.get(id(lf.file), st.NONE), st.NONE, (), 1, tried, expect)
    ser = pfn_of(lf.serialized_data) if lf.serialized_data else st.NONE
    state = st.F_ERR if lf.reclaimed else st.F_NEW  # F_ERR here: O4, data still reserved
    return (state, st.NONE, ser, _ser_folios(k, lf.serialized_data), 1, tried, expect)


def abstract_legacy(k: LegacyKernel, kexecs: int, faults_left: int,
                    slots: Sequence[ShmemFile | None]) -> State:
    """The legacy model state this v3/v4 reference state refines."""
    slot_of = {id(f): i for i, f in enumerate(slots) if f is not None}
    memfds, pages = abstraction.memory(k, slots)
    phase = L_CODES[k.luo_state] | (st.KHO_FINALIZED if k.kho.finalized else 0)
    outs: tuple[Any, ...] = ()
    if k.device_in_use:
        fdt = k.files_fdt
        snap = None if fdt is None else (fdt, tuple(
            (pfn_of(r.data), _ser_folios(k, r.data), 1) for r in k.fdt_records(fdt)))
        outs = ((st.OUT_OPEN, st.NONE if fdt is None else fdt, 0, 0,
                 tuple(out_file(lf, slot_of) for lf in k.ordered()), snap),)
    incs: tuple[Any, ...] = ()
    if k.incoming_fdt is not None:
        incs = ((st.IN_RETRIEVED, k.incoming_fdt, 0, 0,
                 tuple(_in_file(k, lf, slot_of) for lf in k.incoming_files), None),)
    # the session machine's reboot gate and device fields: constant in the legacy machine
    return ((kexecs, phase, faults_left, 0, 1, st.DESER_DONE), outs, incs, memfds, pages)


class LegacyDriver(ReferenceDriver):
    """The reference driver for the ``legacy`` design."""

    kernel_class = LegacyKernel

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.kernel.close(self.devfd)  # user space opens the device itself
        self.devfd = -1

    @property
    def lk(self) -> LegacyKernel:
        k = self.kernel
        assert isinstance(k, LegacyKernel)
        return k

    def abstract(self) -> State:
        return abstract_legacy(self.lk, self.machine.kexecs, self.machine.faults.budget,
                               self.slots)

    def census(self, pfn: int) -> list[str]:
        k = self.lk
        out = abstraction.census(k, pfn, self.slots)[:1]
        for i, f in enumerate(self.slots):
            if f is not None and pfn in f.folios:
                out.append(f"memfd slot {i}: folio {f.folios.index(pfn)}")
        for name, fdt in (("outgoing", k.files_fdt), ("incoming", k.incoming_fdt)):
            if fdt == pfn:
                out.append(f"{name} files FDT")
        for name, files in (("outgoing", k.ordered()), ("incoming", k.incoming_files)):
            for j, lf in enumerate(files):
                if lf.serialized_data and pfn_of(lf.serialized_data) == pfn:
                    out.append(f"{name} file {j} (token {lf.token:#x}): memfd_luo_ser")
                if pfn in _ser_folios(k, lf.serialized_data):
                    out.append(f"{name} file {j} (token {lf.token:#x}): serialized folio")
        return out

    def _after_jump(self) -> None:
        self.slots = [None] * len(self.slots)
        self.devfd = -1

    def _file(self, j: object) -> LegacyFile:
        files = self.lk.ordered()
        if not isinstance(j, int) or not 0 <= j < len(files):
            raise NotCallable(f"no registered file {j}")
        return files[j]

    def _with_device(self, call: Any) -> int:
        """Run ``call(devfd)``, opening /dev/liveupdate for it if user space does not
        hold it."""
        if self.devfd >= 0:
            ret: int = call(self.devfd)
            return ret
        fd = self.lk.open_liveupdate()
        try:
            ret = call(fd)
        finally:
            self.lk.close(fd)
        return ret

    def _need_device(self) -> int:
        if self.devfd < 0:
            raise NotCallable("/dev/liveupdate is not open")
        return self.devfd

    def _arm(self, fault: str | None) -> None:
        if fault is None:
            return
        kind, _, arg = fault.partition(":")
        if kind in ("prepare", "freeze"):
            self.machine.faults.arm(kind, self._file(int(arg)))
        elif kind == "finalize":
            self.machine.faults.arm("finalize")
        elif kind == "uninit":
            self.lk.stack_garbage = 1  # what the stack held (O5)
        else:
            raise NotCallable(f"unknown fault {fault!r}")

    # ------------------------------------------------------------ the device
    def _do_create_session(self, name: str) -> int:
        fd = self.lk.open_liveupdate()
        if fd < 0:
            return fd
        self.devfd = fd
        return 0

    def _do_close_session(self, list: str, session: int, fault: str | None) -> int:
        ret = self.lk.close(self._need_device())
        self.devfd = -1
        return ret

    def _do_preserve_fd(self, list: str, session: int, fd: int | str, token: str = "new",
                        fault: str | None = None) -> int:
        k = self.lk
        dev = self._need_device()
        concrete = (self._file(0).token if token == "dup" and k.files
                    else 0x1000 + self._fresh())
        return self._with_fd(fd, lambda ufd: k.ioctl_fd_preserve(dev, ufd, concrete))

    def _do_unpreserve_fd(self, list: str, session: int, file: int) -> int:
        return self.lk.ioctl_fd_unpreserve(self._need_device(), self._file(file).token)

    # ------------------------------------------------------------ events
    def _do_prepare(self, fault: str | None = None) -> int:
        dev = self._need_device()
        self._arm(fault)
        return self.lk.ioctl_set_event(dev, "PREPARE")

    def _do_cancel(self) -> int:
        return self.lk.ioctl_set_event(self._need_device(), "CANCEL")

    def _do_freeze(self, fault: str | None = None) -> int:
        self._arm(fault)
        try:
            return self.lk.debugfs_freeze()
        finally:
            self.lk.stack_garbage = 0

    def _do_reboot(self, fault: str | None = None, image: str | None = None) -> int:
        k = self.lk
        self._arm(fault)
        try:
            return k.legacy_reboot()
        finally:
            k.stack_garbage = 0

    def _do_finish(self, list: str, session: int, fault: str | None) -> int:
        k = self.lk
        return self._with_device(lambda fd: k.ioctl_set_event(fd, "FINISH"))

    def _do_retrieve_fd(self, list: str, session: int, file: int | str,
                        fault: str | None) -> int:
        k = self.lk
        if file == "unknown":
            token = UNKNOWN_TOKEN
        else:
            if not isinstance(file, int) or not 0 <= file < len(k.incoming_files):
                raise NotCallable(f"no incoming file {file}")
            lf = k.incoming_files[file]
            token = lf.token
            if None not in self.slots and not (lf.reclaimed or lf.retrieve_status):
                raise NotCallable("no free memfd slot for the retrieved file")
        if fault is not None:
            self.machine.faults.arm("retrieve")
        return self._placed(self._with_device(lambda fd: k.ioctl_fd_restore(fd, token)))


__all__ = ["LegacyDriver", "abstract_legacy"]
