"""The machine, one kernel per boot, user space, ``/dev/liveupdate`` and reboot
(``kernel/liveupdate/luo_core.c``: ``luo_open``, ``luo_release``, ``luo_ioctl``,
``liveupdate_reboot``, ``liveupdate_early_init``, ``luo_late_startup``;
``kernel/kexec_core.c``: ``kernel_kexec``).

:class:`Machine` owns what survives kexec (physical memory, the fault budget, the count of
live updates) and the running :class:`Kernel`. A kernel owns its page allocator, KHO
tracker, session lists, file handlers and the one user-space process that drives it (the
selftests' "luod"). Calls return what user space sees: an fd or 0 on success, ``-errno``
on failure.

``reboot(LINUX_REBOOT_CMD_KEXEC)`` is available whole (:meth:`Kernel.reboot`) or as the
steps another thread can interleave with (:meth:`Kernel.liveupdate_reboot_begin`,
:meth:`Kernel.luo_session_serialize_next`, :meth:`Kernel.kho_finalize_step`,
:meth:`Kernel.kernel_kexec`), matching the model's ``interleaved`` reboot.

Incoming sessions are deserialized at the first open of /dev/liveupdate, as in the
kernel (``luo_core.c``: ``luo_open`` -> ``luo_session.c``: ``luo_session_deserialize``);
until then the handed-over session records wait in :attr:`Kernel.handover_sessions`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from luoverify.model import errno as E
from luoverify.model.design import Design
from luoverify.reference import luo_session as ls
from luoverify.reference.fault_inject import FaultInjector
from luoverify.reference.kexec_handover import Event, Kho, KhoError
from luoverify.reference.luo_file import (
    FileSet,
    luo_file_abort_deserialized,
    luo_file_deserialize,
)
from luoverify.reference.luo_session import LuoSession, SessionSer, WouldBlock
from luoverify.reference.memfd_luo import (
    DevNull,
    File,
    MemfdHandler,
    MemfdLuoSer,
    ShmemFile,
    pfn_of,
)
from luoverify.reference.page_alloc import (
    EARLY_BOOT_SCRIBBLE,
    FREE,
    RESERVED,
    PageAllocator,
    PhysicalMemory,
)

__all__ = ["Kernel", "Machine", "WouldBlock"]

FOREIGN_DATA = b"another kernel user's data"


@dataclass(eq=False)
class SessionFile(File):
    session: LuoSession | None = None


@dataclass(eq=False)
class DeviceFile(File):
    """An open /dev/liveupdate."""


@dataclass
class Process:
    """User space: one fd table."""

    fds: dict[int, File] = field(default_factory=dict)
    next_fd: int = 3

    def install(self, file: File) -> int:
        fd = self.next_fd
        self.next_fd += 1
        self.fds[fd] = file
        file.refs += 1
        return fd

    def fget(self, fd: int) -> File | None:
        return self.fds.get(fd)

    def fds_of(self, file: File) -> list[int]:
        return [fd for fd, f in self.fds.items() if f is file]


class Kernel:
    """One boot of the kernel."""

    def __init__(self, machine: Machine, handover: Handover | None) -> None:
        self.machine = machine
        self.design = machine.design
        self.mem = machine.mem
        self.faults = machine.faults
        self.alloc = PageAllocator(self.mem)
        self.kho = Kho(self.alloc, self.design)
        self.events: list[Event] = []
        self.kho.events = self.events
        self.handlers = [MemfdHandler(self)]
        # a variant's replaced steps (model/design.py: Design.install_steps)
        self.design.install_steps(self, "reference.kernel.")
        self.design.install_steps(self.handlers[0], "reference.memfd.")
        self.design.install_steps(self.kho, "reference.kho.")
        self.design.install_steps(self.alloc, "reference.alloc.")
        self.outgoing: list[LuoSession] = []
        self.incoming: list[LuoSession] = []
        self.user = Process()
        #: every shmem inode of this kernel (the shmem superblock's inode list)
        self.shmem_files: list[ShmemFile] = []
        self.device_in_use = False
        self.phase = "RUNNING"
        #: LUO's reboot gate (``luo_session.c``: the outgoing header's ``rebooting``),
        #: apart from ``phase``: set when serialization starts, cleared when it fails or
        #: is aborted (only in designs with the LUO-M11 fix)
        self.rebooting = False
        self.handed_over_expect: dict[int, tuple[bytes, ...]] = {}
        self.ghost_handed_over: list[FileSet | None] = []
        #: the session records the previous kernel handed over, until deserialized
        self.handover_sessions: list[SessionSer] = []
        #: ``luo_session_deserialize``'s static ``is_deserialized`` and cached ``err``; a
        #: cold boot has nothing to deserialize (the incoming header is not active)
        self.deserialized = handover is None
        self.deserialize_err = 0
        #: ghost: a deserialization failure the kernel did not remember (6.19: LUO-M1,
        #: LUO-M2), so an open succeeds over a partial incoming list
        self.ghost_deser_swallowed = False
        #: ghost: frames a failure left reserved on purpose, for the next kexec to
        #: reclaim (the model's owner class LEAKED; the kernel cannot tell them apart)
        self.ghost_leaked: set[int] = set()
        #: ghost: the folios the last memfd retrieve left reserved and unrestored (a
        #: failure before any folio); LUO moves them to ``ghost_leaked`` once it records
        #: the failure (luo_file.luo_retrieve_file), as nothing names them after that
        self.ghost_unrestored: list[int] = []
        self.alloc.named_frames = self.named_frames
        self.alloc.tracked_frames = lambda: self.kho.tracker
        if handover is not None:
            self._boot_from(handover)

    # ------------------------------------------------------------ helpers
    @property
    def in_reboot(self) -> bool:
        return self.phase != "RUNNING"

    def named_frames(self) -> set[int]:
        """Frames some kernel or user object names (the allocator's preference hook)."""
        out: set[int] = set()
        for f in self.live_files():
            if isinstance(f, ShmemFile):
                out.update(f.folios)
        for s in self.outgoing + self.incoming:
            fs = s.file_set
            if fs.block_pfn is not None:
                out.add(fs.block_pfn)
            for lf in fs.files:
                if lf.serialized_data and not lf.retrieve_status:
                    # once retrieve's outcome is recorded LUO never reads the ser again
                    out |= self.ser_frames(pfn_of(lf.serialized_data))
                priv = lf.private_data
                if priv is not None:
                    out.add(priv.ser_pfn)  # type: ignore[attr-defined]
                    out.update(priv.folios)  # type: ignore[attr-defined]
            entry = s.ser_entry
            if entry is not None and entry.block_pfn is not None:
                out.add(entry.block_pfn)
                out.update(self.records_pages(entry.block_pfn))
        return out

    def records_pages(self, block_pfn: int) -> set[int]:
        out: set[int] = set()
        content = self.mem.frames[block_pfn].content
        if isinstance(content, list):
            for rec in content:
                out |= self.ser_frames(pfn_of(rec.data))
        return out

    def ser_frames(self, ser: int) -> set[int]:
        """A memfd file's handed-over frames: its ``memfd_luo_ser`` and the folios that
        ser names."""
        content = self.mem.frames[ser].content
        folios = {p for p, _i in content.folios} if isinstance(content, MemfdLuoSer) else set()
        return {ser} | folios

    def live_files(self) -> list[File]:
        seen: dict[int, File] = {id(f): f for f in self.shmem_files}
        for f in self.user.fds.values():
            seen[id(f)] = f
        for s in self.outgoing + self.incoming:
            for lf in s.file_set.files:
                if lf.file is not None:
                    seen[id(lf.file)] = lf.file
        return [f for f in seen.values() if f.refs > 0]

    def fput(self, file: File) -> None:
        """Drop a reference; the last one releases the file."""
        file.refs -= 1
        if file.refs > 0:
            return
        if isinstance(file, ShmemFile):
            for pfn in file.folios:  # shmem_evict_inode(): the page cache goes
                self.alloc.free_page(pfn)
            file.folios = []
            self.shmem_files.remove(file)
        elif isinstance(file, SessionFile) and file.session is not None:
            self.luo_session_release(file.session)
        elif isinstance(file, DeviceFile):
            self.luo_release()

    def luo_release(self) -> None:
        """The last close of /dev/liveupdate (``luo_core.c``: ``luo_release``): the device
        is free again; sessions have their own fds and are not touched."""
        self.device_in_use = False

    def luo_session_release(self, s: LuoSession) -> int:
        """The session close path (``luo_session.c``: ``luo_session_release``), as a
        method so that a variant may replace it (step ``reference.kernel.``
        ``luo_session_release``, counterpart of ``model.do_close_session``)."""
        return ls.luo_session_release(self, s)

    def luo_is_managed(self, file: File) -> bool:
        """The LUO-M3 fix's global table: is ``file`` preserved or retrieved right now?"""
        for s in self.outgoing + self.incoming:
            for lf in s.file_set.files:
                if lf.file is file and lf.retrieve_status >= 0:
                    return True
        return False

    # ------------------------------------------------------------ user-space calls
    def close(self, fd: int) -> int:
        file = self.user.fds.pop(fd, None)
        if file is None:
            return -E.EBADF
        try:
            self.fput(file)
        except WouldBlock:
            self.user.fds[fd] = file  # the close never returned in this interleaving
            file.refs += 1
            raise
        return 0

    def open_liveupdate(self) -> int:
        """open("/dev/liveupdate") (``luo_core.c``: ``luo_open``): exclusive (EBUSY while
        held); EIO when deserialization failed (user space never sees its errno)."""
        if self.device_in_use:
            return -E.EBUSY
        if self.luo_session_deserialize():
            return -E.EIO
        self.device_in_use = True
        return self.user.install(DeviceFile())

    def luo_session_deserialize(self) -> int:
        """``kernel/liveupdate/luo_session.c``: ``luo_session_deserialize``: the first call
        rebuilds the incoming sessions from the handed-over records in order; every
        later call returns the cached result. Fault points, keyed by the record:
        ``deserialize_corrupt`` (designs that check records, EINVAL),
        ``deserialize_alloc`` (the session's allocation, ENOMEM) and, inside
        ``luo_file_deserialize``, ``deserialize_handler`` (no handler, ENOENT). On
        failure the N1 kernel discards everything rebuilt
        (``luo_session_discard_deserialized``); 6.19 keeps it, drops a file's error
        (LUO-M1) and does not cache an allocation failure (LUO-M2)."""
        if self.deserialized:
            return self.deserialize_err
        self.deserialized = True
        d = self.design
        err, cached = 0, True
        handed = self._records_frames()
        for entry in self.handover_sessions:
            if d.deserialize_validates_records and self.faults.should_fail(
                    "deserialize_corrupt", entry):
                err = -E.EINVAL
                break
            if self.faults.should_fail("deserialize_alloc", entry):
                err, cached = -E.ENOMEM, d.deserialize_caches_alloc_error
                break
            s = LuoSession(name=entry.name, incoming=True)
            self.incoming.append(s)
            if entry.count and entry.block_pfn is not None:
                s.file_set, ferr = luo_file_deserialize(self, entry.block_pfn, entry.count)
                if ferr and not d.deserialize_propagates_file_errors:
                    self.ghost_deser_swallowed = True  # LUO-M1: the error is dropped
                elif ferr:
                    err = ferr
                    break
        self.handover_sessions, self.ghost_handed_over = [], []
        if err:
            if d.discard_deserialized:
                self.luo_session_discard_deserialized()
            if cached:
                self.deserialize_err = err
            else:
                self.ghost_deser_swallowed = True
        # ghost: what no incoming object names anymore stays reserved until the next kexec
        self.ghost_leaked |= handed - self._incoming_frames()
        return err

    def _records_frames(self) -> set[int]:
        """Frames the handed-over session records name (files blocks, sers, folios)."""
        out: set[int] = set()
        for entry in self.handover_sessions:
            if entry.block_pfn is not None:
                out.add(entry.block_pfn)
                out.update(self.records_pages(entry.block_pfn))
        return out

    def _incoming_frames(self) -> set[int]:
        """Frames the incoming sessions still name: files blocks and the sers and folios
        of files never retrieved."""
        out: set[int] = set()
        for s in self.incoming:
            if s.file_set.block_pfn is not None:
                out.add(s.file_set.block_pfn)
            for lf in s.file_set.files:
                if lf.file is None and lf.retrieve_status == 0 and lf.serialized_data:
                    out |= self.ser_frames(pfn_of(lf.serialized_data))
        return out

    def luo_session_discard_deserialized(self) -> None:
        """``luo_session.c``: ``luo_session_discard_deserialized``: newest first, unlink
        each incoming session and discard its files (``luo_file_abort_deserialized``)."""
        while self.incoming:
            s = self.incoming.pop()
            s.listed = False
            luo_file_abort_deserialized(self, s.file_set)

    def open_devnull(self) -> int:
        return self.user.install(DevNull())

    def memfd_create(self) -> int:
        return self.user.install(self.new_shmem_file())

    def new_shmem_file(self, **fields: object) -> ShmemFile:
        f = ShmemFile(**fields)  # type: ignore[arg-type]
        self.shmem_files.append(f)
        return f

    def ftruncate(self, fd: int, pages: int) -> int:
        f = self.user.fget(fd)
        if not isinstance(f, ShmemFile):
            return -E.EINVAL
        if f.frozen and pages != f.size:
            return -E.EPERM  # shmem_freeze(): the size is fixed while preserved
        f.size = pages
        return 0

    def memfd_write(self, fd: int, data: bytes, *, first_in_scratch: bool = False) -> int:
        """Write ``data`` into every page of the file, allocating missing folios (movable;
        ``first_in_scratch`` serves the first one from the scratch CMA area). ENOMEM puts
        back what this call allocated."""
        f = self.user.fget(fd)
        if not isinstance(f, ShmemFile):
            return -E.EBADF
        new: list[int] = []
        while len(f.folios) + len(new) < f.size:
            pfn = self.alloc.alloc_page(
                "shmem:folio", movable_in_scratch=first_in_scratch and not f.folios and not new,
                exclude=new)
            if pfn is None:
                for p in new:
                    self.alloc.free_page(p)
                return -E.ENOMEM
            new.append(pfn)
        f.folios.extend(new)
        for pfn in f.folios:
            self.mem.frames[pfn].content = data
        return 0

    def memfd_read(self, fd: int) -> bytes:
        f = self.user.fget(fd)
        assert isinstance(f, ShmemFile)
        return b"".join(self.mem.frames[p].content for p in f.folios)

    def _session_of(self, fd: int) -> LuoSession | None:
        f = self.user.fget(fd)
        return f.session if isinstance(f, SessionFile) else None

    def ioctl_create_session(self, devfd: int, name: str) -> int:
        if not isinstance(self.user.fget(devfd), DeviceFile):
            return -E.ENOTTY
        ret = ls.luo_session_create(self, name)
        if ret:
            return ret
        return self.user.install(SessionFile(session=self.outgoing[-1]))

    def ioctl_retrieve_session(self, devfd: int, name: str) -> int:
        if not isinstance(self.user.fget(devfd), DeviceFile):
            return -E.ENOTTY
        ret, s = ls.luo_session_retrieve(self, name)
        if ret:
            return ret
        return self.user.install(SessionFile(session=s))

    def ioctl_preserve_fd(self, sfd: int, fd: int, token: int) -> int:
        s = self._session_of(sfd)
        if s is None:
            return -E.ENOTTY
        return ls.luo_session_preserve_fd(self, s, fd, token)

    def ioctl_retrieve_fd(self, sfd: int, token: int) -> int:
        s = self._session_of(sfd)
        if s is None:
            return -E.ENOTTY
        ret, file = ls.luo_session_retrieve_fd(self, s, token)
        if ret:
            return ret
        assert isinstance(file, File)
        return self.user.install(file)

    def ioctl_finish(self, sfd: int) -> int:
        s = self._session_of(sfd)
        if s is None:
            return -E.ENOTTY
        return ls.luo_session_finish(self, s)

    # ------------------------------------------------------------ other kernel users
    def other_alloc(self, pfn: int) -> None:
        self.alloc.claim(pfn, "other")
        self.mem.frames[pfn].content = FOREIGN_DATA

    def other_free(self, pfn: int) -> None:
        self.alloc.free_page(pfn)

    # ------------------------------------------------------------ reboot(KEXEC)
    def reboot(self, *, fail_finalize: bool = False, preserve_context: bool = False) -> int:
        """The whole reboot path; on success the machine runs the next kernel, or, for a
        context-preserving image, this one again (``kernel/kexec_core.c``:
        ``kernel_kexec``: the 7.2 fix skips liveupdate_reboot() for such an image)."""
        if preserve_context and self.design.skip_serialize_preserve_context:
            if self.machine.kexecs >= self.machine.max_kexecs:
                return -E.EINVAL  # no kexec image loaded
            return 0
        ret = self.liveupdate_reboot_begin()
        while ret == 0 and self.phase == "SERIALIZING":
            ret = self.luo_session_serialize_next()
        if ret == 0 and self.phase == "FINALIZE":
            ret = self.kho_finalize_step(fail=fail_finalize)
        if ret:
            return ret
        return self.kernel_kexec(preserve_context=preserve_context)

    def liveupdate_reboot_begin(self) -> int:
        """``luo_core.c``: ``liveupdate_reboot`` -> ``luo_session.c``:
        ``luo_session_serialize`` up to its first session: the session array's allocation
        (ENOMEM), then, with the gate, EBUSY if a reboot is already in progress; the gate
        closes."""
        if self.machine.kexecs >= self.machine.max_kexecs:
            return -E.EINVAL  # no kexec image loaded
        if self.design.block_mutations_in_reboot:
            if self.faults.should_fail("serialize_alloc"):
                return -E.ENOMEM
            if self.rebooting:
                return -E.EBUSY
            self.rebooting = True
        self.phase = "SERIALIZING"
        for s in self.outgoing:
            s.ghost_serialized = False
        if not self.outgoing:
            self._serialized_all()
        return 0

    def _serialized_all(self) -> None:
        self.phase = "FINALIZE" if self.design.kho_finalize else "READY"

    def serialize_cursor(self) -> int:
        return next((i for i, s in enumerate(self.outgoing) if not s.ghost_serialized),
                    len(self.outgoing))

    def luo_session_serialize_next(self) -> int:
        """Serialize the next outgoing session (creation order); roll back on failure."""
        i = self.serialize_cursor()
        ret = ls.luo_session_serialize_one(self, self.outgoing[i])
        if ret:
            for s in reversed(self.outgoing[:i]):  # newest first (err_undo)
                ls.luo_session_unfreeze(self, s)
            self.rebooting = False
            self._reboot_failed()
            return ret
        if i + 1 >= len(self.outgoing):
            self._serialized_all()
        return 0

    def kho_finalize_step(self, *, fail: bool = False) -> int:
        try:
            self.kho.kho_finalize(fail or self.faults.should_fail("finalize"))
        except KhoError:
            if not self.design.abort_keeps_preservations:
                self.kho.tracker.clear()  # KHO-M2 mutant: abort destroys the tracker
            self.luo_session_abort_reboot()
            self._reboot_failed()  # 6.19 (LUO-M10/G1): sessions stay frozen
            return -E.EAGAIN
        self.phase = "READY"
        return 0

    def luo_session_abort_reboot(self) -> None:
        """``luo_session.c``: ``luo_session_abort_reboot`` where the design has it (the
        LUO-M10 / LUO-M18 fix): every serialized session unfrozen in creation order, the
        gate open again."""
        if not self.design.abort_reboot_unfreezes:
            return
        for s in self.outgoing:
            if s.ghost_serialized:
                ls.luo_session_unfreeze(self, s)
        self.rebooting = False

    def kexec_unwind(self) -> int:
        """``kernel/kexec_core.c``: ``kernel_kexec`` fails after liveupdate_reboot()
        succeeded (the model's errno: -EBUSY, as freeze_processes() gives); with the
        LUO-M18 fix the handover is aborted."""
        self.luo_session_abort_reboot()
        self._reboot_failed()
        return -E.EBUSY

    def _reboot_failed(self) -> None:
        self.phase = "RUNNING"
        self.outgoing = [s for s in self.outgoing if not s.pending_unlink]
        for s in self.outgoing:
            s.ghost_serialized = False

    def kernel_kexec(self, *, preserve_context: bool = False) -> int:
        """The rest of ``kernel_kexec`` after liveupdate_reboot(): an armed ``unwind``
        fault fails the path (:meth:`kexec_unwind`); a context-preserving image comes back
        to this kernel, LUO untold (designs without the 7.2 fix get here); otherwise
        machine_kexec(): hand over the tracker and the session entries, boot anew."""
        assert self.phase == "READY"
        if self.faults.should_fail("kexec_unwind"):
            return self.kexec_unwind()
        if preserve_context:
            self._reboot_failed()
            return 0
        self.jump()
        return 0

    def jump(self) -> None:
        """machine_kexec() and the next boot."""
        handover = Handover(tracked=self.kho.handover(),
                            sessions=[s.ser_entry or SessionSer(s.name, 0, None)
                                      for s in self.outgoing])
        for entry in handover.sessions:  # instrumentation: what the folios held
            if entry.block_pfn is None:
                continue
            content = self.mem.frames[entry.block_pfn].content
            for rec in content if isinstance(content, list) else []:
                ser = self.mem.frames[pfn_of(rec.data)].content
                if isinstance(ser, MemfdLuoSer):
                    handover.expect[pfn_of(rec.data)] = tuple(
                        self.mem.frames[p].content for p, _i in ser.folios)
        self.machine.jump(handover)

    def _boot_from(self, h: Handover) -> None:
        """Early boot (``kernel/liveupdate/kexec_handover.c``: ``kho_populate``,
        ``kho_memory_init``): reserve and stamp every handed-over frame; early boot
        scribbles over scratch. LUO keeps the session records for the first open of
        /dev/liveupdate (:meth:`luo_session_deserialize`)."""
        # KHO-M17 mutant: the reservation misses the files blocks
        short = set() if self.design.reserve_covers_block else {
            e.block_pfn for e in h.sessions if e.count and e.block_pfn is not None}
        self.kho_reserve_handed_over(h.tracked, short)
        self.handed_over_expect = dict(h.expect)
        self.handover_sessions = list(h.sessions)
        # instrumentation: the records as handed over (what the model's pending incoming
        # list shows until the first open reads them from memory)
        self.ghost_handed_over = [
            luo_file_deserialize(self, e.block_pfn, e.count, inject=False)[0]
            if e.count and e.block_pfn is not None else None for e in h.sessions]


    def kho_reserve_handed_over(self, tracked: frozenset[int], short: set[int]) -> None:
        """Early boot (``kernel/liveupdate/kexec_handover.c``: ``kho_memory_init`` ->
        ``deserialize_bitmap``): memblock-reserve and stamp every handed-over frame (but
        ``short``, the KHO-M17 mutant's miss); everything else is free memory, and early
        boot scribbles over scratch."""
        for frame in self.mem.frames:
            if frame.scratch:
                frame.content = EARLY_BOOT_SCRIBBLE
            meta = self.alloc.meta[frame.pfn]
            if frame.pfn in tracked and frame.pfn not in short:
                # KHO-M21 mutant: the stamp does not survive boot
                meta.owner, meta.kho_stamp, meta.refcount = (
                    RESERVED, self.design.stamps_survive_boot, 1)
            else:
                meta.owner, meta.kho_stamp = FREE, False


@dataclass
class Handover:
    """What crosses kexec besides memory: the KHO map and LUO's session block."""

    tracked: frozenset[int]
    sessions: list[SessionSer]
    expect: dict[int, tuple[bytes, ...]] = field(default_factory=dict)


class Machine:
    """Physical memory plus the running kernel; ``jump`` boots the next one."""

    def __init__(self, design: Design, pages: int, *, scratch: int = 0, faults: int = 0,
                 max_kexecs: int = 1 << 30, kernel_class: type[Kernel] | None = None) -> None:
        """``kernel_class``: the kernel every boot runs (default :class:`Kernel`; the
        legacy driver passes ``luo_legacy.LegacyKernel``)."""
        self.design = design
        self.kernel_class = Kernel if kernel_class is None else kernel_class
        self.mem = PhysicalMemory.of(pages, scratch)
        self.faults = FaultInjector(budget=faults)
        self.kexecs = 0
        self.max_kexecs = max_kexecs
        self.kernel = self._boot(None)

    def _boot(self, handover: Any) -> Kernel:
        return self.kernel_class(self, handover)

    def jump(self, handover: Handover) -> None:
        self.kexecs += 1
        self.kernel = self._boot(handover)
