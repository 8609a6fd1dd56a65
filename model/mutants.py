"""The mutant catalogue: every real LUO / KHO defect of ``shared/reference`` that the model
can express, as a design with that one defect injected on top of ``upstream`` (or, for
the old global state machine's defects O1-O6, on top of ``legacy``).

Each mutant names its source (section and the upstream fix), the Design flags it turns off,
the property it is expected to break, and any bound it needs to be observable (e.g. pages
in the scratch area). Defects the model cannot express are listed in
:data:`NOT_EXPRESSIBLE` with the reason. Both the model and the reference implementation
read the same flags, so a mutant exists in both. ``luo-verify mutants`` runs them all;
``--design mutant:ID`` checks one.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from luoverify.model.design import PROFILES, Design


@dataclass(frozen=True)
class Mutant:
    id: str
    title: str
    source: str
    changes: dict[str, bool]
    expect: str
    bounds: dict[str, Any] = field(default_factory=dict)
    #: the profile the defect is injected into: upstream, or legacy for O1-O6
    base: str = "upstream"

    def design(self) -> Design:
        changes: dict[str, Any] = dict(self.changes)
        return replace(PROFILES[self.base], name=f"mutant:{self.id}", **changes)


MUTANTS: tuple[Mutant, ...] = (
    Mutant("LUO-M3", "the same memfd preserved twice",
           "L§6 M3; fix 'liveupdate: prevent double management of files'",
           {"reject_double_preserve": False}, "single_owner"),
    Mutant("LUO-M4", "a failed retrieve() is forgotten",
           "L§6 M4 (= KHO-M12); fix 'liveupdate: luo_file: remember retrieve() status'",
           {"remember_retrieve_status": False}, "no_free_while_preserved"),
    Mutant("LUO-M5", "unfreeze clears serialized_data",
           "L§6 M5 (= KHO-M13); fix 'liveupdate: luo_file: do not clear serialized_data "
           "on unfreeze'", {"keep_handle_on_unfreeze": False}, "failed_reboot_restores"),
    Mutant("LUO-M7a", "PRESERVE_FD accepted on an incoming session",
           "L§6 M7; fix 'liveupdate: validate session type before performing operation'",
           {"kind_check_preserve": False}, "ops_on_right_side"),
    Mutant("LUO-M7b", "RETRIEVE_FD accepted on an outgoing session",
           "L§6 M7; same fix", {"kind_check_retrieve": False}, "ops_on_right_side"),
    Mutant("LUO-M7c", "FINISH accepted on an outgoing session",
           "L§6 M7; same fix", {"kind_check_finish": False}, "ops_on_right_side"),
    Mutant("LUO-M10/G1", "kho_finalize() failure leaves files frozen",
           "L§6 M10 (6.19 with kho_finalize); fix luo_session_abort_reboot",
           {"kho_finalize": True, "abort_reboot_unfreezes": False},
           "failed_reboot_restores"),
    Mutant("LUO-M11", "sessions mutated while reboot() serializes",
           "L§6 M11 (= KHO-M15); fix 'liveupdate: block session mutations during reboot'",
           {"block_mutations_in_reboot": False}, "no_free_while_preserved"),
    Mutant("LUO-M13", "session stuck after a vetoed finish on close",
           "L§6 M13 (6.19); S7 clears retrieved on a failed release",
           {"retrievable_after_vetoed_close": False}, "recoverable"),
    Mutant("KHO-M2", "a failed finalize (abort) wipes every client's preservations",
           "K§6 M2; fix 'kho: don't unpreserve memory during abort'",
           {"kho_finalize": True, "abort_keeps_preservations": False}, "metadata_tracked"),
    Mutant("KHO-M4", "unpreserve uses other keys than preserve (a no-op), then frees",
           "K§6 M4; fix 'kho: fix unpreservation of higher-order vmalloc preservations'",
           {"unpreserve_untracks_ser": False}, "no_free_while_preserved"),
    Mutant("KHO-M7", "KHO / LUO metadata allocated inside the scratch area",
           "K§6 M7; fix 'kho: allocate metadata directly from the buddy allocator'",
           {"metadata_outside_scratch": False}, "no_preserved_in_scratch",
           bounds={"scratch": 1, "pages": 6}),
    Mutant("KHO-M9", "a failed preserve reports success",
           "K§6 M9; fix 'kho: kho_preserve_vmalloc(): don't return 0 when ENOMEM'",
           {"preserve_error_reported": False}, "metadata_tracked"),
    Mutant("KHO-M17", "the next kernel reserves less than the handed-over block",
           "K§6 M17; fix 'kho: fix size calculation in kho_preserved_memory_reserve()'",
           {"reserve_covers_block": False}, "no_free_while_preserved"),
    Mutant("KHO-M18", "an owner frees preserved folios without unpreserving them",
           "K§6 M18; fix 'kho: test: clean up residual memory upon test_kho module unload'",
           {"unpreserve_untracks_folios": False}, "cancel_releases_all"),
    Mutant("KHO-M21", "the KHOP stamp is lost before restore",
           "K§6 M21; fix 'kho: mm: don't allow deferred struct page with KHO'",
           {"stamps_survive_boot": False}, "restore_once"),
    # --- the v3/v4 global state machine (L§3), injected into the ``legacy`` profile ---
    Mutant("O1", "PREPARE keeps PREPARED when kho_finalize() fails",
           "L§6 O1, L§3.3 (v4 luo_core.c: state set before kho_finalize)",
           {"prepare_rolls_back_on_finalize_error": False}, "update_delivers_prepared",
           base="legacy"),
    Mutant("O2", "CANCEL gives up when kho_abort() fails (reached through O1)",
           "L§6 O2, L§3.3 (v4 luo_core.c); alone it is unobservable: only O1 leaves "
           "PREPARED without finalized KHO", {"prepare_rolls_back_on_finalize_error": False,
                                              "cancel_without_finalized_kho": False},
           "cancel_returns_to_normal", base="legacy"),
    Mutant("O3", "a FREEZE failure cancels only the files before the failing one",
           "L§6 O3, L§3.4, A5 (v3 luo_files.c freeze rollback)",
           {"freeze_failure_cancels_all": False}, "no_free_while_preserved", base="legacy"),
    Mutant("O4", "FD_RESTORE marks the file reclaimed before retrieve() runs",
           "L§6 O4, L§3.3 (v3 luo_files.c restore)", {"reclaim_after_retrieve": False},
           "finish_disposes", base="legacy"),
    Mutant("O5", "FREEZE with nothing prepared returns an uninitialized value",
           "L§6 O5 (v4 luo_session.c freeze)", {"freeze_ret_initialized": False},
           "freeze_fails_only_on_error", base="legacy"),
    Mutant("O6", "closing /dev/liveupdate in PREPARED unregisters the files, stays PREPARED",
           "L§6 O6, L§3.3 (v3 luo_release)", {"close_cancels_prepared": False},
           "cancel_returns_to_normal", base="legacy"),
)

#: id -> why the model cannot express it (or why it is unobservable on top of upstream)
NOT_EXPRESSIBLE: dict[str, str] = {
    "LUO-M1": "deserialization never fails in the model: every handler is registered and "
              "boot-time allocations succeed",
    "LUO-M2": "same: no session-allocation failure at deserialization is modelled",
    "LUO-M6": "session names are abstract in the model (only equality matters); the "
              "reference implementation has it (validate_session_name) and the selftest "
              "scenarios check it",
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
    "KHO-M11": "= MF3: the leak of folios on a failed retrieve needs a no-orphan-page "
               "property the catalogue does not have yet",
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
    "MF5": "page-cache accounting failures are not modelled",
    "MF6": "inode size updates are not modelled",
}

BY_ID: dict[str, Mutant] = {m.id: m for m in MUTANTS}
