"""The two-stage kexec selftests (``luo_kexec_simple.c``, ``luo_multi_session.c``,
``luo_stress_sessions.c``, ``luo_stress_files.c``) on the reference implementation.

Stage 1 runs in the first kernel and ends in ``reboot(LINUX_REBOOT_CMD_KEXEC)`` with the
session fds held (the selftests daemonize a child that holds them); stage 2 runs in the
kernel the machine jumped to. The stage is told apart as the selftests do: retrieving the
"state" session gives ENOENT in stage 1 and succeeds in stage 2.
"""

from __future__ import annotations

import pytest

from luoverify.model import errno as E
from luoverify.model.design import PROFILES
from luoverify.reference import Machine
from tests.scenarios.luo_test_utils import (
    DESIGNS,
    boot,
    create_and_preserve_memfd,
    create_state_file,
    luo_create_session,
    luo_open_device,
    luo_retrieve_session,
    reserved_frames,
    restore_and_verify_memfd,
)


def _stage(m: Machine, state_name: str) -> int:
    k = m.kernel
    dev = luo_open_device(k)
    sfd = luo_retrieve_session(k, dev, state_name)
    k.close(dev)
    if sfd == -E.ENOENT:
        return 1
    assert sfd >= 0
    return 2


@pytest.mark.parametrize("design", DESIGNS)
def test_luo_kexec_simple(design: str) -> None:
    """Verifies that a memfd preserved in a session survives kexec with its data, and
    that finishing every session leaves no page reserved in the new kernel."""
    m = boot(design)
    k = m.kernel
    assert _stage(m, "kexec_simple_state") == 1
    dev = luo_open_device(k)
    create_state_file(k, dev, "kexec_simple_state", 999, 2)
    sfd = luo_create_session(k, dev, "test-session")
    assert create_and_preserve_memfd(k, sfd, 0x1A, b"hello kexec world") == 0
    assert k.close(dev) == 0  # sessions outlive the device fd
    assert k.reboot() == 0

    k = m.kernel  # stage 2
    assert m.kexecs == 1
    dev = luo_open_device(k)
    state = luo_retrieve_session(k, dev, "kexec_simple_state")
    assert state >= 0
    assert restore_and_verify_memfd(k, state, 999, b"2") == 0
    sfd = luo_retrieve_session(k, dev, "test-session")
    assert sfd >= 0
    assert restore_and_verify_memfd(k, sfd, 0x1A, b"hello kexec world") == 0
    assert k.ioctl_finish(sfd) == 0
    assert k.close(sfd) == 0
    assert k.ioctl_finish(state) == 0
    assert k.close(state) == 0
    assert reserved_frames(k) == []
    assert k.incoming == []


@pytest.mark.parametrize("design", DESIGNS)
def test_luo_multi_session(design: str) -> None:
    """Verifies that empty and non-empty sessions all cross kexec: every memfd reads
    back its data, and FINISH succeeds on each session, the empty ones included."""
    m = boot(design)
    k = m.kernel
    dev = luo_open_device(k)
    create_state_file(k, dev, "kexec_multi_state", 998, 2)
    for name in ("multi-test-empty-1", "multi-test-empty-2"):
        assert luo_create_session(k, dev, name) >= 0
    files = {"multi-test-files-1": {0x1001: b"data for session 1 file 1"},
             "multi-test-files-2": {0x2002: b"data for session 2 file 1",
                                    0x3003: b"data for session 2 file 2"}}
    for name, memfds in files.items():
        sfd = luo_create_session(k, dev, name)
        for token, data in memfds.items():
            assert create_and_preserve_memfd(k, sfd, token, data) == 0
    assert k.reboot() == 0

    k = m.kernel
    dev = luo_open_device(k)
    fds = {name: luo_retrieve_session(k, dev, name)
           for name in ("multi-test-empty-1", "multi-test-empty-2", *files)}
    assert all(fd >= 0 for fd in fds.values())
    for name, memfds in files.items():
        for token, data in memfds.items():
            assert restore_and_verify_memfd(k, fds[name], token, data) == 0
    for fd in fds.values():
        assert k.ioctl_finish(fd) == 0
    state = luo_retrieve_session(k, dev, "kexec_multi_state")
    assert restore_and_verify_memfd(k, state, 998, b"2") == 0
    assert k.ioctl_finish(state) == 0
    for fd in [*fds.values(), state]:
        assert k.close(fd) == 0
    assert reserved_frames(k) == []


@pytest.mark.parametrize(("design", "sessions"), [("upstream", 2000), ("v6.19", 819)])
def test_luo_stress_sessions(design: str, sessions: int) -> None:
    """Verifies that 2000 sessions cross kexec and are each retrieved, finished and
    closed (6.19 holds at most 819 outgoing sessions: the next create fails ENOMEM)."""
    m = Machine(PROFILES[design], 16)
    k = m.kernel
    dev = luo_open_device(k)
    made = 0
    for i in range(2000):
        fd = luo_create_session(k, dev, f"many-test-{i}")
        if fd < 0:
            assert fd == -E.ENOMEM
            break
        made += 1
    assert made == sessions
    assert k.reboot() == 0
    k = m.kernel
    dev = luo_open_device(k)
    for i in range(made):
        fd = luo_retrieve_session(k, dev, f"many-test-{i}")
        assert fd >= 0
        assert k.ioctl_finish(fd) == 0
        assert k.close(fd) == 0
    assert k.incoming == []


@pytest.mark.parametrize("design", DESIGNS)
def test_luo_stress_files(design: str) -> None:
    """Verifies that the files of a full session cross kexec with their data (500 in
    upstream; 6.19's files block holds 128), and that FINISH releases every page."""
    m = Machine(PROFILES[design], 1100)
    k = m.kernel
    dev = luo_open_device(k)
    sfd = luo_create_session(k, dev, "many_files_session")
    count = 500 if PROFILES[design].linked_blocks else 128
    for token in range(count):
        assert create_and_preserve_memfd(k, sfd, token, f"file-data-{token}".encode()) == 0
    assert k.reboot() == 0
    k = m.kernel
    dev = luo_open_device(k)
    sfd = luo_retrieve_session(k, dev, "many_files_session")
    for token in range(count):
        assert restore_and_verify_memfd(k, sfd, token, f"file-data-{token}".encode()) == 0
    assert k.ioctl_finish(sfd) == 0
    assert k.close(sfd) == 0
    assert reserved_frames(k) == []


@pytest.mark.parametrize(("design", "retry"), [("upstream", -E.ENOMEM), ("v6.19", -E.EIO)])
def test_retrieve_failure_is_permanent(design: str, retry: int) -> None:
    """Verifies that after a failed RETRIEVE_FD, a retry returns the same errno without
    calling the handler again (7.0 fix, LUO-M4); 6.19 calls retrieve again on consumed
    data and KHO refuses the already-restored folio (-EIO)."""
    m = Machine(PROFILES[design], 16, faults=1)
    k = m.kernel
    dev = luo_open_device(k)
    sfd = luo_create_session(k, dev, "retrieve-fail")
    assert create_and_preserve_memfd(k, sfd, 0x77, b"consumed once") == 0
    assert k.reboot() == 0
    k = m.kernel
    dev = luo_open_device(k)
    sfd = luo_retrieve_session(k, dev, "retrieve-fail")
    m.faults.arm("retrieve:insert:0")  # the folio's page-cache insert fails
    assert k.ioctl_retrieve_fd(sfd, 0x77) == -E.ENOMEM
    assert k.ioctl_retrieve_fd(sfd, 0x77) == retry
