"""Preserved files of one session (``kernel/liveupdate/luo_file.c``, ``struct luo_file``).

A :class:`FileSet` is a session's ordered file list (preservation order) and its lazily
allocated, KHO-preserved files block, which freeze fills with ``luo_file_ser`` records.
Functions are named after the kernel's and return 0 or -errno exactly as it does. Design
flags select the 6.19 behaviour or the later fix (see model/design.py for each).

Instrumentation, not kernel fields (``ghost_*``): whether freeze succeeded and no unfreeze
followed, how often the handler's retrieve ran, and what the folios held at the jump. The
properties need them; the kernel code paths never read them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from luoverify.model import errno as E
from luoverify.reference.memfd_luo import (
    File,
    MemfdHandler,
    OpArgs,
    ShmemFile,
    pfn_of,
    phys_of,
)

if TYPE_CHECKING:
    from luoverify.reference.luo_core import Kernel

LUO_FILE_MAX = 128  # 2 pages / sizeof(luo_file_ser) (6.19)


@dataclass
class LuoFileSer:
    """``struct luo_file_ser``: one record of a files block."""

    compatible: str
    data: int
    token: int


@dataclass(eq=False)
class LuoFile:
    token: int
    handler: MemfdHandler
    file: File | None
    serialized_data: int = 0
    private_data: object = None
    #: 6.19 ``bool retrieved`` (1/0); 7.0+ ``retrieve_status`` (0 never, 1 ok, -errno)
    retrieve_status: int = 0
    ghost_frozen: bool = False
    ghost_retrieve_calls: int = 0
    ghost_expect: tuple[bytes, ...] = ()

    def args(self) -> OpArgs:
        return OpArgs(self.file, self.serialized_data, self.private_data,
                      self.retrieve_status)


@dataclass(eq=False)
class FileSet:
    files: list[LuoFile] = field(default_factory=list)
    #: the files block (2 pages in the kernel, one frame here), or None
    block_pfn: int | None = None


def luo_preserve_file(k: Kernel, fs: FileSet, token: int, fd: int) -> int:
    """LIVEUPDATE_SESSION_PRESERVE_FD's core, in the kernel's order of checks
    (``kernel/liveupdate/luo_file.c``: ``luo_preserve_file``)."""
    if any(f.token == token for f in fs.files):
        return -E.EEXIST
    if not k.design.linked_blocks and len(fs.files) >= LUO_FILE_MAX:
        return -E.ENOSPC
    file = k.user.fget(fd)
    if file is None:
        return -E.EBADF
    if k.design.reject_double_preserve and k.luo_is_managed(file):
        return -E.EBUSY  # LUO-M3 fix: the global get_id table
    allocated = False
    if fs.block_pfn is None:
        pfn = k.kho.kho_alloc_preserve("luo:files-block")
        if pfn is None:
            return -E.ENOMEM
        fs.block_pfn = pfn
        allocated = True
    handler = next((h for h in k.handlers if h.can_preserve(file)), None)
    if handler is None:
        ret = -E.ENOENT
    else:
        lf = LuoFile(token=token, handler=handler, file=file)
        args = lf.args()
        ret = handler.preserve(args)
        if ret == 0:
            lf.serialized_data, lf.private_data = args.serialized_data, args.private_data
            file.refs += 1  # LUO keeps the fget() reference
            fs.files.append(lf)
    if ret and allocated and not fs.files:
        k.kho.kho_unpreserve_free(fs.block_pfn)
        fs.block_pfn = None
    return ret


def luo_file_unpreserve_files(k: Kernel, fs: FileSet) -> None:
    """Close of an outgoing session: unpreserve newest first, free the files block."""
    while fs.files:
        lf = fs.files.pop()
        lf.handler.unpreserve(lf.args())
        if lf.file is not None:
            k.fput(lf.file)
    if fs.block_pfn is not None:
        k.kho.kho_unpreserve_free(fs.block_pfn)
        fs.block_pfn = None


def luo_file_freeze(k: Kernel, fs: FileSet) -> tuple[int, list[LuoFileSer]]:
    """Freeze every file FIFO and write the files block; on failure unfreeze the frozen
    prefix (FIFO), zero the block, and return the error (``kernel/liveupdate/luo_file.c``:
    ``luo_file_freeze``, ``__luo_file_unfreeze``)."""
    records: list[LuoFileSer] = []
    for j, lf in enumerate(fs.files):
        args = lf.args()
        err = lf.handler.freeze(args)
        if err:
            for g in fs.files[:j]:
                luo_file_unfreeze_one(k, g)
            if fs.block_pfn is not None:
                k.mem.frames[fs.block_pfn].content = b""
            return err, []
        lf.serialized_data = args.serialized_data
        lf.ghost_frozen = True
        records.append(LuoFileSer(lf.handler.compatible, lf.serialized_data, lf.token))
    if fs.files and fs.block_pfn is not None:
        k.mem.frames[fs.block_pfn].content = records
    return 0, records


def luo_file_unfreeze_one(k: Kernel, lf: LuoFile) -> None:
    lf.handler.unfreeze(lf.args())
    lf.ghost_frozen = False
    if not k.design.keep_handle_on_unfreeze:
        lf.serialized_data = 0  # 6.19 (LUO-M5)


def luo_file_unfreeze(k: Kernel, fs: FileSet) -> None:
    """Roll back a whole session: unfreeze every frozen file, zero the files block."""
    for lf in fs.files:
        if lf.ghost_frozen:
            luo_file_unfreeze_one(k, lf)
    if fs.files and fs.block_pfn is not None:
        k.mem.frames[fs.block_pfn].content = b""


def luo_retrieve_file(k: Kernel, fs: FileSet, token: int) -> tuple[int, File | None]:
    """LIVEUPDATE_SESSION_RETRIEVE_FD's core (``kernel/liveupdate/luo_file.c``:
    ``luo_retrieve_file``): the file to install, or -errno."""
    lf = next((f for f in fs.files if f.token == token), None)
    if lf is None:
        return -E.ENOENT, None
    if lf.retrieve_status > 0:
        return 0, lf.file
    if lf.retrieve_status < 0:
        return lf.retrieve_status, None  # 7.0+: the failure is permanent
    k.events.append(("handler_retrieve", 1 if lf.ghost_retrieve_calls else 0))
    lf.ghost_retrieve_calls += 1
    args = lf.args()
    k.ghost_unrestored = []
    ret = lf.handler.retrieve(args)
    if ret == 0:
        assert args.file is not None
        old = lf.file
        lf.file = args.file
        lf.file.refs += 1  # LUO's extra reference, dropped at finish
        if old is None:  # an incoming file; on an outgoing one (6.19, LUO-M7) only the
            lf.retrieve_status = 1  # pointer is overwritten, as the model does
        return 0, lf.file
    if k.design.remember_retrieve_status and lf.file is None:
        lf.retrieve_status = ret
        if k.design.finish_skips_failed_retrieve:
            # nothing will restore what the failure left reserved: until the next kexec
            k.ghost_leaked.update(k.ghost_unrestored)
    return ret, None


def luo_file_finish(k: Kernel, fs: FileSet) -> int:
    """can_finish on every file (a veto: -EBUSY, nothing changes), then finish LIFO and
    restore-free the files block (``kernel/liveupdate/luo_file.c``: ``luo_file_finish``)."""
    if not fs.files:
        return 0
    for lf in fs.files:
        if not lf.handler.can_finish(lf.args()):
            return -E.EBUSY
    while fs.files:
        lf = fs.files.pop()
        lf.handler.finish(lf.args())
        if lf.file is not None and lf.retrieve_status >= 0:
            k.fput(lf.file)
    if fs.block_pfn is not None:
        k.kho.kho_restore_free(fs.block_pfn)
        fs.block_pfn = None
    return 0


def luo_file_deserialize(k: Kernel, block_pfn: int, count: int, *,
                         inject: bool = True) -> tuple[FileSet, int]:
    """Rebuild an incoming file set from the handed-over files block
    (``kernel/liveupdate/luo_file.c``: ``luo_file_deserialize``): the set and 0, or the
    files rebuilt before a record whose handler is not registered and -ENOENT (fault
    point ``deserialize_handler``, keyed by the record; ``inject=False`` reads the
    records without asking the injector)."""
    content = k.mem.frames[block_pfn].content
    records = content if isinstance(content, list) else []
    fs = FileSet(block_pfn=block_pfn)
    for rec in records[:count]:
        handler = next((h for h in k.handlers if h.compatible == rec.compatible), None)
        if handler is None or (inject and k.faults.should_fail("deserialize_handler", rec)):
            return fs, -E.ENOENT
        lf = LuoFile(token=rec.token, handler=handler, file=None,
                     serialized_data=rec.data)
        lf.ghost_expect = k.handed_over_expect.get(pfn_of(rec.data), ())
        fs.files.append(lf)
    return fs, 0


def luo_file_abort_deserialized(k: Kernel, fs: FileSet) -> None:
    """The per-file discard of a deserialized file set (``luo_file.c``:
    ``luo_file_abort_deserialized``, not in any readable copy). Design choice
    ``discard_reclaims_pages``: each file's handler finishes it as never retrieved
    (restores and frees its pages) and the files block is restore-freed; otherwise
    nothing is restored and the frames stay reserved until the next kexec."""
    if not k.design.discard_reclaims_pages:
        fs.files.clear()
        return
    while fs.files:
        lf = fs.files.pop()
        lf.handler.finish(lf.args())
    if fs.block_pfn is not None:
        k.kho.kho_restore_free(fs.block_pfn)
        fs.block_pfn = None


def shmem_of(lf: LuoFile) -> ShmemFile | None:
    return lf.file if isinstance(lf.file, ShmemFile) else None


__all__ = ["FileSet", "LuoFile", "LuoFileSer", "luo_file_abort_deserialized",
           "luo_file_deserialize", "luo_file_finish",
           "luo_file_freeze", "luo_file_unfreeze", "luo_file_unpreserve_files",
           "luo_preserve_file", "luo_retrieve_file", "phys_of", "shmem_of"]
