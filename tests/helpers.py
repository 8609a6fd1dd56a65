"""Drive the model with kernel calls written as in a selftest."""

from __future__ import annotations

from typing import Any

from luoverify.checks.designs import load_design
from luoverify.model import Action, Bounds, LuoModel, Outcome
from luoverify.model import errno as E
from luoverify.model.state import State

_MISSING = object()


def act(name: str, **args: Any) -> Action:
    return Action(name, tuple(args.items()))


class Driver:
    """Applies calls one by one, checking each one is enabled and its return value."""

    def __init__(self, design: str = "upstream", **bounds: Any) -> None:
        """``design``: a profile or ``mutant:ID``."""
        self.model = LuoModel(load_design(design), Bounds(**bounds))
        self.state: State = self.model.init_states()[0]
        self.last: Outcome[State] | None = None

    def call(self, call: str, expect: int | str = 0, **args: Any) -> Outcome[State]:
        name = call
        wanted = E.parse_ret(expect)
        enabled = list(self.model.actions(self.state))
        match = [a for a in enabled if a.name == name and
                 all(dict(a.args).get(k, _MISSING) == v for k, v in args.items())]
        assert match, f"{name}({args}) is not enabled; enabled: {[str(a) for a in enabled]}"
        action = match[0]
        out = self.model.next_state(self.state, action)
        assert out.ret == wanted, (
            f"{action} returned {E.ret_name(out.ret)}, expected {E.ret_name(wanted)}")
        self.state = out.state
        self.last = out
        return out

    def enabled(self, name: str, **args: Any) -> bool:
        return any(a.name == name and all(dict(a.args).get(k, _MISSING) == v
                                          for k, v in args.items())
                   for a in self.model.actions(self.state))

    # views
    @property
    def pages(self) -> tuple[Any, ...]:
        return self.state[4]

    @property
    def outgoing(self) -> tuple[Any, ...]:
        return self.state[1]

    @property
    def incoming(self) -> tuple[Any, ...]:
        return self.state[2]

    @property
    def memfds(self) -> tuple[Any, ...]:
        return self.state[3]

    def tracked(self) -> set[int]:
        return {p for p, pg in enumerate(self.pages) if pg[1]}

    def reboot_and_kexec(self, faults: bool = False, open_device: bool = True) -> None:
        """reboot(KEXEC) through every step to the next kernel, with no fault; then, as
        the selftests' agent does, open /dev/liveupdate (the first open deserializes the
        incoming sessions) unless ``open_device`` is False."""
        self.call("reboot")
        while self.state[0][1] == 1:
            i = next(i for i, s in enumerate(self.outgoing) if not s[2])
            self.call("luo_session_serialize", session=i, fault=None)
        if self.state[0][1] == 2:
            self.call("kho_finalize", fault=None)
        self.call("kernel_kexec")
        if open_device:
            self.call("open_device")
