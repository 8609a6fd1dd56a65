"""Run model actions on the reference implementation (the model's vocabulary -> kernel
calls with concrete names, tokens and fds).

The model names sessions by list position, files by position in their session, memfds by
slot, and abstracts names and tokens to "new" / "dup" / "unknown". The driver picks
concrete values: fresh names ``session-N`` and tokens ``0x1000+N``, the name of outgoing
session 0 for a duplicate, the first file's token for a duplicate token, an fd that was
never opened for ``fd=closed``, and a fresh /dev/null fd for ``fd=devnull``. It holds the
one user-space process's /dev/liveupdate fd and the memfd slot table, and arms the fault
injector for an action's ``fault`` argument.
"""

from __future__ import annotations

from collections.abc import Callable

from luoverify.model.bounds import Bounds
from luoverify.model.core import Action
from luoverify.model.design import Design
from luoverify.model.state import State
from luoverify.reference import abstraction
from luoverify.reference import luo_session as ls
from luoverify.reference.kexec_handover import Event
from luoverify.reference.luo_core import Kernel, Machine, SessionFile
from luoverify.reference.luo_session import LuoSession
from luoverify.reference.memfd_luo import ShmemFile

UNKNOWN_TOKEN = 0xDEAD_BEEF
NEVER_OPENED_FD = 1_000_000


class NotCallable(Exception):
    """The action cannot be issued in the reference's current state."""


class ReferenceDriver:
    """Runs the model's actions on the session-based reference kernel."""

    #: the kernel every boot of the driven machine runs
    kernel_class: type[Kernel] = Kernel

    def __init__(self, design: Design, bounds: Bounds) -> None:
        self.design = design
        self.bounds = bounds
        self.machine = Machine(design, bounds.pages, scratch=bounds.scratch,
                               faults=bounds.faults, max_kexecs=bounds.kexecs,
                               kernel_class=self.kernel_class)
        self.slots: list[ShmemFile | None] = [None] * bounds.memfds
        self.counter = 0
        #: user space's /dev/liveupdate fd, -1 while closed (every boot opens it first)
        self.devfd = self.kernel.open_liveupdate()
        self._raw_name: str | None = None

    @property
    def kernel(self) -> Kernel:
        return self.machine.kernel

    def abstract(self) -> State:
        return abstraction.abstract(self.kernel, self.machine.kexecs,
                                    self.machine.faults.budget, self.slots)

    def census(self, pfn: int) -> list[str]:
        return abstraction.census(self.kernel, pfn, self.slots)

    # ------------------------------------------------------------ helpers
    def _fresh(self) -> int:
        self.counter += 1
        return self.counter

    def _session(self, lst: object, i: object) -> LuoSession:
        sessions = self.kernel.outgoing if lst == "out" else self.kernel.incoming
        if not isinstance(i, int) or not 0 <= i < len(sessions):
            raise NotCallable(f"no {'outgoing' if lst == 'out' else 'incoming'} session {i}")
        return sessions[i]

    def _sfd(self, s: LuoSession) -> int:
        for fd, f in self.kernel.user.fds.items():
            if isinstance(f, SessionFile) and f.session is s:
                return fd
        raise NotCallable(f"session {s.name!r} has no open fd")

    def _memfd(self, m: object) -> ShmemFile:
        if not isinstance(m, int) or not 0 <= m < len(self.slots) or self.slots[m] is None:
            raise NotCallable(f"memfd slot {m} is empty")
        f = self.slots[m]
        assert f is not None
        return f

    def _user_fd(self, f: ShmemFile) -> int:
        fds = self.kernel.user.fds_of(f)
        if not fds:
            raise NotCallable("user space holds no fd of that memfd")
        return fds[0]

    def _place(self, f: ShmemFile) -> None:
        if any(x is f for x in self.slots):
            return
        if None not in self.slots:
            raise NotCallable("no free memfd slot at these bounds")
        self.slots[self.slots.index(None)] = f

    def _sync_slots(self) -> None:
        """A slot empties when its file is released (no reference left). A file whose
        last reference leaked (6.19, LUO-M7) stays, as the model keeps it."""
        self.slots = [f if f is not None and f.refs > 0 else None for f in self.slots]

    # ------------------------------------------------------------ one action
    def apply(self, action: Action) -> tuple[int, tuple[Event, ...]]:
        """Issue ``action``; the return value user space saw and the events observed."""
        k = self.kernel
        start = len(k.events)
        handler = getattr(self, "_do_" + action.name, None)
        if handler is None:
            raise NotCallable(f"unknown action {action.name!r}")
        try:
            ret: int = handler(**{a: v for a, v in action.args})
        finally:
            self.machine.faults.disarm_all()
        events = tuple(k.events[start:])
        if self.kernel is not k:  # the jump: a new kernel, new user space
            self._after_jump()
        else:
            self._sync_slots()
        return ret, events

    def _after_jump(self) -> None:
        """A new kernel, new user space: no memfd, /dev/liveupdate not open (its first
        open deserializes the incoming sessions)."""
        self.slots = [None] * len(self.slots)
        self.devfd = -1

    # ------------------------------------------------------------ concrete names
    #: the class words of create_session's name argument; any other string in a
    #: hand-written trace is a concrete name
    NAME_CLASSES = ("new", "dup", "invalid")

    def name_class(self, call: str, raw: str) -> str | int:
        """The model's argument for a concrete session name a hand-written trace gives:
        for ``create_session`` the class ``invalid`` / ``dup`` / ``new``, for
        ``retrieve_session`` the position of the listed incoming session of that name or
        ``unknown``. Classified with the kernel's own rule
        (``luo_session.session_name``, ``session_key``) against the reference's current
        lists; the
        concrete name is then what the reference is called with (see
        :meth:`use_name`)."""
        k = self.kernel
        if call == "create_session":
            name = ls.session_name(raw, self.design)
            if isinstance(name, int):
                return "invalid"
            return "dup" if any(s.name == name for s in k.outgoing) else "new"
        key = ls.session_key(raw)
        for i, s in enumerate(k.incoming):
            if s.listed and s.name == key:
                return i
        return "unknown"

    def use_name(self, raw: str) -> None:
        """The next create_session / retrieve_session passes ``raw`` itself."""
        self._raw_name = raw

    @staticmethod
    def _status(ret: int) -> int:
        return 0 if ret >= 0 else ret

    def _do_memfd_create(self, size: int, scratch: int) -> int:
        k = self.kernel
        if None not in self.slots:
            raise NotCallable("no free memfd slot at these bounds")
        fd = k.memfd_create()
        k.ftruncate(fd, size)
        ret = k.memfd_write(fd, abstraction.DATA_A, first_in_scratch=bool(scratch))
        if ret:
            k.close(fd)
            return ret
        f = k.user.fget(fd)
        assert isinstance(f, ShmemFile)
        self._place(f)
        return 0

    def _do_memfd_write(self, memfd: int) -> int:
        f = self._memfd(memfd)
        return self.kernel.memfd_write(self._user_fd(f), abstraction.DATA_B)

    def _do_close_memfd(self, memfd: int) -> int:
        f = self._memfd(memfd)
        fds = self.kernel.user.fds_of(f)
        if not fds:
            raise NotCallable(f"user space holds no fd of memfd slot {memfd}")
        for fd in fds:
            self.kernel.close(fd)
        return 0

    def _do_alloc_pages(self, page: int) -> int:
        self.kernel.other_alloc(page)
        return 0

    def _do_free_pages(self, page: int) -> int:
        if not self.kernel.alloc.meta[page].owner.startswith("other"):
            raise NotCallable(f"page {page} is not held by another kernel user")
        self.kernel.other_free(page)
        return 0

    def _take_name(self) -> str | None:
        raw, self._raw_name = self._raw_name, None
        return raw

    def _dev(self) -> int:
        if self.devfd < 0:
            raise NotCallable("user space does not hold /dev/liveupdate open")
        return self.devfd

    def _do_open_device(self, fault: str | None = None) -> int:
        if fault is not None:
            self._arm_deserialize(fault)
        ret = self.kernel.open_liveupdate()
        if ret >= 0:
            self.devfd = ret
        return self._status(ret)

    def _do_close_device(self) -> int:
        ret = self.kernel.close(self._dev())
        self.devfd = -1
        return ret

    def _do_create_session(self, name: str) -> int:
        k = self.kernel
        concrete = self._take_name()  # a hand-written trace's own name, else one by class
        if concrete is None:
            if name == "dup":
                if not k.outgoing:
                    raise NotCallable("no outgoing session to duplicate")
                concrete = k.outgoing[0].name
            elif name == "invalid":
                concrete = ""
            else:
                concrete = f"session-{self._fresh()}"
        return self._status(k.ioctl_create_session(self._dev(), concrete))

    def _do_retrieve_session(self, session: int | str) -> int:
        name = self._take_name()
        if name is None:
            name = ("no-such-session" if session == "unknown"
                    else self._session("in", session).name)
        return self._status(self.kernel.ioctl_retrieve_session(self._dev(), name))

    def _do_preserve_fd(self, list: str, session: int, fd: int | str, token: str = "new",
                        fault: str | None = None) -> int:
        k = self.kernel
        s = self._session(list, session)
        sfd = self._sfd(s)
        if token == "dup":
            if not s.file_set.files:
                raise NotCallable("no token to duplicate")
            concrete_token = s.file_set.files[0].token
        else:
            concrete_token = 0x1000 + self._fresh()
        if fault is not None:
            self.machine.faults.arm(f"preserve:{fault}")
        return self._with_fd(fd, lambda ufd: k.ioctl_preserve_fd(sfd, ufd, concrete_token))

    def _with_fd(self, fd: int | str, call: Callable[[int], int]) -> int:
        """Call ``call`` with the user fd the model's ``fd`` stands for: a memfd slot's
        fd, a never-opened fd (``closed``; ``any``: the token check fails first), or a
        fresh /dev/null fd closed again afterwards."""
        k = self.kernel
        if fd in ("closed", "any"):
            return call(NEVER_OPENED_FD)
        if fd == "devnull":
            nfd = k.open_devnull()
            ret = call(nfd)
            k.close(nfd)
            return ret
        return call(self._user_fd(self._memfd(fd)))

    def _do_retrieve_fd(self, list: str, session: int, file: int | str,
                        fault: str | None) -> int:
        k = self.kernel
        s = self._session(list, session)
        sfd = self._sfd(s)
        if file == "unknown":
            token = UNKNOWN_TOKEN
        else:
            if not isinstance(file, int) or not 0 <= file < len(s.file_set.files):
                raise NotCallable(f"session {session} has no file {file}")
            token = s.file_set.files[file].token
        if fault is not None:
            self.machine.faults.arm(f"retrieve:{fault}")
        if None not in self.slots and file != "unknown":
            lf = s.file_set.files[file]  # type: ignore[index]
            if lf.retrieve_status == 0 and not (
                    self.design.checks_kind("retrieve") and not s.incoming):
                raise NotCallable("no free memfd slot for the retrieved file")
        return self._placed(k.ioctl_retrieve_fd(sfd, token))

    def _placed(self, ret: int) -> int:
        """A retrieve's result: an fd of a memfd, which takes a slot, or -errno."""
        if ret < 0:
            return ret
        f = self.kernel.user.fget(ret)
        assert isinstance(f, ShmemFile)
        self._place(f)
        return 0

    def _do_finish(self, list: str, session: int, fault: str | None) -> int:
        s = self._session(list, session)
        if fault is not None:
            self.machine.faults.arm("can_finish")
        return self.kernel.ioctl_finish(self._sfd(s))

    def _do_close_session(self, list: str, session: int, fault: str | None) -> int:
        s = self._session(list, session)
        if fault is not None:
            self.machine.faults.arm("can_finish")
        return self.kernel.close(self._sfd(s))

    def _arm_deserialize(self, fault: str) -> None:
        """``alloc:i`` / ``corrupt:i``: session record i; ``handler:i.j``: file record j of
        session record i (records in serialized order, before deserialization)."""
        k = self.kernel
        kind, _, where = fault.partition(":")
        i, _, j = where.partition(".")
        if k.deserialized or kind not in ("alloc", "corrupt", "handler"):
            raise NotCallable(f"open_device fault {fault!r}: nothing to deserialize")
        try:
            entry = k.handover_sessions[int(i)]
            if kind != "handler":
                k.faults.arm(f"deserialize_{kind}", entry)
                return
            assert entry.block_pfn is not None
            records = k.mem.frames[entry.block_pfn].content
            assert isinstance(records, list)
            k.faults.arm("deserialize_handler", records[:entry.count][int(j)])
        except (ValueError, IndexError, AssertionError) as exc:
            raise NotCallable(f"open_device fault {fault!r}: no such record") from exc

    def _arm_freeze(self, session: int, file: int) -> None:
        s = self._session("out", session)
        if not 0 <= file < len(s.file_set.files):
            raise NotCallable(f"outgoing session {session} has no file {file}")
        self.machine.faults.arm("freeze", s.file_set.files[file].private_data)

    def _do_reboot(self, fault: str | None = None, image: str | None = None) -> int:
        k = self.kernel
        if fault == "alloc":
            self.machine.faults.arm("serialize_alloc")
        if fault == "unwind":
            self.machine.faults.arm("kexec_unwind")
        pc = image == "preserve_context"
        if self.bounds.reboot == "interleaved":
            return k.reboot(preserve_context=True) if pc else k.liveupdate_reboot_begin()
        if fault is not None and fault.startswith("freeze:"):
            sess, fil = fault[len("freeze:"):].split(".")
            self._arm_freeze(int(sess), int(fil))
        if fault == "finalize":
            self.machine.faults.arm("finalize")
        return k.reboot(preserve_context=pc)

    def _do_luo_session_serialize(self, session: int, fault: str | None) -> int:
        k = self.kernel
        if k.phase != "SERIALIZING" or k.serialize_cursor() != session:
            raise NotCallable(f"serialization is not at outgoing session {session}")
        if fault is not None:
            self._arm_freeze(session, int(fault.split(":")[1]))
        return k.luo_session_serialize_next()

    def _do_kho_finalize(self, fault: str | None) -> int:
        k = self.kernel
        if k.phase != "FINALIZE":
            raise NotCallable("kho_finalize runs after every session is serialized")
        if fault is not None:
            self.machine.faults.arm("finalize")
        return k.kho_finalize_step()

    def _do_kernel_kexec(self, fault: str | None = None, image: str | None = None) -> int:
        if self.kernel.phase != "READY":
            raise NotCallable("kernel_kexec runs after liveupdate_reboot() succeeded")
        if fault == "unwind":
            self.machine.faults.arm("kexec_unwind")
        return self.kernel.kernel_kexec(preserve_context=image == "preserve_context")
