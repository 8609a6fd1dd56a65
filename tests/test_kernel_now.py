"""The kernel as it is now (issue #16): session lifetime after FINISH, LUO's reboot gate
and aborts, /dev/liveupdate and session names, against the newest kernel
(linux-mm ``kernel/liveupdate/luo_session.c``, ``luo_core.c``) and 6.19.

Every hand-written trace in ``tests/traces/handwritten`` replays under the design it
names, on the model and the reference in lockstep; its outcome is pinned below. The
``*.v6.19.itf.json`` twins pin 6.19's answers where they differ from the newest kernel's
(``serialize_enomem`` has none: 6.19's serialization allocates nothing; the unwind of
``abort_after_serialize`` is ``kexec_unwind.v6.19``).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from luoverify.checks.replay import design_name_from_meta, load_trace, replay
from luoverify.model import state as st
from luoverify.model.design import PROFILES
from luoverify.specs.defects import BY_ID
from luoverify.specs.properties import BY_NAME
from tests.helpers import Driver

HANDWRITTEN = Path(__file__).parent / "traces" / "handwritten"

#: trace -> (replay exit code under its own design, the property the reference breaks)
PINNED: dict[str, tuple[int, str | None]] = {
    "kexec_simple.itf.json": (0, None),
    "finish_unlinks_session.itf.json": (0, None),
    "finish_unlinks_session.v6.19.itf.json": (0, None),
    "vetoed_close_retrievable.itf.json": (0, None),
    "vetoed_close_retrievable.v6.19.itf.json": (0, None),
    "reboot_gate.itf.json": (0, None),
    "reboot_gate.v6.19.itf.json": (1, "handover_matches_metadata"),
    "serialize_rollback.v6.19.itf.json": (1, "failed_reboot_restores"),
    "serialize_rollback.itf.json": (0, None),
    "serialize_enomem.itf.json": (0, None),
    "abort_after_serialize.itf.json": (0, None),
    "kexec_unwind.v6.19.itf.json": (1, "nothing_frozen_while_running"),
    "preserve_context_kexec.itf.json": (0, None),
    "preserve_context_kexec.v6.19.itf.json": (1, "nothing_frozen_while_running"),
    "device_open_close.itf.json": (0, None),
    "session_names.itf.json": (0, None),
    "session_names.v6.19.itf.json": (0, None),
}


def test_every_handwritten_trace_is_pinned() -> None:
    """Verifies the table below names exactly the hand-written traces in the folder."""
    assert sorted(p.name for p in HANDWRITTEN.glob("*.itf.json")) == sorted(PINNED)


@pytest.mark.parametrize("name", sorted(PINNED))
def test_handwritten_trace_replays_as_pinned(name: str) -> None:
    """Verifies that the hand-written trace replays on the model and the reference with
    the return codes it records, under the design its metadata names, and ends as
    pinned: faithfully (exit 0), or with the pinned property broken on the reference
    (exit 1: a 6.19 defect reproduced)."""
    trace = load_trace(HANDWRITTEN / name)
    design = PROFILES[design_name_from_meta(trace) or "upstream"]
    result = replay(trace, design)
    want_exit, want_prop = PINNED[name]
    assert result.divergence is None, result.to_text()
    assert result.exit_code == want_exit, result.to_text()
    assert (result.violation.prop if result.violation else None) == want_prop


def test_upstream_traces_differ_under_v619() -> None:
    """Verifies that each newest-kernel trace whose behaviour 6.19 lacks does not replay
    under v6.19 (a return code differs, or a call 6.19 does not offer)."""
    for name in ("finish_unlinks_session.itf.json", "reboot_gate.itf.json",
                 "serialize_enomem.itf.json", "preserve_context_kexec.itf.json",
                 "session_names.itf.json", "vetoed_close_retrievable.itf.json"):
        result = replay(load_trace(HANDWRITTEN / name), PROFILES["v6.19"], compare_vars=False)
        assert result.divergence is not None, name


def _to_ready(d: Driver) -> None:
    d.call("memfd_create", size=1, scratch=0)
    d.call("create_session", name="new")
    d.call("preserve_fd", list="out", session=0, fd=0, fault=None)
    d.call("reboot")
    d.call("luo_session_serialize", session=0, fault=None)


def test_gate_is_apart_from_the_phase_in_the_unwind_mutant() -> None:
    """Verifies that without the abort (LUO-M18) the machine runs again after the unwind
    while LUO's gate stays closed: CREATE_SESSION and a second reboot fail with EBUSY,
    closing the outgoing session waits, and the new property names it."""
    d = Driver()
    d.model = type(d.model)(BY_ID["LUO-M18"].design(), d.model.bounds)
    _to_ready(d)
    d.call("kernel_kexec", "-EBUSY", fault="unwind")
    g = d.state[st.GLOB]
    assert g[st.PHASE] == st.RUNNING and g[st.REBOOTING] == 1
    d.call("create_session", "-EBUSY", name="new")
    d.call("reboot", "-EBUSY")
    assert not any(a.name == "close_session" for a in d.model.actions(d.state))
    assert BY_NAME["nothing_frozen_while_running"].check(d.state)


def test_unwind_aborts_upstream() -> None:
    """Verifies that upstream's unwind leaves nothing frozen, the gate open and the
    property holding; 6.19 leaves the file frozen (LUO-M18 is a real 6.19 defect)."""
    for design, frozen in (("upstream", False), ("v6.19", True)):
        d = Driver(design)
        _to_ready(d)
        if design == "v6.19":
            d.call("kho_finalize", fault=None)
        d.call("kernel_kexec", "-EBUSY", fault="unwind")
        f = d.state[st.OUTGOING][0][st.S_FILES][0]
        assert (f[st.FL_ST] == st.FROZEN) is frozen, design
        assert bool(BY_NAME["nothing_frozen_while_running"].check(d.state)) is frozen


def test_names_and_device_in_the_model() -> None:
    """Verifies the model's name classes and device calls: an invalid name is EINVAL
    upstream and never offered in 6.19 (it is a new or duplicate name there); with the
    device closed no session is created or retrieved, and reopening it works once."""
    d = Driver()
    d.call("create_session", "-EINVAL", name="invalid")
    d.call("close_device")
    assert not any(a.name in ("create_session", "retrieve_session")
                   for a in d.model.actions(d.state))
    d.call("open_device")
    d.call("open_device", "-EBUSY")
    v = Driver("v6.19")
    assert not any(a.name == "create_session" and a.arg("name") == "invalid"
                   for a in v.model.actions(v.state))


def test_relisted_session_is_caught() -> None:
    """Verifies LUO-M20: FINISH leaves the session listed and not retrieved, so
    RETRIEVE_SESSION hands it out again, and finished_sessions_unlisted names it."""
    d = Driver()
    d.model = type(d.model)(BY_ID["LUO-M20"].design(), d.model.bounds)
    _to_ready(d)
    d.call("kernel_kexec")
    d.call("retrieve_session", session=0)
    d.call("finish", list="in", session=0, fault=None)
    assert d.state[st.INCOMING][0][st.S_STATUS] == st.IN_RELISTED
    assert BY_NAME["finished_sessions_unlisted"].check(d.state)
    d.call("finish", "-EINVAL", list="in", session=0, fault=None)
    d.call("retrieve_session", session=0)  # the finished session is handed out again
