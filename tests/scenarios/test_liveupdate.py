"""``tools/testing/selftests/liveupdate/liveupdate.c`` on the reference implementation.

The 8 tests of the 6.19 set run under both profiles; the tests added later run under
``upstream`` and, where 6.19 answers differently, assert 6.19's answer too.
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
    luo_create_session,
    luo_open_device,
)


@pytest.mark.parametrize("design", DESIGNS)
def test_basic_open_close(design: str) -> None:
    """Verifies that /dev/liveupdate can be opened and closed."""
    k = boot(design).kernel
    fd = luo_open_device(k)
    assert fd >= 0
    assert k.close(fd) == 0


@pytest.mark.parametrize("design", DESIGNS)
def test_exclusive_open(design: str) -> None:
    """Verifies that a second open while the first is held fails with EBUSY, and that
    closing the first makes the device available again."""
    k = boot(design).kernel
    fd = luo_open_device(k)
    assert fd >= 0
    assert luo_open_device(k) == -E.EBUSY
    assert k.close(fd) == 0
    assert luo_open_device(k) >= 0


@pytest.mark.parametrize("design", DESIGNS)
def test_create_duplicate_session(design: str) -> None:
    """Verifies that creating a session with an existing name fails with EEXIST."""
    k = boot(design).kernel
    dev = luo_open_device(k)
    sfd = luo_create_session(k, dev, "duplicate-session-test")
    assert sfd >= 0
    assert luo_create_session(k, dev, "duplicate-session-test") == -E.EEXIST
    assert k.close(sfd) == 0


@pytest.mark.parametrize("design", DESIGNS)
def test_create_distinct_sessions(design: str) -> None:
    """Verifies that two sessions with different names can be created and closed."""
    k = boot(design).kernel
    dev = luo_open_device(k)
    s1 = luo_create_session(k, dev, "distinct-session-1")
    s2 = luo_create_session(k, dev, "distinct-session-2")
    assert s1 >= 0 and s2 >= 0 and s1 != s2
    assert k.close(s1) == 0
    assert k.close(s2) == 0
    assert k.outgoing == []


@pytest.mark.parametrize("design", DESIGNS)
def test_preserve_memfd(design: str) -> None:
    """Verifies that a memfd can be preserved, and that closing the session (which
    unpreserves it) leaves the memfd and its data intact for its user."""
    k = boot(design).kernel
    dev = luo_open_device(k)
    sfd = luo_create_session(k, dev, "preserve-memfd-test")
    mfd = k.memfd_create()
    assert k.ftruncate(mfd, 1) == 0
    assert k.memfd_write(mfd, b"hello liveupdate") == 0
    assert k.ioctl_preserve_fd(sfd, mfd, 0x1234) == 0
    assert k.kho.tracker, "preserve KHO-tracks the folio, the ser and the files block"
    assert k.close(sfd) == 0
    assert k.kho.tracker == set(), "unpreserve releases every tracked page"
    assert k.memfd_read(mfd) == b"hello liveupdate"


@pytest.mark.parametrize("design", DESIGNS)
def test_preserve_multiple_memfds(design: str) -> None:
    """Verifies that two memfds with different data are preserved in one session and
    keep their own contents."""
    k = boot(design).kernel
    dev = luo_open_device(k)
    sfd = luo_create_session(k, dev, "preserve-multiple-memfds")
    fds = []
    for token, data in ((0xAAAA, b"data for memfd 1"), (0xBBBB, b"data for memfd 2")):
        fd = k.memfd_create()
        assert k.ftruncate(fd, 1) == 0 and k.memfd_write(fd, data) == 0
        assert k.ioctl_preserve_fd(sfd, fd, token) == 0
        fds.append((fd, data))
    for fd, data in fds:
        assert k.memfd_read(fd) == data
    assert k.close(sfd) == 0


@pytest.mark.parametrize("design", DESIGNS)
def test_preserve_complex_scenario(design: str) -> None:
    """Verifies that two sessions, each with one memfd holding data and one empty memfd,
    preserve cleanly; data reads back intact and the empty memfds read 0 bytes."""
    k = boot(design).kernel
    dev = luo_open_device(k)
    layout = {"complex-session-1": ((0x1111, b"data in session 1"), (0x2222, b"")),
              "complex-session-2": ((0x3333, b"data in session 2"), (0x4444, b""))}
    held = []
    for name, memfds in layout.items():
        sfd = luo_create_session(k, dev, name)
        assert sfd >= 0
        for token, data in memfds:
            fd = k.memfd_create()
            if data:
                assert k.ftruncate(fd, 1) == 0 and k.memfd_write(fd, data) == 0
            assert k.ioctl_preserve_fd(sfd, fd, token) == 0
            held.append((fd, data))
    for fd, data in held:
        assert k.memfd_read(fd) == data


@pytest.mark.parametrize("design", DESIGNS)
def test_preserve_unsupported_fd(design: str) -> None:
    """Verifies that preserving an fd no handler supports (/dev/null) fails with ENOENT
    and leaves nothing allocated."""
    k = boot(design).kernel
    dev = luo_open_device(k)
    sfd = luo_create_session(k, dev, "unsupported-fd-test")
    null = k.open_devnull()
    assert k.ioctl_preserve_fd(sfd, null, 0xDEAD) == -E.ENOENT
    assert k.kho.tracker == set()
    assert k.outgoing[0].file_set.block_pfn is None


# --------------------------------------------------------------- added after 6.19

@pytest.mark.parametrize(("design", "second", "third"), [
    ("upstream", -E.EBUSY, -E.EBUSY),
    ("v6.19", 0, 0),  # LUO-M3: 6.19 accepts both, one folio gets two owners
])
def test_prevent_double_preservation(design: str, second: int, third: int) -> None:
    """Verifies that a memfd already preserved in one session cannot be preserved again,
    in another session or under a new token in the same one (EBUSY)."""
    k = boot(design).kernel
    dev = luo_open_device(k)
    s1 = luo_create_session(k, dev, "double-preserve-1")
    s2 = luo_create_session(k, dev, "double-preserve-2")
    fd = k.memfd_create()
    assert k.ftruncate(fd, 1) == 0 and k.memfd_write(fd, b"once") == 0
    assert k.ioctl_preserve_fd(s1, fd, 0x1111) == 0
    assert k.ioctl_preserve_fd(s2, fd, 0x2222) == second
    assert k.ioctl_preserve_fd(s1, fd, 0x3333) == third
    assert k.memfd_read(fd) == b"once"


@pytest.mark.parametrize(("design", "expected"), [("upstream", -E.EINVAL), ("v6.19", "ok")])
def test_create_session_no_null_termination(design: str, expected: int | str) -> None:
    """Verifies that a name filling all 64 bytes with no NUL is rejected with EINVAL
    (6.19 silently truncates it to 63 characters: LUO-M8)."""
    k = boot(design).kernel
    dev = luo_open_device(k)
    ret = k.ioctl_create_session(dev, "X" * 64)
    if expected == "ok":
        assert ret >= 0
        assert k.outgoing[0].name == "X" * 63
    else:
        assert ret == expected


@pytest.mark.parametrize(("design", "expected"), [("upstream", -E.EINVAL), ("v6.19", "ok")])
def test_create_session_empty_name(design: str, expected: int | str) -> None:
    """Verifies that an empty session name is rejected with EINVAL (6.19 accepts it)."""
    k = boot(design).kernel
    dev = luo_open_device(k)
    ret = k.ioctl_create_session(dev, "")
    assert (ret >= 0) if expected == "ok" else ret == expected


@pytest.mark.parametrize(("design", "created"), [("upstream", 2000), ("v6.19", 819)])
def test_preserve_many_sessions(design: str, created: int) -> None:
    """Verifies that 2000 sessions can be created and closed (6.19: session 820 fails
    with ENOMEM, the 16-page session block is full)."""
    m = Machine(PROFILES[design], 8)
    k = m.kernel
    dev = luo_open_device(k)
    fds = []
    for i in range(2000):
        fd = luo_create_session(k, dev, f"many-sessions-{i}")
        if fd < 0:
            assert fd == -E.ENOMEM
            break
        fds.append(fd)
    assert len(fds) == created
    for fd in fds:
        assert k.close(fd) == 0
    assert k.outgoing == []


@pytest.mark.parametrize(("design", "preserved"), [("upstream", 500), ("v6.19", 128)])
def test_preserve_many_files(design: str, preserved: int) -> None:
    """Verifies that 500 memfds can be preserved in one session with tokens 0..499
    (6.19: file 129 fails with ENOSPC, the 2-page files block is full)."""
    m = Machine(PROFILES[design], 1100)
    k = m.kernel
    dev = luo_open_device(k)
    sfd = luo_create_session(k, dev, "many-files-session")
    ok = 0
    for token in range(500):
        ret = create_and_preserve_memfd(k, sfd, token, f"file-data-{token}".encode())
        if ret:
            assert ret == -E.ENOSPC
            break
        ok += 1
    assert ok == preserved
    assert k.close(sfd) == 0
    assert k.kho.tracker == set()
