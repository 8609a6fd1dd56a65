"""Unit tests of the model's kernel paths, one kernel behaviour per test.

Each test drives the model with kernel calls and errno-exact expectations, like the
kernel's own selftests.
"""

from __future__ import annotations

from luoverify.model import NAMED_BOUNDS, PROFILES, LuoModel
from luoverify.model import state as st
from luoverify.model.luo import FAST_CALLS, Kernel
from luoverify.model.state import World
from tests.helpers import Driver


def preserve_one(d: Driver, size: int = 1) -> None:
    d.call("memfd_create", size=size, scratch=0)
    d.call("create_session", name="new")
    d.call("preserve_fd", list="out", session=0, fd=0, fault=None)


def test_preserve_tracks_folio_ser_and_files_block() -> None:
    """Verifies that PRESERVE_FD KHO-tracks the folio, the ser page and the files block."""
    d = Driver()
    preserve_one(d)
    f = d.outgoing[0][4][0]
    assert f[0] == st.PRESERVED
    assert d.tracked() == {d.outgoing[0][1], f[2], *f[3]}
    assert d.memfds[0][1] == f[3]


def test_close_outgoing_session_unpreserves_and_keeps_memfd() -> None:
    """Verifies that closing an outgoing session untracks everything (selftest preserve_memfd)
    and that the user's memfd still reads its data."""
    d = Driver()
    preserve_one(d)
    folio = d.memfds[0][1][0]
    d.call("close_session", list="out", session=0, fault=None)
    assert d.tracked() == set()
    assert d.outgoing == ()
    assert d.pages[folio][3] == st.DATA_A
    assert sum(pg[0] == st.ALLOC for pg in d.pages) == 1


def test_duplicate_session_name_is_eexist() -> None:
    """Verifies that creating a second outgoing session with the same name fails EEXIST."""
    d = Driver()
    d.call("create_session", name="new")
    d.call("create_session", "-EEXIST", name="dup")


def test_unsupported_fd_is_enoent_and_leaves_nothing() -> None:
    """Verifies that preserving /dev/null fails ENOENT and frees the lazily made files block."""
    d = Driver()
    d.call("create_session", name="new")
    d.call("preserve_fd", "-ENOENT", list="out", session=0, fd="devnull")
    assert d.outgoing[0][1] == -1
    assert all(pg[0] == st.FREE for pg in d.pages)


def test_double_preserve_upstream_ebusy_v619_accepts() -> None:
    """Verifies prevent_double_preservation: upstream EBUSY, 6.19 accepts (LUO-M3)."""
    for design, ret in (("upstream", "-EBUSY"), ("v6.19", 0)):
        d = Driver(design)
        preserve_one(d)
        d.call("create_session", name="new")
        d.call("preserve_fd", ret, list="out", session=1, fd=0, fault=None)


def test_happy_path_across_kexec_restores_data() -> None:
    """Verifies luo_kexec_simple: preserve, reboot, retrieve session and fd, data intact,
    finish."""
    d = Driver()
    preserve_one(d)
    d.reboot_and_kexec()
    assert d.state[0][0] == 1
    assert d.memfds == (None, None)
    inc = d.incoming[0]
    assert inc[0] == st.IN_NEW
    reserved = {p for p, pg in enumerate(d.pages) if pg[0] == st.RESV and pg[2]}
    assert reserved == {inc[1], inc[4][0][2], *inc[4][0][3]}
    # an unretrieved session has no fd: nothing can be called on it
    assert not d.enabled("retrieve_fd", list="in", session=0)


def test_retrieve_then_finish_disposes_everything() -> None:
    """Verifies that retrieve + FINISH leave no reserved page and the memfd owns the folio."""
    d = Driver()
    preserve_one(d)
    d.reboot_and_kexec()
    d.call("retrieve_session", session=0)
    d.call("retrieve_fd", list="in", session=0, file=0, fault=None)
    m = d.incoming[0][4][0][1]
    folio = d.memfds[m][1][0]
    assert d.pages[folio][0] == st.ALLOC and d.pages[folio][3] == st.DATA_A
    d.call("finish", list="in", session=0, fault=None)
    assert not any(pg[0] == st.RESV or pg[2] for pg in d.pages)
    assert d.incoming[0][0] == st.IN_FINISHED
    # the N1 lifetime: FINISH unlinked the session and cleared retrieved
    d.call("retrieve_fd", "-EINVAL", list="in", session=0, file="unknown", fault=None)
    d.call("finish", "-EINVAL", list="in", session=0, fault=None)
    d.call("retrieve_session", "-ENOENT", session=0)
    d.call("create_session", name="new")  # the name is free on the outgoing side anyway
    d.call("close_session", list="in", session=0, fault=None)
    assert d.incoming == ()


def test_finished_session_stays_listed_in_v619() -> None:
    """Verifies 6.19's answers after FINISH: the session stays listed and retrieved, so a
    second FINISH is a no-op, RETRIEVE_FD finds no token and RETRIEVE_SESSION is EINVAL."""
    d = Driver("v6.19")
    preserve_one(d)
    d.reboot_and_kexec()
    d.call("retrieve_session", session=0)
    d.call("finish", list="in", session=0, fault=None)
    d.call("retrieve_fd", "-ENOENT", list="in", session=0, file="unknown", fault=None)
    d.call("finish", list="in", session=0, fault=None)
    d.call("retrieve_session", "-EINVAL", session=0)
    d.call("close_session", list="in", session=0, fault=None)
    assert d.incoming == ()


def test_retrieve_session_twice_is_einval_unknown_is_enoent() -> None:
    """Verifies RETRIEVE_SESSION errors: EINVAL when already retrieved, ENOENT unknown."""
    d = Driver()
    preserve_one(d)
    d.reboot_and_kexec()
    d.call("retrieve_session", session=0)
    d.call("retrieve_session", "-EINVAL", session=0)
    d.call("retrieve_session", "-ENOENT", session="unknown")


def test_failed_retrieve_is_remembered_upstream_forgotten_in_v619() -> None:
    """Verifies LUO-M4: upstream returns the stored errno without calling retrieve again;
    6.19 calls the handler again on consumed data."""
    for design in ("upstream", "v6.19"):
        d = Driver(design)
        preserve_one(d)
        d.reboot_and_kexec()
        d.call("retrieve_session", session=0)
        d.call("retrieve_fd", "-ENOMEM", list="in", session=0, file=0, fault="insert:0")
        out = d.call("retrieve_fd", "-ENOMEM" if design == "upstream" else "-EIO",
                     list="in", session=0, file=0, fault=None)
        called_again = any(ev == "handler_retrieve" for ev, _ in out.events)
        assert called_again == (design == "v6.19")


def test_freeze_failure_rolls_back_and_v619_loses_handle() -> None:
    """Verifies reboot rollback: every file back to PRESERVED; 6.19 zeroes the handle of
    files frozen before the failure (LUO-M5)."""
    for design, handle in (("upstream", 1), ("v6.19", 0)):
        d = Driver(design, memfds=2)
        d.call("memfd_create", size=1, scratch=0)
        d.call("memfd_create", size=1, scratch=0)
        d.call("create_session", name="new")
        d.call("preserve_fd", list="out", session=0, fd=0, fault=None)
        d.call("preserve_fd", list="out", session=0, fd=1, fault=None)
        d.call("reboot")
        d.call("luo_session_serialize", "-EIO", session=0, fault="freeze:1")
        files = d.outgoing[0][4]
        assert [f[0] for f in files] == [st.PRESERVED, st.PRESERVED]
        assert files[0][4] == handle and files[1][4] == 1
        assert d.state[0][1] == st.RUNNING


def test_kho_finalize_failure_leaves_files_frozen_in_v619() -> None:
    """Verifies LUO-M10/G1: 6.19 returns EAGAIN with the files still frozen."""
    d = Driver("v6.19")
    preserve_one(d)
    d.call("reboot")
    d.call("luo_session_serialize", session=0, fault=None)
    d.call("kho_finalize", "-EAGAIN", fault="finalize")
    assert d.outgoing[0][4][0][0] == st.FROZEN


def test_session_kind_checked_upstream() -> None:
    """Verifies LUO-M7 fix: RETRIEVE_FD and FINISH on an outgoing session fail EINVAL."""
    d = Driver()
    preserve_one(d)
    d.call("retrieve_fd", "-EINVAL", list="out", session=0, file=0, fault=None)
    d.call("finish", "-EINVAL", list="out", session=0, fault=None)
    d.reboot_and_kexec()
    d.call("retrieve_session", session=0)
    d.call("memfd_create", size=0, scratch=0)
    d.call("preserve_fd", "-EINVAL", list="in", session=0, fd=0, fault=None)


def test_mutations_blocked_during_reboot_upstream() -> None:
    """Verifies LUO-M11 fix: create and PRESERVE_FD get EBUSY during reboot; close waits."""
    d = Driver()
    preserve_one(d)
    d.call("memfd_create", size=0, scratch=0)
    d.call("reboot")
    d.call("create_session", "-EBUSY", name="new")
    d.call("preserve_fd", "-EBUSY", list="out", session=0, fd=1, fault=None)
    assert not d.enabled("close_session", list="out", session=0)


def test_vetoed_close_leaves_session_stuck_in_v619() -> None:
    """Verifies LUO-M13: after a vetoed finish on close, 6.19 answers EINVAL forever;
    upstream lets the session be retrieved again."""
    for design, ret in (("upstream", 0), ("v6.19", "-EINVAL")):
        d = Driver(design)
        preserve_one(d)
        d.reboot_and_kexec()
        d.call("retrieve_session", session=0)
        d.call("close_session", list="in", session=0, fault="veto")
        d.call("retrieve_session", ret, session=0)


def test_unretrieved_session_is_reclaimed_by_next_kexec() -> None:
    """Verifies the leak bound (I14): pages of a never-retrieved session stay reserved in
    kernel N+1 and are free in kernel N+2."""
    d = Driver(kexecs=2)
    preserve_one(d)
    d.reboot_and_kexec()
    assert any(pg[0] == st.RESV for pg in d.pages)
    d.reboot_and_kexec()
    assert all(pg[0] == st.FREE for pg in d.pages)
    assert d.incoming == ()  # never-retrieved sessions are not carried to kernel N+2


def test_scratch_folio_is_migrated_before_preserve() -> None:
    """Verifies that a folio in scratch is migrated out when preserved (memfd pins, I2)."""
    d = Driver(scratch=1)
    d.call("memfd_create", size=1, scratch=1)
    assert d.pages[d.memfds[0][1][0]][4] == 1
    d.call("create_session", name="new")
    d.call("preserve_fd", list="out", session=0, fd=0, fault=None)
    folio = d.memfds[0][1][0]
    assert d.pages[folio][4] == 0 and d.pages[folio][3] == st.DATA_A
    assert not any(pg[1] and pg[4] for pg in d.pages)


def test_fast_error_path_agrees_with_kernel_path() -> None:
    """Verifies that LuoModel's fast paths (unchanged-state errors, one-record user calls)
    give exactly what the full kernel path gives, on every transition of the tiny bound,
    for both profiles."""
    for design in PROFILES.values():
        model = LuoModel(design, NAMED_BOUNDS["tiny"])
        seen = {model.encode(model.canonical(model.init_states()[0]))}
        frontier = [model.init_states()[0]]
        checked = 0
        while frontier and len(seen) < 3000:
            state = frontier.pop()
            for action in model.actions(state):
                fast = model.unchanged(state, action)
                w = World.thaw(state)
                kernel = Kernel(w, design, model.bounds, state)
                slow = getattr(kernel, "do_" + action.name)(**dict(action.args))
                if action.name in FAST_CALLS:
                    assert model.next_state(state, action).state == w.freeze(), f"{action}"
                if fast is not None:
                    checked += 1
                    assert fast == slow, f"{action}: fast {fast}, kernel {slow}"
                    assert w.freeze() == state, f"{action} changed the state"
                nxt = model.canonical(model.next_state(state, action).state)
                key = model.encode(nxt)
                if key not in seen:
                    seen.add(key)
                    frontier.append(nxt)
        assert checked > 100


def test_classify_index_matches_every_detector() -> None:
    """Verifies that the call-name index of specs.defects.classify asks exactly the
    detectors that can fire: on every transition of tiny v6.19 (both reboot modes, past
    violations), classify equals the scan of every detector."""
    from luoverify.specs.defects import DEFECTS, REPORTED, classify

    for mode in ("atomic", "interleaved"):
        model = LuoModel(PROFILES["v6.19"], NAMED_BOUNDS["tiny"].with_overrides(reboot=mode))
        start = model.init_states()[0]
        seen, todo, fired = {start}, [start], 0
        while todo:
            s = todo.pop()
            for a in model.actions(s):
                o = model.next_state(s, a)
                full = 0
                for d in DEFECTS:
                    if d.detect is not None and d.detect(s, a, o):
                        full |= 1 << REPORTED.index(d.reported)
                assert classify(s, a, o) == full, a
                fired |= full
                c = model.canonical(o.state)
                if c not in seen:
                    seen.add(c)
                    todo.append(c)
        assert fired, "some defect fires at tiny"
