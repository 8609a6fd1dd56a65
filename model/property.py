"""A property: one kernel guarantee as a value the checkers take (after stateright's
``Property`` beside its ``Model``). The catalogue of LUO / KHO properties is
``luoverify.specs.properties``; this module holds only the shape they share.

Kinds:

* ``always`` -- ``check(state)`` returns ``None`` or a message, on every reachable state;
* ``step`` -- ``check(pre, action, outcome)`` on every transition (``outcome.state`` is the
  successor before symmetry reduction, so page and memfd ids match ``pre``);
* ``sometimes`` -- ``reached(state)`` or ``reached(pre, action, outcome)`` must hold
  somewhere, or the bound explores nothing interesting (a vacuity guard);
* ``graph`` -- ``goal(state)``: from every reachable state some goal state is reachable.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Literal

from luoverify.model.bounds import Bounds
from luoverify.model.design import Design

Kind = Literal["always", "step", "sometimes", "graph"]


@dataclass(frozen=True)
class Property:
    """One kernel guarantee, as a value passed to checkers."""

    name: str
    kind: Kind
    guarantee: str
    source: str
    #: always: state -> message|None; step: (pre, action, outcome) -> message|None;
    #: sometimes: returns a non-None string when reached; graph: goal(state) -> msg|None
    #: (non-None = the state is a goal).
    check: Callable[..., str | None]
    #: for ``sometimes``: is ``check`` a step predicate?
    on_step: bool = False
    #: why this property cannot be reached at a bound (sometimes), or None.
    requires: Callable[[Bounds], str | None] = field(default=lambda b: None)
    #: step properties: the action names that can break it (None: any). Lets the
    #: explorer skip the predicate on other transitions; it must be exact.
    triggers: frozenset[str] | None = None
    #: which designs it speaks about: "all", "sessions" (6.19 and later) or "legacy"
    #: (the v3/v4 global state machine, model/legacy.py)
    designs: Literal["all", "sessions", "legacy"] = "all"

    def not_applicable(self, design: Design, bounds: Bounds) -> str | None:
        """Why this property says nothing about ``design`` at ``bounds`` (None: it does)."""
        if self.designs == "legacy" and not design.legacy:
            return "legacy design only (the v3/v4 global state machine)"
        if self.designs == "sessions" and design.legacy:
            return "session-based designs only"
        return self.requires(bounds)


def not_applicable(props: Iterable[Property], design: Design,
                   bounds: Bounds) -> dict[str, str]:
    """Property name -> why it is not applicable to ``design`` at ``bounds``."""
    return {p.name: why for p in props if (why := p.not_applicable(design, bounds))}
