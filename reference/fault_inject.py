"""Fault injection (``lib/fault-inject.c`` in spirit): make one callback fail on demand.

A test or the trace driver arms a fault point (optionally for one object) before a call;
the callback asks :meth:`FaultInjector.should_fail` at the point where the kernel's
operation can fail. A fault that fires consumes one unit of the budget and disarms; a
fault the call never reached stays unconsumed and is disarmed by :meth:`disarm_all`.
Points: ``preserve`` (memfd preserve, -ENOMEM), ``freeze`` (memfd freeze, -EIO),
``retrieve`` (memfd retrieve, -ENOMEM), ``can_finish`` (veto), ``finalize``
(kho_finalize).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class FaultInjector:
    budget: int = 0
    armed: dict[str, object] = field(default_factory=dict)
    fired: list[str] = field(default_factory=list)

    def arm(self, point: str, key: object = None) -> None:
        self.armed[point] = key

    def disarm_all(self) -> None:
        self.armed.clear()

    def should_fail(self, point: str, key: object = None) -> bool:
        if point not in self.armed:
            return False
        want = self.armed[point]
        if want is not None and want is not key:
            return False
        del self.armed[point]
        self.budget -= 1
        self.fired.append(point)
        return True
