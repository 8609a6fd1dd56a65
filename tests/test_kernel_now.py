"""The kernel as it is now (issues #16, #17): session lifetime after FINISH, LUO's reboot
gate and aborts, /dev/liveupdate and session names, deserialization at the first open of
/dev/liveupdate and its failures, the memfd handler's failure points with its own
cleanup, against the newest kernel (linux-mm ``kernel/liveupdate/luo_session.c``,
``luo_core.c``, ``mm/memfd_luo.c``) and 6.19.

Every hand-written trace in ``tests/traces/handwritten`` replays under the design it
names, on the model and the reference in lockstep; its outcome is pinned below. The
``*.v6.19.itf.json`` twins pin 6.19's answers where they differ from the newest kernel's
(``serialize_enomem`` has none: 6.19's serialization allocates nothing; the unwind of
``abort_after_serialize`` is ``kexec_unwind.v6.19``).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from luoverify.checks.replay import design_name_from_meta, load_trace, replay
from luoverify.model import errno as E
from luoverify.model import state as st
from luoverify.model.design import PROFILES
from luoverify.specs.defects import BY_ID
from luoverify.specs.properties import BY_NAME
from tests.helpers import Driver, act

HANDWRITTEN = Path(__file__).parent / "traces" / "handwritten"

#: trace -> (replay exit code under its own design, the property the reference breaks)
PINNED: dict[str, tuple[int, str | None]] = {
    "kexec_simple.itf.json": (0, None),
    "finish_unlinks_session.itf.json": (0, None),
    "finish_unlinks_session.v6.19.itf.json": (0, None),
    "vetoed_close_retrievable.itf.json": (0, None),
    "vetoed_close_retrievable.v6.19.itf.json": (0, None),
    "reboot_gate.itf.json": (0, None),
    "reboot_gate.v6.19.itf.json": (1, "no_orphan_page"),
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
    "deserialize_alloc.itf.json": (0, None),
    "deserialize_alloc.v6.19.itf.json": (1, "no_partial_incoming"),
    "deserialize_missing_handler.itf.json": (0, None),
    "deserialize_missing_handler.v6.19.itf.json": (1, "no_partial_incoming"),
    "deserialize_corrupt.itf.json": (0, None),
    "preserve_seals.itf.json": (0, None),
    "preserve_size.itf.json": (0, None),
    "preserve_pin.itf.json": (0, None),
    "preserve_kho_preserve.itf.json": (0, None),
    "retrieve_seals.itf.json": (0, None),
    "retrieve_alloc_file.v6.19.itf.json": (1, "no_free_while_preserved"),
    "retrieve_alloc_file.itf.json": (0, None),
    "retrieve_restore_folios.itf.json": (0, None),
    "retrieve_insert.itf.json": (0, None),
    "retrieve_insert.v6.19.itf.json": (1, "no_free_while_preserved"),
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
                 "session_names.itf.json", "vetoed_close_retrievable.itf.json",
                 "deserialize_alloc.itf.json", "deserialize_missing_handler.itf.json",
                 "deserialize_corrupt.itf.json",
                 # 6.19's memfd preserve checks neither seals nor size
                 "preserve_seals.itf.json", "preserve_size.itf.json"):
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
    d.call("open_device")
    d.call("retrieve_session", session=0)
    d.call("finish", list="in", session=0, fault=None)
    assert d.state[st.INCOMING][0][st.S_STATUS] == st.IN_RELISTED
    assert BY_NAME["finished_sessions_unlisted"].check(d.state)
    d.call("finish", "-EINVAL", list="in", session=0, fault=None)
    d.call("retrieve_session", session=0)  # the finished session is handed out again


def _jumped(design: str = "upstream", **changes: bool) -> Driver:
    """Two sessions crossed kexec (the first with one memfd), /dev/liveupdate closed."""
    d = Driver(design, sessions=2, files=1, memfds=1, pages=5, faults=1, kexecs=2)
    if changes:
        d.model = type(d.model)(replace(d.model.design, **changes), d.model.bounds)
    d.call("memfd_create", size=1, scratch=0)
    d.call("create_session", name="new")
    d.call("create_session", name="new")
    d.call("preserve_fd", list="out", session=0, fd=0, fault=None)
    d.call("reboot")
    d.call("luo_session_serialize", session=0, fault=None)
    d.call("luo_session_serialize", session=1, fault=None)
    if d.model.design.kho_finalize:
        d.call("kho_finalize", fault=None)
    d.call("kernel_kexec")
    g = d.state[st.GLOB]
    assert (g[st.DEVICE], g[st.DESER]) == (0, st.DESER_PENDING)
    assert not d.enabled("retrieve_session")
    return d


def _owners(d: Driver) -> list[int]:
    return sorted(pg[st.P_OWNER] for pg in d.pages if pg[st.P_OWNER] != st.FREE)


def test_failed_first_open_discards_and_caches() -> None:
    """Verifies that upstream's first open fails with EIO when the second session's
    allocation fails, discards the first session too, and keeps failing; the handed-over
    pages (files block, ser, folio) stay reserved as a documented leak, and the next
    kexec reclaims them."""
    d = _jumped()
    d.call("open_device", "-EIO", fault="alloc:1")
    assert d.incoming == () and d.state[st.GLOB][st.DESER] == st.DESER_FAILED
    assert _owners(d) == [st.LEAKED] * 3
    assert not any(BY_NAME[n].check(d.state) for n in ("no_orphan_page",
                                                       "no_partial_incoming"))
    d.call("open_device", "-EIO")
    d.call("reboot")
    d.call("kernel_kexec")
    assert _owners(d) == []


def test_discard_reclaims_with_the_other_design_choice() -> None:
    """Verifies the other reading of the per-file discard (``discard_reclaims_pages``):
    the deserialized first session's pages are restored and freed; nothing is leaked."""
    d = _jumped(discard_reclaims_pages=True)
    d.call("open_device", "-EIO", fault="alloc:1")
    assert _owners(d) == []


def test_v619_open_succeeds_over_a_partial_list() -> None:
    """Verifies 6.19's two deserialization defects: a dropped file error (LUO-M1) opens
    the device at once over a session without its file; an uncached allocation failure
    (LUO-M2) gives EIO, then the second open succeeds over the first session alone.
    no_partial_incoming names both."""
    d = _jumped("v6.19")
    d.call("open_device", fault="handler:0.0")
    assert d.incoming[0][st.S_FILES] == () and len(d.incoming) == 2
    assert BY_NAME["no_partial_incoming"].check(d.state)
    d = _jumped("v6.19")
    d.call("open_device", "-EIO", fault="alloc:1")
    d.call("open_device")
    assert len(d.incoming) == 1
    assert BY_NAME["no_partial_incoming"].check(d.state)


# ---------------------------------------------------- memfd failure points (issue #17)

def _preserved(design: str = "upstream", folios: int = 1, **changes: bool) -> Driver:
    """One session with one memfd of ``folios`` folios preserved and across the kexec,
    retrieved (its file not yet)."""
    d = Driver(design, sessions=1, files=1, memfds=1, pages=6, folios=folios, faults=1,
               kexecs=2)
    if changes:
        d.model = type(d.model)(replace(d.model.design, **changes), d.model.bounds)
    d.call("memfd_create", size=folios, scratch=0)
    d.call("create_session", name="new")
    d.call("preserve_fd", list="out", session=0, fd=0, fault=None)
    d.reboot_and_kexec()
    d.call("retrieve_session", session=0)
    return d


@pytest.mark.parametrize(("point", "errno"), [
    ("seals", "-EOPNOTSUPP"), ("size", "-EFBIG"), ("pin", "-ENOMEM"),
    ("kho_preserve", "-ENOMEM")])
def test_preserve_failure_undoes_everything(point: str, errno: str) -> None:
    """Verifies that memfd preserve failing at each of its kernel steps returns that
    step's errno and leaves the state as it was but for the fault budget: nothing
    tracked, no page allocated, no file recorded (the memfd preserves again)."""
    d = Driver(sessions=1, files=1, memfds=1, pages=5, faults=1)
    d.call("memfd_create", size=1, scratch=0)
    d.call("create_session", name="new")
    before = d.state
    d.call("preserve_fd", errno, list="out", session=0, fd=0, fault=point)
    assert d.state[1:] == before[1:] and d.tracked() == set()
    d.call("preserve_fd", list="out", session=0, fd=0, fault=None)


def test_mf7_mutant_leaves_the_folios_preserved() -> None:
    """Verifies the MF7 mutant: a preserve failing at KHO preservation keeps its folio
    tracked; closing the memfd then frees a preserved page."""
    d = Driver("mutant:MF7", sessions=1, files=1, memfds=1, pages=5, faults=1)
    d.call("memfd_create", size=1, scratch=0)
    d.call("create_session", name="new")
    d.call("preserve_fd", "-ENOMEM", list="out", session=0, fd=0, fault="kho_preserve")
    assert d.tracked() == {d.memfds[0][st.M_FOLIOS][0]}
    d.call("close_memfd", memfd=0)
    assert BY_NAME["no_free_while_preserved"].check(d.state)


@pytest.mark.parametrize(("point", "errno"), [
    ("seals", "-EOPNOTSUPP"), ("alloc_file", "-ENOMEM"), ("restore_folios", "-EINVAL")])
def test_retrieve_failure_before_any_folio_leaks_until_next_kexec(point: str,
                                                                   errno: str) -> None:
    """Verifies that a memfd retrieve failing before any folio is restored frees only
    the ser: the folio stays reserved and unrestored (LEAKED, no orphan); a retry returns
    the remembered errno without calling the handler; finish skips the file; the next
    kexec reclaims the folio."""
    d = _preserved()
    d.call("retrieve_fd", errno, list="in", session=0, file=0, fault=point)
    f = d.incoming[0][st.S_FILES][0]
    assert -st.RETRIEVE_FAILED[f[st.FL_ST]] == E.parse_ret(errno)
    assert _owners(d) == [st.RESV, st.LEAKED]  # the files block, the folio
    assert BY_NAME["no_orphan_page"].check(d.state) is None
    out = d.call("retrieve_fd", errno, list="in", session=0, file=0, fault=None)
    assert not any(ev == "handler_retrieve" for ev, _ in out.events)
    d.call("finish", list="in", session=0, fault=None)
    assert _owners(d) == [st.LEAKED]
    d.call("reboot")
    d.call("kernel_kexec")
    assert _owners(d) == []


def test_retrieve_failure_at_a_folio_frees_everything() -> None:
    """Verifies that a memfd retrieve failing at the first folio's page-cache insert
    (two folios) puts that folio, restores and frees the second, and frees the ser:
    nothing is left reserved; the KHO-M11 mutant never restores the second, which is
    then reserved and named by nothing (no_orphan_page)."""
    d = _preserved(folios=2)
    d.call("retrieve_fd", "-ENOMEM", list="in", session=0, file=0, fault="insert:0")
    assert _owners(d) == [st.RESV]  # the session's files block, until finish
    assert BY_NAME["no_orphan_page"].check(d.state) is None
    d = _preserved("mutant:KHO-M11", folios=2)
    d.call("retrieve_fd", "-ENOMEM", list="in", session=0, file=0, fault="insert:0")
    assert _owners(d) == [st.RESV, st.RESV]
    assert BY_NAME["no_orphan_page"].check(d.state)
    d = _preserved("mutant:KHO-M11", folios=2)  # at the last folio nothing is left
    d.call("retrieve_fd", "-ENOMEM", list="in", session=0, file=0, fault="insert:1")
    assert _owners(d) == [st.RESV]


def test_finish_skips_a_failed_retrieve_but_not_in_the_m4f_mutant() -> None:
    """Verifies that finish leaves a file whose retrieve failed alone, and that the
    LUO-M4f mutant's finish restores its already freed ser again (restore_once)."""
    for design, refused in (("upstream", False), ("mutant:LUO-M4f", True)):
        d = _preserved(design)
        d.call("retrieve_fd", "-ENOMEM", list="in", session=0, file=0, fault="insert:0")
        pre = d.state
        out = d.call("finish", list="in", session=0, fault=None)
        finish = act("finish", list="in", session=0, fault=None)
        assert (BY_NAME["restore_once"].check(pre, finish, out) is not None) == refused
