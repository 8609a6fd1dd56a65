"""Bounds: the size of an explored instance. Bounds live here, never in the model or specs.

A :class:`Bounds` value limits how many objects of each kind may exist at once. The model
reads it; the specifications never do. Named bounds are data: ``tiny`` (seconds), ``ci``
(the default: the largest that checks ``upstream`` in under 2 minutes on a 2-core machine),
``deep`` (what a reviewer runs before a merge) and ``wide`` (three sessions, files and
memfds: for the compiled engine). Their measured state counts are pinned
in ``tests/test_pinned.py`` and quoted in the README.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import Any, Literal

RebootMode = Literal["atomic", "interleaved"]


@dataclass(frozen=True, slots=True)
class Bounds:
    """Limits of one instance.

    sessions: outgoing sessions that may exist at once (the incoming list is then bounded
        by the same number, since it is made from the previous outgoing list).
    files: preserved files per session.
    memfds: memfd objects alive at once in user space (retrieved memfds included).
    pages: physical page frames in the machine.
    folios: largest memfd size, in folios (one page each).
    kexecs: live-update reboots that may happen.
    faults: injected callback failures in the whole run (preserve, freeze, retrieve,
        can_finish veto, kho_finalize).
    scratch: how many of the page frames lie in a KHO scratch region.
    others: pages that other kernel users may hold at once (one is enough to make a
        wrongly freed page visibly double-owned; more only multiplies states).
    reboot: ``atomic`` (reboot() is one step) or ``interleaved`` (serialize session by
        session, with user-space calls in between: LUO-M11 / KHO-M15 reachable).
    """

    sessions: int = 2
    files: int = 2
    memfds: int = 2
    pages: int = 5
    folios: int = 1
    kexecs: int = 1
    faults: int = 1
    scratch: int = 0
    others: int = 1
    reboot: RebootMode = "interleaved"

    def validate(self) -> None:
        """Raise ``ValueError`` with a user-facing message when a bound is out of range."""
        limits = {
            "sessions": (1, 4),
            "files": (1, 4),
            "memfds": (1, 4),
            "pages": (1, 12),
            "folios": (0, 2),
            "kexecs": (0, 4),
            "faults": (0, 4),
            "scratch": (0, 4),
            "others": (0, 4),
        }
        for name, (lo, hi) in limits.items():
            value = getattr(self, name)
            if not isinstance(value, int) or not lo <= value <= hi:
                raise ValueError(f"bound {name}={value!r} is outside {lo}..{hi}")
        if self.scratch >= self.pages:
            raise ValueError(
                f"bound scratch={self.scratch} must leave at least one non-scratch page "
                f"(pages={self.pages})"
            )
        if self.reboot not in ("atomic", "interleaved"):
            raise ValueError(f"bound reboot={self.reboot!r} must be 'atomic' or 'interleaved'")

    def with_overrides(self, **changes: Any) -> Bounds:
        """A copy with the given fields replaced (``None`` values are ignored)."""
        real = {k: v for k, v in changes.items() if v is not None}
        unknown = set(real) - {f.name for f in fields(self)}
        if unknown:
            raise ValueError(f"unknown bound(s): {', '.join(sorted(unknown))}")
        out = replace(self, **real)
        out.validate()
        return out

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def describe(self) -> str:
        return (
            f"sessions={self.sessions} files={self.files} memfds={self.memfds} "
            f"pages={self.pages} folios={self.folios} kexecs={self.kexecs} "
            f"faults={self.faults} scratch={self.scratch} others={self.others} "
            f"reboot={self.reboot}"
        )


NAMED_BOUNDS: dict[str, Bounds] = {
    # Seconds: one session with two files, enough for most single-defect counterexamples.
    "tiny": Bounds(sessions=1, files=2, memfds=1, pages=3, folios=1, kexecs=1, faults=1),
    # The default: two sessions of two files, two memfds, five pages, one live update:
    # upstream in under a minute on 2 cores (a second live update, deep, takes upstream
    # about 2 minutes and v6.19 about 9).
    "ci": Bounds(sessions=2, files=2, memfds=2, pages=5, folios=1, kexecs=1, faults=1),
    # What a reviewer runs before a merge: a second live update (minutes for upstream).
    "deep": Bounds(sessions=2, files=2, memfds=2, pages=5, folios=1, kexecs=2, faults=1),
    # Issue #15's yardstick for the compiled engine: three of each, two live updates and
    # two faults (the generic explorer cannot finish it; see the README's benchmark).
    "wide": Bounds(sessions=3, files=3, memfds=3, pages=5, folios=1, kexecs=2, faults=2),
}
DEFAULT_BOUNDS = "ci"
