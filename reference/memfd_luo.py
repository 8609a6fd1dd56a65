"""The memfd file handler (``mm/memfd_luo.c``) and the shmem files it preserves.

Merged abstraction (the model makes the same one, see model/luo.py): one page per folio,
and the ``memfd_luo_ser`` together with its folio array is one metadata page, allocated,
preserved, restored and freed together in every path of memfd_luo.c.

Ops (``struct liveupdate_file_ops`` in ``include/linux/liveupdate.h``; ``mm/memfd_luo.c``:
``memfd_luo_can_preserve``, ``memfd_luo_preserve``, ``memfd_luo_unpreserve``,
``memfd_luo_freeze``, ``memfd_luo_retrieve``, ``memfd_luo_finish``):

* ``can_preserve``: a shmem (memfd) file.
* ``preserve``: allocate the ser page, check seals and size, pin every folio (a folio in
  the scratch CMA area is migrated out first, as memfd_pin_folios() in mm/gup.c does for
  ``memfd_luo_preserve_folios``), KHO-preserve every folio and the ser, write the folio
  descriptors into the ser; a failure undoes what was done before it.
  ``serialized_data`` is the ser's physical address; ``private_data`` remembers the ser
  frame and folios.
* ``unpreserve``: WARN and return when ``serialized_data`` is 0 (what makes LUO-M5
  observable); otherwise unpreserve the folios and unpreserve-free the ser.
* ``freeze``: rewrite ``pos`` in the ser; -EINVAL when ``serialized_data`` is 0.
* ``retrieve``: read the ser in place, restore each folio into a new memfd, then
  restore-free the ser (on failure too: 7.0 cleanup, used in every design as the model
  does). A failure before any folio leaves the folios reserved; a folio's failure puts
  every folio (the later ones restored first, but for the KHO-M11 mutant).
* ``can_finish``: the real handler has none; this one can veto when a fault is injected,
  so LUO's veto paths are exercised (the model's handler does the same).
* ``finish``: nothing for a retrieved file or one whose retrieve failed (7.0 status; the
  LUO-M4f mutant checks success only); otherwise restore and put every folio and
  restore-free the ser.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from luoverify.model import errno as E
from luoverify.reference.page_alloc import PAGE_SIZE, RAM_BASE

if TYPE_CHECKING:
    from luoverify.reference.luo_core import Kernel

MEMFD_LUO_FH_COMPATIBLE = "memfd-v1"


@dataclass(eq=False)
class File:
    """A ``struct file``: ``refs`` counts user fds and LUO's references."""

    refs: int = 0


@dataclass(eq=False)
class ShmemFile(File):
    """A memfd: an unlinked shmem file, one folio (page frame) per page of its size."""

    folios: list[int] = field(default_factory=list)
    size: int = 0  # pages
    pos: int = 0
    frozen: bool = False  # shmem_freeze(): size fixed while preserved


@dataclass(eq=False)
class DevNull(File):
    """/dev/null: no handler accepts it (selftest preserve_unsupported_fd)."""


@dataclass
class MemfdLuoSer:
    """``struct memfd_luo_ser`` with its folio array, as written into the ser page."""

    size: int
    pos: int
    folios: list[tuple[int, int]]  # (pfn, index in the file)


@dataclass
class MemfdPrivate:
    ser_pfn: int
    folios: list[int]


@dataclass
class OpArgs:
    """``struct liveupdate_file_op_args``."""

    file: File | None
    serialized_data: int = 0
    private_data: Any = None
    retrieve_status: int = 0  # 6.19: 0 / 1 (bool retrieved); 7.0+: 0, >0 ok, <0 errno


def phys_of(pfn: int) -> int:
    return RAM_BASE + pfn * PAGE_SIZE


def pfn_of(phys: int) -> int:
    return (phys - RAM_BASE) // PAGE_SIZE


class MemfdHandler:
    compatible = MEMFD_LUO_FH_COMPATIBLE

    def __init__(self, kernel: Kernel) -> None:
        self.k = kernel

    def can_preserve(self, file: File) -> bool:
        return isinstance(file, ShmemFile)

    def preserve(self, args: OpArgs) -> int:
        """``memfd_luo_preserve``: the ser first (kho_alloc_preserve), then the seal and
        size checks, pinning, KHO preservation of every folio and of the folio array.
        A failure (fault points ``preserve:seals`` / ``size`` / ``pin`` /
        ``kho_preserve``) undoes everything done before it."""
        k = self.k
        file = args.file
        assert isinstance(file, ShmemFile)
        ser = k.alloc.alloc_metadata("memfd_luo:ser", k.design)
        if ser is None:
            return -E.ENOMEM
        d = k.design
        for point, err, has in (("seals", -E.EOPNOTSUPP, d.memfd_preserves_seals),
                                ("size", -E.EFBIG, d.preserve_checks_size),
                                ("pin", -E.ENOMEM, True)):
            if has and k.faults.should_fail(f"preserve:{point}"):
                k.alloc.free_page(ser)  # err_free_ser
                return self.preserve_failed(args, file, err)
        if not self.pin_folios(file, ser):
            return -E.ENOMEM
        for pfn in file.folios:
            k.kho.kho_preserve_folio(pfn)
        if k.faults.should_fail("preserve:kho_preserve"):  # kho_preserve_vmalloc()
            if k.design.preserve_undoes_kho_preserve:  # MF7 mutant: left preserved
                for pfn in file.folios:  # err_unpreserve
                    k.kho.kho_unpreserve_folio(pfn)
            k.alloc.free_page(ser)  # err_unpin, err_free_ser
            return self.preserve_failed(args, file, -E.ENOMEM)
        file.frozen = True
        args.serialized_data, args.private_data = self.preserve_pinned(file, ser)
        return 0

    def preserve_failed(self, args: OpArgs, file: ShmemFile, err: int) -> int:
        """A failed preserve's return value: ``err``; the KHO-M9 mutant returns 0 with
        everything rolled back (no handle, nothing preserved)."""
        if not self.k.design.preserve_error_reported:
            args.serialized_data = 0
            args.private_data = MemfdPrivate(-1, list(file.folios))
            return 0
        return err

    def preserve_pinned(self, file: ShmemFile, ser: int) -> tuple[int, MemfdPrivate]:
        """KHO-preserve the pinned folios and the ser, write the folio descriptors into
        the ser: the handler's serialized_data and private_data."""
        kho = self.k.kho
        for pfn in file.folios:
            kho.kho_preserve_folio(pfn)
        kho.kho_preserve_folio(ser)
        self.k.mem.frames[ser].content = MemfdLuoSer(
            size=file.size, pos=file.pos, folios=[(p, i) for i, p in enumerate(file.folios)])
        return phys_of(ser), MemfdPrivate(ser, file.folios)

    def alloc_ser_and_pin(self, file: ShmemFile) -> int | None:
        """Allocate the ser frame and pin the file's folios (:meth:`pin_folios`). None:
        -ENOMEM, ser freed."""
        ser = self.k.alloc.alloc_metadata("memfd_luo:ser", self.k.design)
        if ser is None:
            return None
        return ser if self.pin_folios(file, ser) else None

    def pin_folios(self, file: ShmemFile, ser: int) -> bool:
        """memfd_pin_folios(): pin the file's folios, migrating a folio in the scratch
        CMA area out first. False: -ENOMEM (no frame to migrate to), ser freed."""
        k = self.k
        folios = list(file.folios)
        for i, pfn in enumerate(folios):
            if k.mem.frames[pfn].scratch:  # migrate off CMA before pinning
                target = k.alloc.alloc_page("shmem:folio")
                if target is None:
                    k.alloc.free_page(ser)
                    return False
                k.mem.frames[target].content = k.mem.frames[pfn].content
                k.alloc.free_page(pfn)
                folios[i] = target
        file.folios = folios
        return True

    def unpreserve(self, args: OpArgs) -> None:
        k = self.k
        priv = args.private_data
        assert isinstance(priv, MemfdPrivate)
        if not args.serialized_data:
            k.events.append(("unpreserve_without_handle", priv.ser_pfn))  # WARN_ON_ONCE
            return
        if k.design.unpreserve_untracks_folios:  # KHO-M18 mutant: freed still preserved
            for pfn in priv.folios:
                k.kho.kho_unpreserve_folio(pfn)
        if k.design.unpreserve_untracks_ser:  # KHO-M4 mutant: wrong keys, a no-op
            k.kho.kho_unpreserve_folio(priv.ser_pfn)
        k.alloc.free_page(priv.ser_pfn)  # kho_unpreserve_free()
        if isinstance(args.file, ShmemFile):
            args.file.frozen = False

    def freeze(self, args: OpArgs) -> int:
        k = self.k
        if k.faults.should_fail("freeze", args.private_data):
            return -E.EIO
        if not args.serialized_data:
            return -E.EINVAL
        ser = k.mem.frames[pfn_of(args.serialized_data)].content
        if isinstance(ser, MemfdLuoSer) and isinstance(args.file, ShmemFile):
            ser.pos = args.file.pos
        return 0

    def unfreeze(self, args: OpArgs) -> None:
        """Nothing to undo: freeze only rewrote ``pos``."""

    def read_ser(self, serialized_data: int) -> MemfdLuoSer:
        """The ser, read in place. A frame that holds something else reads as zeroes: no
        folios (what a zero-filled ``memfd_luo_ser`` says)."""
        if not serialized_data:
            return MemfdLuoSer(0, 0, [])
        content = self.k.mem.frames[pfn_of(serialized_data)].content
        return content if isinstance(content, MemfdLuoSer) else MemfdLuoSer(0, 0, [])

    def retrieve(self, args: OpArgs) -> int:
        """``memfd_luo_retrieve``: the seal check, memfd_alloc_file(), the folio array's
        kho_restore_vmalloc(), then each folio (``memfd_luo_retrieve_folios``); the ser
        is restore-freed on every path. Fault points: ``retrieve:seals`` /
        ``alloc_file`` / ``restore_folios`` (before any folio: the folios stay reserved,
        recorded in the ghost ``Kernel.ghost_unrestored``) and ``retrieve:insert:I`` (the
        charge or page-cache insert of folio I)."""
        k = self.k
        ser = self.read_ser(args.serialized_data)
        err = self._retrieve(args, ser)
        if args.serialized_data:
            k.kho.kho_restore_free(pfn_of(args.serialized_data))
        return err

    def _retrieve(self, args: OpArgs, ser: MemfdLuoSer) -> int:
        k = self.k
        seals = k.design.memfd_preserves_seals  # 6.19 has no seals to check
        for point, err, has in (("seals", -E.EOPNOTSUPP, seals),
                                ("alloc_file", -E.ENOMEM, True),
                                ("restore_folios", -E.EINVAL, True)):
            if has and k.faults.should_fail(f"retrieve:{point}"):
                k.ghost_unrestored = [pfn for pfn, _index in ser.folios]
                return err
        restored: list[int] = []
        for i, (pfn, _index) in enumerate(ser.folios):
            if not k.kho.kho_restore_folio(pfn, "shmem:folio"):
                err = -E.EIO
            elif k.faults.should_fail(f"retrieve:insert:{i}"):
                k.alloc.free_page(pfn)  # folio_put(): never in the page cache
                err = -E.ENOMEM
            else:
                restored.append(pfn)
                continue
            # put_folios: the folios after the failing one
            if k.design.put_folios_restores_rest:  # KHO-M11: a pfn passed as an address
                for rest, _index in ser.folios[i + 1:]:
                    if k.kho.kho_restore_folio(rest, "shmem:folio"):
                        k.alloc.free_page(rest)
            for done in restored:  # fput() of the new file frees what it holds
                k.alloc.free_page(done)
            return err
        args.file = k.new_shmem_file(folios=restored, size=ser.size, pos=ser.pos)
        return 0

    def can_finish(self, args: OpArgs) -> bool:
        return not self.k.faults.should_fail("can_finish")

    def finish(self, args: OpArgs) -> None:
        if args.retrieve_status > 0:
            return  # retrieved: the new memfd owns the folios
        if args.retrieve_status < 0 and self.k.design.finish_skips_failed_retrieve:
            return  # retrieve failed (7.0); the LUO-M4f mutant goes on
        k = self.k
        ser = self.read_ser(args.serialized_data)
        for pfn, _index in ser.folios:
            if k.kho.kho_restore_folio(pfn, "shmem:folio"):
                k.alloc.free_page(pfn)  # folio_put()
        if args.serialized_data:
            k.kho.kho_restore_free(pfn_of(args.serialized_data))
