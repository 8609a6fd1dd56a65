"""The refinement mapping: a reference-implementation state -> a model state.

``abstract`` reads only what the reference holds (allocator metadata, KHO tracker and
stamps, session lists, luo_file records, the content of frames) plus the driver's table of
memfd slots (the model names memfds by slot, user space by fd: the table is the witness of
the mapping). ``census`` lists, for one frame, every party in the reference that holds or
names it: how a violation is shown on concrete page frames.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from luoverify.model import state as st
from luoverify.reference.luo_core import FOREIGN_DATA, Kernel
from luoverify.reference.luo_file import FileSet, LuoFile
from luoverify.reference.luo_session import LuoSession, SessionSer
from luoverify.reference.memfd_luo import MemfdLuoSer, MemfdPrivate, ShmemFile, pfn_of
from luoverify.reference.page_alloc import EARLY_BOOT_SCRIBBLE, FREE, RESERVED

#: What the trace driver writes into memfds (the model's content tags A and B).
DATA_A = b"memfd data A"
DATA_B = b"memfd data B"


def content_tag(content: Any) -> int:
    if content == DATA_A:
        return st.DATA_A
    if content == DATA_B:
        return st.DATA_B
    if content == FOREIGN_DATA:
        return st.FOREIGN
    if content == EARLY_BOOT_SCRIBBLE:
        return st.JUNK
    return st.ZERO  # zeroes, or LUO / memfd metadata (the model keeps that elsewhere)


def _ser_folios(k: Kernel, serialized_data: int) -> tuple[int, ...]:
    if not serialized_data:
        return ()
    content = k.mem.frames[pfn_of(serialized_data)].content
    if isinstance(content, MemfdLuoSer):
        return tuple(p for p, _i in content.folios)
    return ()


def _file(k: Kernel, lf: LuoFile, slot_of: dict[int, int]) -> tuple[Any, ...]:
    if lf.retrieve_status > 0:
        state = st.F_OK
    elif lf.retrieve_status < 0:
        state = st.FAILED_WITH[-lf.retrieve_status]
    elif lf.file is None:
        state = st.F_NEW
    else:
        state = st.FROZEN if lf.ghost_frozen else st.PRESERVED
    memfd = slot_of.get(id(lf.file), st.NONE) if lf.file is not None else st.NONE
    folios: tuple[int, ...]
    if state == st.F_OK:
        ser, folios = st.NONE, ()
    elif state in st.RETRIEVE_FAILED and k.design.finish_skips_failed_retrieve:
        ser, folios = st.NONE, ()  # nothing reads a failed file's data again
    elif state in (st.F_NEW, *st.RETRIEVE_FAILED):
        # (the LUO-M4f mutant's finish reads a failed file's handle again, and the freed
        # ser it names: model/luo.py Kernel.do_retrieve_fd keeps both names there)
        ser = pfn_of(lf.serialized_data) if lf.serialized_data else st.NONE
        folios = _ser_folios(k, lf.serialized_data)
    else:
        priv = lf.private_data
        assert isinstance(priv, MemfdPrivate)
        ser, folios = priv.ser_pfn, tuple(priv.folios)
    return (state, memfd, ser, folios, 1 if lf.serialized_data else 0,
            1 if lf.ghost_retrieve_calls else 0,
            tuple(content_tag(c) for c in lf.ghost_expect))


def _status(s: LuoSession) -> int:
    if not s.incoming:
        return st.OUT_CLOSING if s.pending_unlink else st.OUT_OPEN
    if not s.retrieved and s.fd_open:  # finished with the N1 lifetime
        return st.IN_RELISTED if s.listed else st.IN_FINISHED
    if not s.retrieved:
        return st.IN_NEW
    if not s.fd_open:
        return st.IN_STUCK
    return st.IN_FINISHED if s.ghost_finished else st.IN_RETRIEVED


def _snap(k: Kernel, s: LuoSession) -> Any:
    entry = s.ser_entry
    if s.incoming or entry is None or not entry.count or entry.block_pfn is None:
        return None
    content = k.mem.frames[entry.block_pfn].content
    records = content if isinstance(content, list) else []
    return (entry.block_pfn, tuple(
        (pfn_of(r.data) if r.data else st.NONE, _ser_folios(k, r.data), 1 if r.data else 0)
        for r in records))


def _session(k: Kernel, s: LuoSession, slot_of: dict[int, int]) -> tuple[Any, ...]:
    fs = s.file_set
    return (_status(s), st.NONE if fs.block_pfn is None else fs.block_pfn,
            1 if s.ghost_serialized else 0, 1 if s.ghost_vetoed else 0,
            tuple(_file(k, lf, slot_of) for lf in fs.files), _snap(k, s))


PHASES = {"RUNNING": st.RUNNING, "SERIALIZING": st.SERIALIZING, "FINALIZE": st.FINALIZE,
          "READY": st.READY}


def abstract(k: Kernel, kexecs: int, faults_left: int,
             slots: Sequence[ShmemFile | None]) -> st.State:
    """The model state this reference state refines."""
    slot_of = {id(f): i for i, f in enumerate(slots) if f is not None}
    memfds, pages = memory(k, slots)
    if k.deserialized:
        incs = tuple(_session(k, s, slot_of) for s in k.incoming)
    else:  # the records as handed over, which the first open will read, in order
        incs = tuple(_session(k, _pending(e, fs), slot_of)
                     for e, fs in zip(k.handover_sessions, k.ghost_handed_over, strict=True))
    return ((kexecs, PHASES[k.phase], faults_left, int(k.rebooting), int(k.device_in_use),
             _deser(k)),
            tuple(_session(k, s, slot_of) for s in k.outgoing), incs, memfds, pages)


def _pending(entry: SessionSer, handed: FileSet | None) -> LuoSession:
    s = LuoSession(name=entry.name, incoming=True)
    if handed is not None:
        s.file_set = FileSet(block_pfn=handed.block_pfn, files=list(handed.files))
    return s


def _deser(k: Kernel) -> int:
    if not k.deserialized:
        return st.DESER_PENDING
    if k.deserialize_err:
        return st.DESER_FAILED
    return st.DESER_SWALLOWED if k.ghost_deser_swallowed else st.DESER_DONE


def memory(k: Kernel, slots: Sequence[ShmemFile | None]
           ) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
    """The model's memfd slots and pages (shared by both designs' mappings)."""
    memfds = tuple(None if f is None else
                   (1 if k.user.fds_of(f) else 0, tuple(f.folios)) for f in slots)
    pages = []
    for frame, meta in zip(k.mem.frames, k.alloc.meta, strict=True):
        if meta.owner == FREE:
            owner = st.FREE
        elif meta.owner == RESERVED:
            owner = st.LEAKED if frame.pfn in k.ghost_leaked else st.RESV
        elif meta.owner.startswith("other"):
            owner = st.OTHER
        else:
            owner = st.ALLOC
        # a free frame reads as zeroes to whoever allocates it next (init_on_free, and the
        # next kernel's free memory), whatever the hardware still holds
        tag = st.ZERO if owner == st.FREE else content_tag(frame.content)
        pages.append((owner, 1 if frame.pfn in k.kho.tracker else 0,
                      1 if meta.kho_stamp else 0, tag,
                      1 if frame.scratch else 0))
    return memfds, tuple(pages)


def census(k: Kernel, pfn: int, slots: Sequence[ShmemFile | None]) -> list[str]:
    """Every party in the reference that holds or names frame ``pfn``."""
    meta, frame = k.alloc.meta[pfn], k.mem.frames[pfn]
    out = [f"allocator: {meta.owner}" + (", KHO stamp" if meta.kho_stamp else "")
           + (", KHO-tracked" if pfn in k.kho.tracker else "")
           + (", scratch" if frame.scratch else "")]
    for i, f in enumerate(slots):
        if f is not None and pfn in f.folios:
            out.append(f"memfd slot {i}: folio {f.folios.index(pfn)}")
    for kind, lst in (("outgoing", k.outgoing), ("incoming", k.incoming)):
        for si, s in enumerate(lst):
            if s.file_set.block_pfn == pfn:
                out.append(f"{kind} session {si} {s.name!r}: files block")
            if s.ser_entry is not None and s.ser_entry.block_pfn == pfn:
                out.append(f"{kind} session {si} {s.name!r}: serialized files block")
            for fi, lf in enumerate(s.file_set.files):
                if lf.serialized_data and pfn_of(lf.serialized_data) == pfn:
                    out.append(f"{kind} session {si} file {fi} (token {lf.token:#x}): "
                               "memfd_luo_ser")
                if pfn in _ser_folios(k, lf.serialized_data):
                    out.append(f"{kind} session {si} file {fi} (token {lf.token:#x}): "
                               "serialized folio")
    for si, (e, fs) in enumerate(zip(k.handover_sessions, k.ghost_handed_over, strict=True)):
        if e.block_pfn == pfn:
            out.append(f"handed-over record of session {si} {e.name!r} (not yet "
                       "deserialized): files block")
        for fi, lf in enumerate(fs.files if fs is not None else ()):
            if lf.serialized_data and pfn_of(lf.serialized_data) == pfn:
                out.append(f"handed-over record of session {si} file {fi}: memfd_luo_ser")
    if pfn in k.ghost_leaked:
        out.append("left reserved by a failed deserialization until the next kexec")
    return out
