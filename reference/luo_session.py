"""Sessions (``kernel/liveupdate/luo_session.c``, ``struct luo_session``).

Two lists: outgoing sessions (created here, serialized at reboot in creation order) and
incoming sessions (deserialized from the previous kernel). Sessions carry the explicit
``incoming`` flag of the newest kernel (linux-mm ``luo_session.c``); 6.19 had none and used
"not retrieved" as its stand-in for "outgoing", which the release path no longer does (a
close after the N1 FINISH, which clears ``retrieved``, must not unpreserve incoming files).
The explicit flag answers as 6.19's proxy wherever 6.19 could reach the code: there an
incoming session with an fd is always retrieved.

``Kernel.incoming`` holds every incoming session object still alive: the ones on the
kernel's incoming list (``listed``) and, with the N1 lifetime, the ones FINISH unlinked
while user space still holds their fd (the object lives as long as its fd).

Instrumentation (``ghost_*``, never read by the code paths): serialized in the current
reboot attempt, a can_finish veto happened, FINISH returned 0.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from luoverify.model import errno as E
from luoverify.model.design import Design
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
    #: on the kernel's incoming list (RETRIEVE_SESSION finds only listed sessions)
    listed: bool = True
    #: 6.19, closed during reboot: unpreserved, unlink waits for the rwsem (LUO-M11)
    pending_unlink: bool = False
    ser_entry: SessionSer | None = None
    ghost_serialized: bool = False
    ghost_vetoed: bool = False
    ghost_finished: bool = False


def _field(raw: str) -> bytes:
    """The 64-byte ``name`` field user space fills from ``raw``: its UTF-8 bytes, NUL
    padded when shorter, cut at 64 bytes when longer (a string that does not encode --
    a lone surrogate -- is refused by the trace reader before it gets here)."""
    data = raw.encode("utf-8")
    return (data + bytes(LIVEUPDATE_SESSION_NAME_LENGTH))[:LIVEUPDATE_SESSION_NAME_LENGTH]


def _text(data: bytes) -> str:
    """Kernel name bytes as a ``str`` that round-trips any bytes (equal names, equal
    strings), also a multi-byte character cut in half by a truncation."""
    return data.decode("utf-8", "surrogateescape")


def session_name(raw: str, design: Design) -> str | int:
    """The name the kernel keeps for the name user space passes to CREATE_SESSION, or
    -EINVAL.

    The field holds 64 bytes (``_field``: UTF-8, so a non-ASCII character counts as the
    bytes it takes); the name is what precedes the first NUL. With no NUL in the 64 bytes
    (64 bytes or more) it is unterminated. With the LUO-M6 fix ("reject
    LIVEUPDATE_IOCTL_CREATE_SESSION with invalid name length") an empty or unterminated
    name is EINVAL; 6.19 copies it with strscpy, keeping at most 63 bytes.

    The one place the name rule is written. The model never sees a name: its names are
    classes (``new``, ``dup``, ``invalid``), because only equality matters to page
    ownership and a state holding strings would not be finite. When a hand-written trace
    gives a concrete name, ``ReferenceDriver.name_class`` classifies it with this function
    against the reference's own session list, so the model's class and the reference's
    answer come from one rule and cannot diverge on a bad name; a wrong duplicate check in
    the reference still shows up, as the model's EEXIST against the reference's answer.
    """
    field = _field(raw)
    end = field.find(0)
    if design.validate_session_name and end <= 0:
        return -E.EINVAL  # empty (NUL first) or unterminated (no NUL: end == -1)
    return _text(field[:LIVEUPDATE_SESSION_NAME_LENGTH - 1] if end < 0 else field[:end])


def session_key(raw: str) -> str:
    """What RETRIEVE_SESSION compares with the names of listed sessions: the 64-byte
    field up to its first NUL (strncmp over LIVEUPDATE_SESSION_NAME_LENGTH), with no
    validation and no truncation; a kept name is at most 63 bytes, so an unterminated key
    matches nothing."""
    field = _field(raw)
    end = field.find(0)
    return _text(field if end < 0 else field[:end])


def gate_closed(k: Kernel) -> bool:
    """LUO's reboot gate (the outgoing header's ``rebooting``, LUO-M11 fix) is closed."""
    return k.design.block_mutations_in_reboot and k.rebooting


def luo_session_create(k: Kernel, raw_name: str) -> int:
    """CREATE_SESSION (``kernel/liveupdate/luo_core.c``: ``luo_ioctl_create_session`` ->
    ``luo_session.c``: ``luo_session_create``): 0, or -EINVAL (name, checked by the ioctl
    first) / -EBUSY (the reboot gate is closed) / -EEXIST."""
    name = session_name(raw_name, k.design)
    if isinstance(name, int):
        return name
    if gate_closed(k):
        return -E.EBUSY
    if k.in_reboot and not k.design.block_mutations_in_reboot:
        raise WouldBlock("create_session sleeps on the outgoing rwsem held by reboot")
    if any(s.name == name for s in k.outgoing):
        return -E.EEXIST
    if not k.design.linked_blocks and len(k.outgoing) >= LUO_SESSION_MAX:
        return -E.ENOMEM
    k.outgoing.append(LuoSession(name=name, incoming=False, fd_open=True))
    return 0


def luo_session_retrieve(k: Kernel, raw_name: str) -> tuple[int, LuoSession | None]:
    """RETRIEVE_SESSION (``kernel/liveupdate/luo_session.c``: ``luo_session_retrieve``):
    ENOENT for a name not on the incoming list, EINVAL already retrieved."""
    key = session_key(raw_name)
    s = next((s for s in k.incoming if s.listed and s.name == key), None)
    if s is None:
        return -E.ENOENT, None
    if s.retrieved:
        return -E.EINVAL, None
    s.retrieved = True
    s.fd_open = True
    s.ghost_finished = False
    return 0, s


def luo_session_preserve_fd(k: Kernel, s: LuoSession, fd: int, token: int) -> int:
    if k.design.checks_kind("preserve") and s.incoming:
        return -E.EINVAL
    if gate_closed(k):
        return -E.EBUSY
    return lf_.luo_preserve_file(k, s.file_set, token, fd)


def _unretrieved(k: Kernel, s: LuoSession) -> bool:
    """An incoming session whose fd is held but which is not retrieved (finished with the
    N1 lifetime, or relisted by the LUO-M20 mutant): ``luo_session_retrieve_fd`` and
    ``luo_session_finish_retrieved`` refuse it with EINVAL."""
    return s.incoming and not s.retrieved and k.design.finish_unlinks_session


def luo_session_retrieve_fd(k: Kernel, s: LuoSession, token: int) -> tuple[int, object]:
    if k.design.checks_kind("retrieve") and not s.incoming:
        return -E.EINVAL, None
    if _unretrieved(k, s):
        return -E.EINVAL, None
    return lf_.luo_retrieve_file(k, s.file_set, token)


def luo_session_finish(k: Kernel, s: LuoSession) -> int:
    """SESSION_FINISH (``kernel/liveupdate/luo_session.c``: ``luo_session_finish``):
    -EINVAL on an outgoing session with the LUO-M7 fix, and on a session no longer
    retrieved. With the N1 lifetime a successful FINISH unlinks the session from the
    incoming list and clears ``retrieved`` (the LUO-M20 mutant leaves it listed)."""
    if k.design.checks_kind("finish") and not s.incoming:
        return -E.EINVAL
    if _unretrieved(k, s):
        return -E.EINVAL
    had_files = bool(s.file_set.files)
    ret = lf_.luo_file_finish(k, s.file_set)
    if ret == -E.EBUSY and had_files:
        s.ghost_vetoed = True
    if ret == 0 and s.retrieved:
        s.ghost_finished = True
        if k.design.finish_unlinks_session:
            s.retrieved = False
            s.listed = not k.design.finish_unlinks_list
    return ret


def luo_session_release(k: Kernel, s: LuoSession) -> int:
    """The last close of a session fd (``kernel/liveupdate/luo_session.c``:
    ``luo_session_release``): an outgoing session unpreserves all its files (waiting while
    the reboot gate is closed); a retrieved incoming one is finished, and unlinked if that
    succeeds; an incoming one no longer retrieved is left as it is (unlinked by its FINISH,
    or still listed: LUO-M20) and dies with its fd if unlinked."""
    if not s.incoming:
        if gate_closed(k):
            raise WouldBlock("close of an outgoing session waits for the reboot outcome")
        s.fd_open = False
        lf_.luo_file_unpreserve_files(k, s.file_set)
        if k.in_reboot:
            s.pending_unlink = True  # 6.19: unlink sleeps on the rwsem (LUO-M11)
        else:
            k.outgoing.remove(s)
        return 0
    s.fd_open = False
    if not s.retrieved:
        if not s.listed:
            k.incoming.remove(s)  # the last reference: the unlinked session is freed
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
    """Unfreeze a session serialized in this attempt (``luo_session_unfreeze_one``): its
    files in preservation order, its entry zeroed. Serialization's rollback calls it for
    sessions newest first, ``luo_session_abort_reboot`` in creation order."""
    lf_.luo_file_unfreeze(k, s.file_set)
    s.ser_entry = None
    s.ghost_serialized = False
