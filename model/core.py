"""The model interface every checker takes (after stateright's ``Model``).

A model gives its initial states, the actions enabled in a state (every callable kernel
operation, failing calls included, in a fixed order), and ``next_state``, which returns an
:class:`Outcome`: the kernel's return value and the state the kernel leaves behind. States
are immutable and hashable; :meth:`Model.canonical` maps a state to a representative of its
symmetry class; :meth:`Model.encode` / :meth:`Model.decode` give the compact byte form the
checkers store.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, NamedTuple, Protocol, TypeVar

S = TypeVar("S", bound=Hashable)
T = TypeVar("T")


class Action(NamedTuple):
    """A kernel call with its arguments, e.g. ``preserve_fd(session=0, fd=1)``.

    ``name`` is the kernel name of the call; ``args`` are (name, value) pairs in a fixed
    order so that an action is hashable and prints the same every time. A named tuple:
    the checkers hash millions of them.
    """

    name: str
    args: tuple[tuple[str, int | str | None], ...] = ()

    def arg(self, key: str) -> Any:
        for k, v in self.args:
            if k == key:
                return v
        raise KeyError(key)

    def picks(self) -> dict[str, int | str]:
        """The arguments that are set (``None`` means "not given"): ITF's nondetPicks."""
        return {k: v for k, v in self.args if v is not None}

    def __str__(self) -> str:
        inner = ", ".join(f"{k}={v}" for k, v in self.picks().items())
        return f"{self.name}({inner})"


@dataclass(frozen=True, slots=True)
class Outcome(Generic[T]):
    """What a kernel call returned (``0`` or ``-errno``) and the state it left.

    ``events`` are observations internal to the call that properties may need and that
    the state does not keep, e.g. ``("restore_refused", page)`` when KHO refused a restore
    because the page carried no stamp (the kernel WARNs).
    """

    ret: int
    state: T
    events: tuple[tuple[str, int], ...] = field(default=())


class Model(Protocol[S]):
    """What the checkers need from a model."""

    def init_states(self) -> Sequence[S]: ...

    def actions(self, state: S) -> Iterable[Action]: ...

    def next_state(self, state: S, action: Action) -> Outcome[S]: ...

    def canonical(self, state: S) -> S:
        """A representative of ``state``'s symmetry class (identity without symmetry)."""
        ...

    def encode(self, state: S) -> bytes: ...

    def decode(self, data: bytes) -> S: ...

    def view(self, state: S) -> Mapping[str, Any]:
        """The state as named JSON-able variables (for ITF traces and diffs)."""
        ...

    def action_kind(self, action: Action) -> str:
        """The class of an action for coverage: its kernel call name and fault choice."""
        ...
