"""Linux errno values used by LUO and KHO (asm-generic/errno-base.h, errno.h)."""

from typing import Final

EPERM: Final = 1
ENOENT: Final = 2
EIO: Final = 5
EBADF: Final = 9
EAGAIN: Final = 11
ENOMEM: Final = 12
EBUSY: Final = 16
EEXIST: Final = 17
EFBIG: Final = 27
EINVAL: Final = 22
ENOTTY: Final = 25
ENOSPC: Final = 28
EOPNOTSUPP: Final = 95

NAMES: Final[dict[int, str]] = {
    EPERM: "EPERM",
    ENOENT: "ENOENT",
    EIO: "EIO",
    EBADF: "EBADF",
    EAGAIN: "EAGAIN",
    ENOMEM: "ENOMEM",
    EBUSY: "EBUSY",
    EEXIST: "EEXIST",
    EFBIG: "EFBIG",
    EINVAL: "EINVAL",
    ENOTTY: "ENOTTY",
    ENOSPC: "ENOSPC",
    EOPNOTSUPP: "EOPNOTSUPP",
}
BY_NAME: Final[dict[str, int]] = {v: k for k, v in NAMES.items()}


def ret_name(ret: int) -> str:
    """``0`` or ``-EXXX`` as the kernel documentation writes a return value."""
    if ret >= 0:
        return str(ret)  # 0, or a positive value no syscall here returns (legacy O5)
    return f"-{NAMES.get(-ret, str(-ret))}"


def parse_ret(text: str | int) -> int:
    """Inverse of :func:`ret_name`; accepts ``0``, ``-EBUSY``, ``-16`` or an int."""
    if isinstance(text, int):
        return text
    t = text.strip()
    if t.removeprefix("-").isdigit():
        return int(t)
    name = t.lstrip("-")
    if name not in BY_NAME:
        raise ValueError(f"unknown return code {text!r}")
    return -BY_NAME[name]
