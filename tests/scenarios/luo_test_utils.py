"""Helpers of ``tools/testing/selftests/liveupdate/luo_test_utils.c``, on the reference
implementation (reference): the same names and the same behaviour, returning the
kernel's ``-errno`` where the C helpers fail the test."""

from __future__ import annotations

from luoverify.model import errno as E
from luoverify.model.design import PROFILES
from luoverify.reference import Kernel, Machine
from luoverify.reference.page_alloc import RESERVED

#: Both profiles: the 6.19 selftests run under the kernel they shipped with and under
#: upstream; later tests run under upstream and show where 6.19 answers differently.
DESIGNS = ("v6.19", "upstream")


def boot(design: str, pages: int = 64) -> Machine:
    """A cold-booted machine with LUO enabled (liveupdate=1, KHO on)."""
    return Machine(PROFILES[design], pages)


def luo_open_device(k: Kernel) -> int:
    return k.open_liveupdate()


def luo_create_session(k: Kernel, devfd: int, name: str) -> int:
    """The helper copies at most 63 characters into the 64-byte name field."""
    return k.ioctl_create_session(devfd, name[:63])


def luo_retrieve_session(k: Kernel, devfd: int, name: str) -> int:
    return k.ioctl_retrieve_session(devfd, name[:63])


def create_and_preserve_memfd(k: Kernel, sfd: int, token: int, data: bytes) -> int:
    """memfd_create, ftruncate to one page, write ``data``, PRESERVE_FD, close the memfd."""
    fd = k.memfd_create()
    for ret in (k.ftruncate(fd, 1), k.memfd_write(fd, data),
                k.ioctl_preserve_fd(sfd, fd, token)):
        if ret < 0:
            k.close(fd)
            return ret
    k.close(fd)
    return 0


def restore_and_verify_memfd(k: Kernel, sfd: int, token: int, data: bytes) -> int:
    """RETRIEVE_FD, read the memfd, compare with ``data``; -EIO on a mismatch."""
    fd = k.ioctl_retrieve_fd(sfd, token)
    if fd < 0:
        return fd
    got = k.memfd_read(fd)
    k.close(fd)
    return 0 if got == data else -E.EIO


def create_state_file(k: Kernel, devfd: int, name: str, token: int, next_stage: int) -> int:
    """A "state" session holding a memfd with the next stage number; its fd stays open."""
    sfd = luo_create_session(k, devfd, name)
    assert sfd >= 0, sfd
    assert create_and_preserve_memfd(k, sfd, token, str(next_stage).encode()) == 0
    return sfd


def reserved_frames(k: Kernel) -> list[int]:
    """Frames the running kernel still keeps memblock-reserved for KHO (never restored)."""
    return [m for m, meta in enumerate(k.alloc.meta) if meta.owner == RESERVED]
