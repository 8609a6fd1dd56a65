"""Sessions (``kernel/liveupdate/luo_session.c``, ``struct luo_session``).

Two lists: outgoing sessions (created here, serialized at reboot in creation order) and
incoming sessions (deserialized from the previous kernel). 6.19 keeps no kind flag and uses
``retrieved`` as its proxy; this implementation keeps the explicit ``incoming`` flag of
later kernels but consults it only where the design checks the kind (LUO-M7 fix), so in
``v6.19`` the kernel's proxy behaviour is what runs.

Instrumentation (``ghost_*``, never read by the code paths): serialized in the current
reboot attempt, a can_finish veto happened, FINISH returned 0.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from luoverify.model import errno as E
from luoverify.reference import luo_file as lf_
from luoverify.reference.luo_file import FileSet

if TYPE_CHECKING:
    from luoverify.reference.luo_core import Kernel

LIVEUPDATE_SESSION_NAME_LENGTH = 64
#: (16 pages - 8-byte header) / sizeof(luo_session_ser) with 4 KiB pages
#: (``kernel/liveupdate/luo_session.c``: ``LUO_SESSION_MAX``, checked in luo_session_insert)
LUO_SESSION_MAX = 819


class WouldBlock(Exception):
    """The call sleeps (on the outgoing rwsem held by reboot) and does not return in this
    interleaving."""


@dataclass
class SessionSer:
    """``struct luo_session_ser``: written into the session block at serialization."""

    name: str
    count: int
    block_pfn: int | None


@dataclass(eq=False)
class LuoSession:
    name: str
    incoming: bool
    file_set: FileSet = field(default_factory=FileSet)
    retrieved: bool = False
    fd_open: bool = False
    #: 6.19, closed during reboot: unpreserved, unlink waits for the rwsem (LUO-M11)
    pending_unlink: bool = False
    ser_entry: SessionSer | None = None
    ghost_serialized: bool = False
    ghost_vetoed: bool = False
    ghost_finished: bool = False


def luo_session_create(k: Kernel, name: str) -> int:
    """CREATE_SESSION (``kernel/liveupdate/luo_session.c``: ``luo_session_create``): 0, or
    -EEXIST / -EBUSY (reboot, fix) / -EINVAL (name)."""
    if k.in_reboot:
        if k.design.block_mutations_in_reboot:
            return -E.EBUSY
        raise WouldBlock("create_session sleeps on the outgoing rwsem held by reboot")
    if k.design.validate_session_name and (
            not name or len(name) >= LIVEUPDATE_SESSION_NAME_LENGTH):
        return -E.EINVAL  # later kernels (LUO-M8 fix); 6.19 truncates silently
    name = name[:LIVEUPDATE_SESSION_NAME_LENGTH - 1]
    if any(s.name == name for s in k.outgoing):
        return -E.EEXIST
    if not k.design.linked_blocks and len(k.outgoing) >= LUO_SESSION_MAX:
        return -E.ENOMEM
    k.outgoing.append(LuoSession(name=name, incoming=False, fd_open=True))
    return 0


def luo_session_retrieve(k: Kernel, name: str) -> tuple[int, LuoSession | None]:
    """RETRIEVE_SESSION (``kernel/liveupdate/luo_session.c``: ``luo_session_retrieve``):
    ENOENT unknown, EINVAL already retrieved."""
    s = next((s for s in k.incoming if s.name == name), None)
    if s is None:
        return -E.ENOENT, None
    if s.retrieved:
        return -E.EINVAL, None
    s.retrieved = True
    s.fd_open = True
    return 0, s


def luo_session_preserve_fd(k: Kernel, s: LuoSession, fd: int, token: int) -> int:
    if k.design.checks_kind("preserve") and s.incoming:
        return -E.EINVAL
    if k.in_reboot and k.design.block_mutations_in_reboot:
        return -E.EBUSY
    return lf_.luo_preserve_file(k, s.file_set, token, fd)


def luo_session_retrieve_fd(k: Kernel, s: LuoSession, token: int) -> tuple[int, object]:
    if k.design.checks_kind("retrieve") and not s.incoming:
        return -E.EINVAL, None
    return lf_.luo_retrieve_file(k, s.file_set, token)


def luo_session_finish(k: Kernel, s: LuoSession) -> int:
    """SESSION_FINISH (``kernel/liveupdate/luo_session.c``: ``luo_session_finish``);
    -EINVAL on an outgoing session with the LUO-M7 fix."""
    if k.design.checks_kind("finish") and not s.incoming:
        return -E.EINVAL
    had_files = bool(s.file_set.files)
    ret = lf_.luo_file_finish(k, s.file_set)
    if ret == -E.EBUSY and had_files:
        s.ghost_vetoed = True
    if ret == 0 and s.retrieved:
        s.ghost_finished = True
    return ret


def luo_session_release(k: Kernel, s: LuoSession) -> int:
    """The last close of a session fd (``kernel/liveupdate/luo_session.c``:
    ``luo_session_release``: unpreserve all if outgoing, finish if retrieved)."""
    s.fd_open = False
    if not s.retrieved:  # 6.19's proxy for "outgoing"
        if k.in_reboot and k.design.block_mutations_in_reboot:
            raise WouldBlock("close of an outgoing session waits for the reboot outcome")
        lf_.luo_file_unpreserve_files(k, s.file_set)
        if k.in_reboot:
            s.pending_unlink = True  # 6.19: unlink sleeps on the rwsem (LUO-M11)
        else:
            k.outgoing.remove(s)
        return 0
    had_files = bool(s.file_set.files)
    ret = lf_.luo_file_finish(k, s.file_set)
    if ret == 0:
        k.incoming.remove(s)
        return 0
    if had_files:
        s.ghost_vetoed = True
    if k.design.retrievable_after_vetoed_close:
        s.retrieved = False  # later luo_session_release (linux-mm): retrievable again
    return ret  # the VFS ignores release()'s error


def luo_session_serialize_one(k: Kernel, s: LuoSession) -> int:
    """One iteration of luo_session_serialize(): freeze the session, write its entry."""
    ret, _records = lf_.luo_file_freeze(k, s.file_set)
    if ret:
        s.ser_entry = None
        return ret
    fs = s.file_set
    if fs.files:
        s.ser_entry = SessionSer(s.name, len(fs.files), fs.block_pfn)
    else:
        s.ser_entry = SessionSer(s.name, 0, None)  # file_set_ser left untouched
    s.ghost_serialized = True
    return 0


def luo_session_unfreeze(k: Kernel, s: LuoSession) -> None:
    """Rollback of a session serialized earlier in this attempt: unfreeze its files,
    zero its entry."""
    lf_.luo_file_unfreeze(k, s.file_set)
    s.ser_entry = None
    s.ghost_serialized = False
