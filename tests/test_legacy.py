"""The ``legacy`` design: the v3/v4 review series' global state machine (NORMAL /
PREPARED / FROZEN / UPDATED) in the model and in the reference implementation.

Scenarios follow the v3 selftests (state.normal, state.prepared, state.sysfs_frozen,
prepare_fail) and the live-update path, errno-exact; every call runs on the model and on
the reference, which must agree on the return value and the abstract state.
"""

from __future__ import annotations

import collections
from typing import Any

import pytest

from luoverify.checks.replay import broken_properties
from luoverify.model import errno as E
from luoverify.model import state as st
from luoverify.model.bounds import NAMED_BOUNDS, Bounds
from luoverify.model.core import Action
from luoverify.model.design import PROFILES, Design
from luoverify.model.factory import model_for
from luoverify.model.state import State
from luoverify.reference import reference_for
from luoverify.specs.defects import BY_ID

LEGACY = PROFILES["legacy"]
B = Bounds(sessions=1, files=2, memfds=2, pages=5, folios=1, kexecs=1, faults=1)


class Both:
    """One user space driving the legacy model and the v3 reference side by side."""

    def __init__(self, design: Design = LEGACY, bounds: Bounds = B) -> None:
        self.model = model_for(design, bounds, symmetry=False)
        self.ref = reference_for(design, bounds)
        self.state: State = self.model.init_states()[0]
        self.broken: list[str] = []

    def __call__(self, call: str, expect: int | str = 0, **args: Any) -> State:
        offered = [a for a in self.model.actions(self.state) if a.name == call
                   and all(a.arg(k) == v for k, v in args.items())]
        assert offered, f"{call}({args}) is not offered"
        action = offered[0]
        out = self.model.next_state(self.state, action)
        ret, _events = self.ref.apply(action)
        assert out.ret == ret == E.parse_ret(expect), (
            f"{action}: model {E.ret_name(out.ret)}, reference {E.ret_name(ret)}, "
            f"expected {expect}")
        assert self.ref.abstract() == out.state, f"{action}: reference and model differ"
        self.broken += [n for n, _m in broken_properties(self.state, action, out)]
        self.state = out.state
        return out.state

    @property
    def phase(self) -> str:
        return st.legacy_phase_name(self.state[0][1])

    def tracked(self) -> list[int]:
        return [p for p, pg in enumerate(self.state[4]) if pg[1]]


def registered_memfd(lu: Both) -> None:
    lu("memfd_create", size=1, scratch=0)
    lu("create_session", name="new")
    lu("preserve_fd", fd=0)


def test_prepare_cancel_cycle() -> None:
    """Verifies that PREPARE moves NORMAL to PREPARED with the file's pages preserved and
    KHO finalized, and CANCEL returns to NORMAL with nothing tracked (v3 state.prepared)."""
    lu = Both()
    registered_memfd(lu)
    assert lu.phase == "NORMAL" and not lu.tracked()
    lu("prepare")
    assert lu.phase == "PREPARED+kho_finalized" and lu.tracked()
    lu("prepare", "-EINVAL")
    lu("preserve_fd", "-EBUSY", fd=0)
    lu("unpreserve_fd", "-EBUSY", file=0)
    lu("cancel")
    assert lu.phase == "NORMAL" and not lu.tracked()
    assert lu.state[1][0][4][0][0] == st.REGISTERED
    lu("cancel", "-EINVAL")
    assert not lu.broken


def test_prepare_freeze_cancel() -> None:
    """Verifies that PREPARE, FREEZE and CANCEL all return 0 (v3 state.sysfs_frozen), and
    that FREEZE outside PREPARED is EINVAL."""
    lu = Both()
    registered_memfd(lu)
    lu("freeze", "-EINVAL")
    lu("prepare")
    lu("freeze")
    assert lu.phase == "FROZEN+kho_finalized"
    lu("freeze", "-EINVAL")
    lu("cancel")
    assert lu.phase == "NORMAL" and not lu.tracked() and not lu.broken


def test_exclusive_open() -> None:
    """Verifies that a second open of /dev/liveupdate is EBUSY, and that closing the
    device in PREPARED cancels first (the O6 fix): NORMAL, nothing tracked, memfd intact."""
    lu = Both()
    registered_memfd(lu)
    lu("create_session", "-EBUSY", name="dup")
    lu("prepare")
    lu("close_session")
    assert lu.phase == "NORMAL" and not lu.tracked() and not lu.state[1]
    assert lu.state[3][0] is not None and not lu.broken


def test_prepare_fail_then_succeed() -> None:
    """Verifies that a failing file prepare returns its error with everything rolled back
    (v3 prepare_fail), and that PREPARE then succeeds."""
    lu = Both()
    registered_memfd(lu)
    lu("prepare", "-ENOMEM", fault="prepare:0")
    assert lu.phase == "NORMAL" and not lu.tracked()
    lu("prepare")
    assert lu.phase == "PREPARED+kho_finalized" and not lu.broken


def test_live_update_restore_finish() -> None:
    """Verifies the whole cycle: a reboot from PREPARED freezes, the next kernel boots
    UPDATED with the file, FD_RESTORE gives back the data, a second restore is EINVAL,
    FINISH returns to NORMAL with no page left reserved."""
    lu = Both()
    registered_memfd(lu)
    lu("memfd_write", memfd=0)
    lu("prepare")
    lu("reboot")
    assert lu.phase == "UPDATED" and lu.state[0][0] == 1
    assert [f[0] for f in lu.state[2][0][4]] == [st.F_NEW]
    lu("retrieve_fd", file=0)
    memfd = lu.state[3][lu.state[2][0][4][0][1]]
    assert memfd is not None and [lu.state[4][p][3] for p in memfd[1]] == [st.DATA_B]
    lu("retrieve_fd", "-EINVAL", file=0)
    lu("finish")
    assert lu.phase == "NORMAL" and not lu.state[2]
    assert all(pg[0] != st.RESV for pg in lu.state[4]) and not lu.broken


def test_freeze_failure_cancels_everything() -> None:
    """Verifies that a freeze failure inside reboot aborts the kexec with -EIO and, as the
    v3 documentation says, cancels every file and aborts KHO."""
    lu = Both()
    registered_memfd(lu)
    lu("prepare")
    lu("reboot", "-EIO", fault="freeze:0")
    assert lu.phase == "NORMAL" and not lu.tracked() and lu.state[0][0] == 0
    assert not lu.broken


def test_failed_restore_can_be_retried() -> None:
    """Verifies that an FD_RESTORE that fails early can be retried (the O4 fix), and that
    under O4 the retry is EINVAL and FINISH leaves the file's pages reserved."""
    lu = Both()
    registered_memfd(lu)
    lu("prepare")
    lu("reboot")
    lu("retrieve_fd", "-ENOMEM", file=0, fault="retrieve")
    lu("retrieve_fd", file=0)
    assert not lu.broken
    o4 = Both(BY_ID["O4"].design())
    registered_memfd(o4)
    o4("prepare")
    o4("reboot")
    o4("retrieve_fd", "-ENOMEM", file=0, fault="retrieve")
    o4("retrieve_fd", "-EINVAL", file=0)
    o4("finish")
    # the unrestored pages stay reserved with nothing naming them: orphans as well
    assert sorted(set(o4.broken)) == ["finish_disposes", "no_orphan_page"]


def test_o5_uninitialized_freeze() -> None:
    """Verifies that under O5 a FREEZE with nothing prepared may return stack garbage,
    which freeze_fails_only_on_error reports; the fixed design returns 0."""
    lu = Both(BY_ID["O5"].design())
    lu("create_session", name="new")
    lu("prepare")
    lu("freeze", 1, fault="uninit")
    assert lu.broken == ["freeze_fails_only_on_error"]
    fixed = Both()
    fixed("create_session", name="new")
    fixed("prepare")
    fixed("freeze")
    assert not any(a.arg("fault") == "uninit" for a in fixed.model.actions(fixed.state)
                   if a.name in ("freeze", "reboot"))


@pytest.mark.parametrize("name", ["legacy", "O1", "O2", "O3", "O4", "O5", "O6"])
def test_reference_refines_model_everywhere(name: str) -> None:
    """Verifies that on every transition of the tiny bound (no symmetry, stopping at a
    violation as the checker does) the v3 reference returns what the model returns and
    its state maps to the model's successor."""
    design = LEGACY if name == "legacy" else BY_ID[name].design()
    bounds = NAMED_BOUNDS["tiny"]
    model = model_for(design, bounds, symmetry=False)
    init = model.init_states()[0]
    paths: dict[State, tuple[Action, ...]] = {init: ()}
    queue = collections.deque([init])
    transitions = 0
    while queue:
        s = queue.popleft()
        for a in model.actions(s):
            out = model.next_state(s, a)
            ref = reference_for(design, bounds)
            for x in paths[s]:
                ref.apply(x)
            ret, _ = ref.apply(a)
            assert (ret, ref.abstract()) == (out.ret, out.state), (paths[s], a)
            transitions += 1
            if broken_properties(s, a, out) or out.state in paths:
                continue
            paths[out.state] = (*paths[s], a)
            queue.append(out.state)
    assert len(paths) > 300 and transitions > 3000


def test_legacy_through_the_cli(capsys: pytest.CaptureFixture[str], tmp_path: Any) -> None:
    """Verifies every command takes the legacy design: check passes, traces covers and
    replays, diff against upstream shows the exclusive open (EBUSY, not EEXIST), prove
    refuses it with the reason (exit 2), and a mutant's counterexample replays as real."""
    from luoverify.checks.cli import main

    assert main(["check", "--design", "legacy", "--bounds", "tiny"]) == 0
    assert "verdict: PASS" in capsys.readouterr().out
    assert main(["traces", "--design", "legacy", "--bounds", "tiny",
                 "--out", str(tmp_path / "suite")]) == 0
    assert "every trace replays" in capsys.readouterr().out
    assert main(["diff", "--design", "upstream", "--design", "legacy",
                 "--bounds", "tiny"]) == 1  # they differ
    assert "create_session[name=dup]: upstream -EEXIST, legacy -EBUSY" in (
        capsys.readouterr().out)
    assert main(["prove", "--design", "legacy"]) == 2
    assert "legacy global state machine" in capsys.readouterr().err
    assert main(["check", "--design", "mutant:O3", "--bounds", "tiny",
                 "--trace-dir", str(tmp_path / "cex")]) == 1
    out = capsys.readouterr().out
    assert "real defects exhibited: O3" in out
    trace = tmp_path / "cex" / "mutant_O3.no_free_while_preserved.itf.json"
    assert main(["replay", str(trace)]) == 1
    assert "the counterexample is real" in capsys.readouterr().out
