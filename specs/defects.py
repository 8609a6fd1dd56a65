"""The defect catalogue: every real LUO / KHO defect the model can express, one record each.

A record says what the defect is (title, source: kernel file and upstream fix), how it is
injected (the :class:`~luoverify.model.design.Design` flag values that turn the fix off,
on top of ``upstream``, or of ``legacy`` for the v3/v4 global state machine's O1-O6), the
property it must break, the bounds it needs to be observable, and, where the buggy step
itself can be recognised in a trace, its detector and the calls it fires on. Everything
that speaks of a defect reads this one table: ``--design mutant:ID`` and ``luo-verify
mutants`` (the injected designs), the defect names in reports (:func:`diagnose`, the
explorer's :func:`classify`). Both the model and the reference implementation read the
same flags, so a mutant exists in both.

A counterexample *exhibits* a defect when one of its transitions is the defect's wrong
behaviour itself (not merely a consequence): e.g. LUO-M3 is a PRESERVE_FD that succeeds
for a memfd LUO already manages. Defects the model cannot express are in
:data:`NOT_EXPRESSIBLE` with the reason.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from luoverify.model import errno as E
from luoverify.model import state as st
from luoverify.model.core import Action, Outcome
from luoverify.model.design import PROFILES, Design
from luoverify.model.luo import REBOOT_ACTIONS
from luoverify.model.state import (
    FL_FOLIOS,
    FL_HANDLE,
    FL_SER,
    FL_ST,
    GLOB,
    INCOMING,
    MEMFDS,
    OUTGOING,
    P_OWNER,
    P_TRACKED,
    PAGES,
    PHASE,
    S_FILES,
    S_STATUS,
    State,
)
from luoverify.specs.properties import nothing_frozen_while_running

Detector = Callable[[State, Action, Outcome[State]], bool]


@dataclass(frozen=True)
class Defect:
    """One real defect: what it is, how to inject it, what must catch it."""

    id: str
    title: str
    #: where it comes from: the kernel file and the fix that removed it
    source: str
    #: the Design flag values that inject it into ``base``
    changes: dict[str, bool]
    #: the property a checker must find violated
    expect: str
    #: bound overrides it needs to be observable (e.g. pages in the scratch area)
    bounds: dict[str, Any] = field(default_factory=dict)
    #: the profile the defect is injected into: upstream, or legacy for O1-O6
    base: str = "upstream"
    #: recognises the buggy step in a transition (None: only its consequence is visible)
    detect: Detector | None = None
    #: the calls ``detect`` can fire on (exact: the explorer asks no other)
    calls: frozenset[str] = frozenset()
    #: the defect id reports name (LUO-M7a/b/c are three mutants of one defect, LUO-M7)
    reports_as: str = ""

    @property
    def reported(self) -> str:
        return self.reports_as or self.id

    def design(self) -> Design:
        """``base`` with this defect injected, named ``mutant:<id>``."""
        changes: dict[str, Any] = dict(self.changes)
        return replace(PROFILES[self.base], name=f"mutant:{self.id}", **changes)


# --- detectors: each first tests the call name (the calls of its catalogue row) ---------

def _m3(pre: State, a: Action, out: Outcome[State]) -> bool:
    if a.name != "preserve_fd" or out.ret != 0:
        return False
    fd = a.arg("fd")
    return isinstance(fd, int) and st.managed(pre, fd)


def _m4(pre: State, a: Action, out: Outcome[State]) -> bool:
    if a.name != "retrieve_fd" or out.ret >= 0 or a.arg("list") != "in":
        return False
    if not any(ev == "handler_retrieve" for ev, _ in out.events):
        return False
    f = out.state[INCOMING][a.arg("session")][S_FILES][a.arg("file")]
    return bool(f[FL_ST] == st.F_NEW)


def _m5(pre: State, a: Action, out: Outcome[State]) -> bool:
    if a.name not in REBOOT_ACTIONS or out.ret >= 0:
        return False
    return any(not f[FL_HANDLE] for s in out.state[OUTGOING] for f in s[S_FILES]) and not any(
        not f[FL_HANDLE] for s in pre[OUTGOING] for f in s[S_FILES])


def _m7(pre: State, a: Action, out: Outcome[State]) -> bool:
    """A handler op on the wrong side of kexec that is not refused with EINVAL: PRESERVE_FD
    on an incoming session, RETRIEVE_FD or FINISH on an outgoing one."""
    try:
        lst = a.arg("list")
    except KeyError:
        return False
    wrong = (a.name == "preserve_fd" and lst == "in") or (
        a.name in ("retrieve_fd", "finish") and lst == "out")
    return wrong and out.ret != -E.EINVAL


def _m10(pre: State, a: Action, out: Outcome[State]) -> bool:
    return out.ret == -E.EAGAIN and _still_rebooting(out.state)


def _still_rebooting(post: State) -> bool:
    """The machine runs again but LUO's reboot is not undone: a file frozen, a session
    serialized or the reboot gate closed (the property's own rule)."""
    return nothing_frozen_while_running(post) is not None


def _m18(pre: State, a: Action, out: Outcome[State]) -> bool:
    """The kexec path unwound (``fault=unwind``) and LUO's reboot was not aborted."""
    if a.name not in ("kernel_kexec", "reboot") or out.ret >= 0:
        return False
    return dict(a.args).get("fault") == "unwind" and _still_rebooting(out.state)


def _m19(pre: State, a: Action, out: Outcome[State]) -> bool:
    """A context-preserving kexec came back to this kernel with LUO's reboot not undone."""
    if a.name not in ("kernel_kexec", "reboot") or out.ret != 0:
        return False
    return dict(a.args).get("image") == "preserve_context" and _still_rebooting(out.state)


def _m20(pre: State, a: Action, out: Outcome[State]) -> bool:
    """FINISH succeeded and left the session listed and retrievable."""
    if a.name != "finish" or out.ret != 0 or a.arg("list") != "in":
        return False
    return bool(out.state[INCOMING][a.arg("session")][S_STATUS] == st.IN_RELISTED)


def _m1(pre: State, a: Action, out: Outcome[State]) -> bool:
    """The first open succeeded although a file's handler was missing."""
    fault = dict(a.args).get("fault") if a.name == "open_device" else None
    return isinstance(fault, str) and fault.startswith("handler") and out.ret == 0


def _m2(pre: State, a: Action, out: Outcome[State]) -> bool:
    """A failed session allocation at the first open is not remembered."""
    fault = dict(a.args).get("fault") if a.name == "open_device" else None
    return (isinstance(fault, str) and fault.startswith("alloc") and out.ret == -E.EIO
            and out.state[GLOB][st.DESER] == st.DESER_SWALLOWED)


def _m4f(pre: State, a: Action, out: Outcome[State]) -> bool:
    """FINISH (or the close that finishes) restored the ser of a file whose retrieve
    had failed: memfd_luo_finish() discarded its data a second time."""
    if a.name not in ("finish", "close_session") or a.arg("list") != "in":
        return False
    files = pre[INCOMING][a.arg("session")][S_FILES]
    sers = {f[FL_SER] for f in files if f[FL_ST] in st.RETRIEVE_FAILED and f[FL_SER] >= 0}
    return any(ev in ("restore", "restore_refused") and p in sers for ev, p in out.events)


def _k11(pre: State, a: Action, out: Outcome[State]) -> bool:
    """A failed memfd retrieve left folios of the file reserved that nothing names any
    more (and no failure documented as a leak): put_folios never restored them."""
    if a.name != "retrieve_fd" or out.ret >= 0 or a.arg("list") != "in":
        return False
    if not any(ev == "handler_retrieve" for ev, _ in out.events):
        return False
    before = pre[INCOMING][a.arg("session")][S_FILES][a.arg("file")]
    after = out.state[INCOMING][a.arg("session")][S_FILES][a.arg("file")]
    return any(out.state[PAGES][p][P_OWNER] == st.RESV and p not in after[FL_FOLIOS]
               for p in before[FL_FOLIOS])


def _mf7(pre: State, a: Action, out: Outcome[State]) -> bool:
    """A memfd preserve failed at KHO preservation and left the memfd's folios tracked."""
    if a.name != "preserve_fd" or dict(a.args).get("fault") != "kho_preserve":
        return False
    mf = out.state[MEMFDS][a.arg("fd")]
    return mf is not None and any(
        out.state[PAGES][p][P_TRACKED] and not pre[PAGES][p][P_TRACKED] for p in mf[1])


def _m11(pre: State, a: Action, out: Outcome[State]) -> bool:
    if not st.SERIALIZING <= pre[GLOB][PHASE] <= st.READY or out.ret != 0:
        return False
    if a.name == "preserve_fd" and a.arg("list") == "out":
        return True
    return a.name == "close_session" and a.arg("list") == "out"


def _m13(pre: State, a: Action, out: Outcome[State]) -> bool:
    if a.name != "close_session" or a.arg("list") != "in":
        return False
    return any(s[S_STATUS] == st.IN_STUCK for s in out.state[INCOMING]) and not any(
        s[S_STATUS] == st.IN_STUCK for s in pre[INCOMING])


# --- the legacy global state machine (v3/v4 review series): pre-state PREPARED/FROZEN --

def _legacy(pre: State) -> int:
    phase: int = pre[GLOB][PHASE]
    return phase & ~st.KHO_FINALIZED


def _o1(pre: State, a: Action, out: Outcome[State]) -> bool:
    return (a.name == "prepare" and out.ret < 0
            and out.state[GLOB][PHASE] == st.L_PREPARED)  # PREPARED, KHO not finalized


def _o2(pre: State, a: Action, out: Outcome[State]) -> bool:
    return (a.name == "cancel" and out.ret == -E.ENOENT
            and _legacy(pre) in (st.L_PREPARED, st.L_FROZEN))


def _o3(pre: State, a: Action, out: Outcome[State]) -> bool:
    if _legacy(pre) != st.L_PREPARED or out.ret >= 0:
        return False
    return bool(out.state[GLOB][PHASE] & st.KHO_FINALIZED) or any(
        f[FL_ST] == st.PRESERVED for s in out.state[OUTGOING] for f in s[S_FILES])


def _o4(pre: State, a: Action, out: Outcome[State]) -> bool:
    if a.name != "retrieve_fd" or out.ret >= 0 or _legacy(pre) != st.L_UPDATED:
        return False
    f = out.state[INCOMING][a.arg("session")][S_FILES][a.arg("file")]
    return bool(f[FL_ST] == st.F_ERR and (f[FL_SER] >= 0 or f[FL_FOLIOS]))


def _o5(pre: State, a: Action, out: Outcome[State]) -> bool:
    return _legacy(pre) == st.L_PREPARED and out.ret > 0


def _o6(pre: State, a: Action, out: Outcome[State]) -> bool:
    return (a.name == "close_session" and _legacy(pre) in (st.L_PREPARED, st.L_FROZEN)
            and _legacy(out.state) in (st.L_PREPARED, st.L_FROZEN))


DEFECTS: tuple[Defect, ...] = (
    Defect("LUO-M1", "a file deserialization failure is ignored",
           "kernel/liveupdate/luo_session.c: luo_session_deserialize (= KHO-M19); fix "
           "307e0c5859b0 'liveupdate: propagate file deserialization failures'",
           {"deserialize_propagates_file_errors": False}, "no_partial_incoming",
           detect=_m1, calls=frozenset({"open_device"})),
    Defect("LUO-M2", "a session allocation failure at deserialization is not cached",
           "kernel/liveupdate/luo_session.c: luo_session_deserialize; fix 'liveupdate: "
           "fix return value on session allocation failure'",
           {"deserialize_caches_alloc_error": False}, "no_partial_incoming",
           detect=_m2, calls=frozenset({"open_device"})),
    Defect("LUO-M3", "the same memfd preserved twice",
           "kernel/liveupdate/luo_file.c: luo_preserve_file; "
           "fix 'liveupdate: prevent double management of files'",
           {"reject_double_preserve": False}, "single_owner",
           detect=_m3, calls=frozenset({"preserve_fd"})),
    Defect("LUO-M4", "a failed retrieve() is forgotten",
           "kernel/liveupdate/luo_file.c: luo_retrieve_file (= KHO-M12); "
           "fix 'liveupdate: luo_file: remember retrieve() status'",
           {"remember_retrieve_status": False}, "no_free_while_preserved",
           detect=_m4, calls=frozenset({"retrieve_fd"})),
    Defect("LUO-M4f", "memfd finish discards a file whose retrieve failed",
           "mm/memfd_luo.c: memfd_luo_finish (its retrieve_status check, the memfd half "
           "of 'liveupdate: luo_file: remember retrieve() status', 7.0)",
           {"finish_skips_failed_retrieve": False}, "restore_once",
           detect=_m4f, calls=frozenset({"finish", "close_session"})),
    Defect("LUO-M5", "unfreeze clears serialized_data",
           "kernel/liveupdate/luo_file.c: luo_file_unfreeze_one (= KHO-M13); "
           "fix 'liveupdate: luo_file: do not clear serialized_data on unfreeze'",
           {"keep_handle_on_unfreeze": False}, "failed_reboot_restores",
           detect=_m5, calls=REBOOT_ACTIONS),
    Defect("LUO-M7a", "PRESERVE_FD accepted on an incoming session",
           "kernel/liveupdate/luo_session.c: luo_session_preserve_fd; "
           "fix 'liveupdate: validate session type before performing operation'",
           {"kind_check_preserve": False}, "ops_on_right_side",
           detect=_m7, calls=frozenset({"preserve_fd"}), reports_as="LUO-M7"),
    Defect("LUO-M7b", "RETRIEVE_FD accepted on an outgoing session",
           "kernel/liveupdate/luo_session.c: luo_session_retrieve_fd; same fix",
           {"kind_check_retrieve": False}, "ops_on_right_side",
           detect=_m7, calls=frozenset({"retrieve_fd"}), reports_as="LUO-M7"),
    Defect("LUO-M7c", "FINISH accepted on an outgoing session",
           "kernel/liveupdate/luo_session.c: luo_session_finish; same fix",
           {"kind_check_finish": False}, "ops_on_right_side",
           detect=_m7, calls=frozenset({"finish"}), reports_as="LUO-M7"),
    Defect("LUO-M10/G1", "kho_finalize() failure leaves files frozen",
           "kernel/liveupdate/luo_core.c: liveupdate_reboot (6.19 with kho_finalize); "
           "fix luo_session_abort_reboot (linux-mm kernel/liveupdate/luo_session.c)",
           {"kho_finalize": True, "abort_reboot_unfreezes": False},
           "nothing_frozen_while_running",
           detect=_m10, calls=REBOOT_ACTIONS),
    Defect("LUO-M18", "the kexec path unwinds without aborting LUO's reboot",
           "kernel/kexec_core.c: kernel_kexec (error paths after liveupdate_reboot); "
           "fix 'kexec: abort liveupdate handover on kernel_kexec() unwind' "
           "(luo_session_abort_reboot)",
           {"abort_reboot_unfreezes": False}, "nothing_frozen_while_running",
           detect=_m18, calls=frozenset({"kernel_kexec", "reboot"})),
    Defect("LUO-M19", "a context-preserving kexec serializes and comes back frozen",
           "kernel/kexec_core.c: kernel_kexec (liveupdate_reboot before the "
           "preserve_context branch); fix 'liveupdate: skip serialization for "
           "context-preserving kexec' (7.2, title only)",
           {"skip_serialize_preserve_context": False}, "nothing_frozen_while_running",
           detect=_m19, calls=frozenset({"kernel_kexec", "reboot"})),
    Defect("LUO-M20", "FINISH leaves the session listed and retrievable",
           "kernel/liveupdate/luo_session.c: luo_session_finish (the newest kernel "
           "unlinks the session after finishing its files; the mutant only clears "
           "retrieved)",
           {"finish_unlinks_list": False}, "finished_sessions_unlisted",
           detect=_m20, calls=frozenset({"finish"})),
    Defect("LUO-M11", "sessions mutated while reboot() serializes",
           "kernel/liveupdate/luo_session.c: luo_session_serialize against "
           "luo_session_release / luo_session_preserve_fd (= KHO-M15); "
           "fix 'liveupdate: block session mutations during reboot'",
           {"block_mutations_in_reboot": False}, "no_free_while_preserved",
           detect=_m11, calls=frozenset({"preserve_fd", "close_session"})),
    Defect("LUO-M13", "session stuck after a vetoed finish on close",
           "kernel/liveupdate/luo_session.c: luo_session_release (6.19); the linux-mm "
           "luo_session_release clears retrieved on a failed release",
           {"retrievable_after_vetoed_close": False}, "recoverable",
           detect=_m13, calls=frozenset({"close_session"})),
    Defect("KHO-M2", "a failed finalize (abort) wipes every client's preservations",
           "kernel/kexec_handover.c: kho_abort (6.16-6.18); "
           "fix 'kho: don't unpreserve memory during abort'",
           {"kho_finalize": True, "abort_keeps_preservations": False}, "metadata_tracked"),
    Defect("KHO-M4", "unpreserve uses other keys than preserve (a no-op), then frees",
           "kernel/liveupdate/kexec_handover.c: kho_unpreserve_vmalloc; "
           "fix 'kho: fix unpreservation of higher-order vmalloc preservations'",
           {"unpreserve_untracks_ser": False}, "no_free_while_preserved"),
    Defect("KHO-M7", "KHO / LUO metadata allocated inside the scratch area",
           "kernel/liveupdate/kexec_handover.c: xa_load_or_alloc; "
           "fix 'kho: allocate metadata directly from the buddy allocator'",
           {"metadata_outside_scratch": False}, "no_preserved_in_scratch",
           bounds={"scratch": 1, "pages": 6}),
    Defect("KHO-M9", "a failed preserve reports success",
           "kernel/liveupdate/kexec_handover.c: kho_preserve_vmalloc; "
           "fix 'kho: kho_preserve_vmalloc(): don't return 0 when ENOMEM'",
           {"preserve_error_reported": False}, "metadata_tracked"),
    Defect("KHO-M11", "a failed memfd retrieve never restores the folios after the "
           "failing one (= MF3)",
           "mm/memfd_luo.c: memfd_luo_retrieve_folios (put_folios); fix 3538f90ab89a "
           "'mm/memfd_luo: fix physical address conversion in put_folios cleanup'",
           {"put_folios_restores_rest": False}, "no_orphan_page", bounds={"folios": 2},
           detect=_k11, calls=frozenset({"retrieve_fd"})),
    Defect("KHO-M17", "the next kernel reserves less than the handed-over block",
           "kernel/liveupdate/kexec_handover.c: kho_preserved_memory_reserve; "
           "fix 'kho: fix size calculation in kho_preserved_memory_reserve()'",
           {"reserve_covers_block": False}, "no_free_while_preserved"),
    Defect("KHO-M18", "an owner frees preserved folios without unpreserving them",
           "lib/test_kho.c: kho_test_exit; "
           "fix 'kho: test: clean up residual memory upon test_kho module unload'",
           {"unpreserve_untracks_folios": False}, "cancel_releases_all"),
    Defect("KHO-M21", "the KHOP stamp is lost before restore",
           "kernel/liveupdate/kexec_handover.c: kho_memory_init, kho_restore_page; "
           "fix 'kho: mm: don't allow deferred struct page with KHO'",
           {"stamps_survive_boot": False}, "restore_once"),
    Defect("MF7", "a memfd preserve that fails after KHO-preserving its folios leaves "
           "them preserved",
           "mm/memfd_luo.c: memfd_luo_preserve_folios (its err_unpreserve unwinding; no "
           "public fix: the mutant deletes the unwinding)",
           {"preserve_undoes_kho_preserve": False}, "no_free_while_preserved",
           detect=_mf7, calls=frozenset({"preserve_fd"})),
    Defect("O1", "PREPARE keeps PREPARED when kho_finalize() fails",
           "googleprodkernel/linux-liveupdate v3/v4 "
           "kernel/liveupdate/luo_core.c: luo_prepare (state set before kho_finalize)",
           {"prepare_rolls_back_on_finalize_error": False}, "update_delivers_prepared",
           base="legacy",
           detect=_o1, calls=frozenset({"prepare"})),
    Defect("O2", "CANCEL gives up when kho_abort() fails (reached through O1)",
           "googleprodkernel/linux-liveupdate v3/v4 "
           "kernel/liveupdate/luo_core.c: luo_cancel (kho_abort first); alone it is "
           "unobservable: only O1 leaves PREPARED without finalized KHO",
           {"prepare_rolls_back_on_finalize_error": False,
            "cancel_without_finalized_kho": False},
           "cancel_returns_to_normal", base="legacy",
           detect=_o2, calls=frozenset({"cancel"})),
    Defect("O3", "a FREEZE failure cancels only the files before the failing one",
           "googleprodkernel/linux-liveupdate v3 "
           "kernel/liveupdate/luo_files.c: luo_files_freeze (luo_freeze's kernel-doc "
           "says everything is canceled)",
           {"freeze_failure_cancels_all": False}, "no_free_while_preserved", base="legacy",
           detect=_o3, calls=frozenset({"freeze", "reboot"})),
    Defect("O4", "FD_RESTORE marks the file reclaimed before retrieve() runs",
           "googleprodkernel/linux-liveupdate v3 "
           "kernel/liveupdate/luo_files.c: luo_retrieve_file",
           {"reclaim_after_retrieve": False},
           "finish_disposes", base="legacy",
           detect=_o4, calls=frozenset({"retrieve_fd"})),
    Defect("O5", "FREEZE with nothing prepared returns an uninitialized value",
           "googleprodkernel/linux-liveupdate v4 "
           "kernel/liveupdate/luo_session.c: luo_session_freeze",
           {"freeze_ret_initialized": False},
           "freeze_fails_only_on_error", base="legacy",
           detect=_o5, calls=frozenset({"freeze", "reboot"})),
    Defect("O6", "closing /dev/liveupdate in PREPARED unregisters the files, stays PREPARED",
           "googleprodkernel/linux-liveupdate v3 "
           "kernel/liveupdate/luo_ioctl.c: luo_release",
           {"close_cancels_prepared": False},
           "cancel_returns_to_normal", base="legacy",
           detect=_o6, calls=frozenset({"close_session"})),
)

#: id -> why the model cannot express it (or why it is unobservable on top of upstream)
NOT_EXPRESSIBLE: dict[str, str] = {
    "LUO-M6": "session names are classes in the model (new, dup, invalid): an accepted "
              "invalid name is a fresh or duplicate name there, no page changes owner; the "
              "reference implementation has the rule (luo_session.session_name), "
              "hand-written traces and the selftest scenarios check it",
    "LUO-M8": "GET_NAME and ioctl argument sizes are not modelled",
    "LUO-M9": "ioctl reserved fields are not modelled",
    "LUO-M12": "a use-after-free between two concurrent calls: each call is atomic in the "
               "model",
    "LUO-M14": "File-Lifecycle-Bound objects (7.0+) are not modelled",
    "LUO-M15": "FLB lazy init, handler registration and module unload are not modelled",
    "LUO-M16": "string printing is out of scope for a state model",
    "LUO-M17": "cosmetic (a redundant bound check)",
    "KHO-M1": "non-termination of unpreserve: the model has no liveness of a single call",
    "KHO-M3": "needs a preserve after finalize, which upstream blocks (LUO-M11 fix): "
              "unobservable on top of upstream",
    "KHO-M5": "chunk layout of vmalloc preservations is not modelled (one page per block)",
    "KHO-M6": "unobservable on top of upstream: no upstream path restores an unstamped page "
              "(the stamp check is defence in depth; v6.19 keeps it)",
    "KHO-M8": "struct-page compound/order shape is not modelled",
    "KHO-M10": "one page allocator in the model",
    "KHO-M12": "= LUO-M4",
    "KHO-M13": "= LUO-M5",
    "KHO-M14": "= LUO-M3",
    "KHO-M15": "= LUO-M11",
    "KHO-M16": "= MF1/MF2",
    "KHO-M19": "= LUO-M1",
    "KHO-M20": "NUMA nodes are not modelled",
    "MF1": "folio uptodate flags are not modelled (content tags only)",
    "MF2": "folio dirty flags and reclaim are not modelled",
    "MF3": "= KHO-M11",
    "MF4": "integer sizes are abstract (at most 2 folios per memfd)",
    "MF5": "an accounting failure is one cause of the retrieve fault insert:K, but the "
           "bug (a put folio left in the page cache) needs page reference counts, which "
           "the model does not keep",
    "MF6": "inode size updates are not modelled",
}

BY_ID: dict[str, Defect] = {d.id: d for d in DEFECTS}


def resolve(mid: str) -> str | None:
    """The catalogue id a user's mutant id stands for: itself, or the one an alias in
    :data:`NOT_EXPRESSIBLE` names (``MF3`` -> ``KHO-M11``, ``KHO-M19`` -> ``LUO-M1``);
    None when there is no such mutant."""
    if mid in BY_ID:
        return mid
    target = NOT_EXPRESSIBLE.get(mid, "").removeprefix("= ")
    return target if target in BY_ID else None

#: the reported defect ids that a detector recognises, in catalogue order (bit i of
#: :func:`classify` is ``REPORTED[i]``)
REPORTED: tuple[str, ...] = tuple(dict.fromkeys(d.reported for d in DEFECTS if d.detect))


def _detects(d: Defect) -> Detector:
    assert d.detect is not None
    return d.detect


#: reported id -> the detectors of its rows
_DETECTORS: dict[str, tuple[Detector, ...]] = {
    rid: tuple(dict.fromkeys(_detects(d) for d in DEFECTS if d.detect and d.reported == rid))
    for rid in REPORTED}


def diagnose(steps: Sequence[tuple[State, Action, Outcome[State]]]) -> list[str]:
    """Ids of the defects whose buggy step occurs in a trace, in order of appearance."""
    found: list[str] = []
    for pre, action, out in steps:
        for rid in REPORTED:
            if rid not in found and any(f(pre, action, out) for f in _DETECTORS[rid]):
                found.append(rid)
    return found


#: which detectors can fire for a call (from each row's ``calls``); the explorer
#: classifies every new transition, so the others are not even asked
_BY_CALL: dict[str, tuple[tuple[int, Detector], ...]] = {}
for _d in DEFECTS:
    for _call in sorted(_d.calls):
        _entry = (1 << REPORTED.index(_d.reported), _detects(_d))
        if _entry not in _BY_CALL.get(_call, ()):
            _BY_CALL[_call] = (*_BY_CALL.get(_call, ()), _entry)


def labels_of_call(call: str) -> int:
    """Every label :func:`classify` can give a call named ``call`` (0: never asked)."""
    mask = 0
    for bit, _detect in _BY_CALL.get(call, ()):
        mask |= bit
    return mask


def classify(pre: State, action: Action, out: Outcome[State]) -> int:
    """Bitmask of the defects (bit i = ``REPORTED[i]``) this transition exhibits."""
    mask = 0
    for bit, detect in _BY_CALL.get(action.name, ()):
        if detect(pre, action, out):
            mask |= bit
    return mask
