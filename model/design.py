"""Designs: the policy choices where kernel versions differ, read by the model.

A :class:`Design` is a value. Each flag names one fix of a defect catalogued in
``specs/defects.py`` (ids such as LUO-M7, KHO-M6, O1) and is ``True`` when the kernel has
that fix. Profiles:

* ``upstream`` -- every fix in the catalogue; all safety properties must hold.
* ``v6.19``   -- the kernel as released (2025-11-27 LUO v8 + KHO 6.19).
* ``legacy``  -- the v3/v4 review series' global state machine (NORMAL / PREPARED /
  FROZEN / UPDATED), its defects O1-O6 fixed (``model/legacy.py``).

A reviewer's variant is a Python file that defines ``DESIGN``, usually derived from a
profile with :func:`dataclasses.replace`::

    from dataclasses import replace
    from luoverify.model.design import PROFILES
    DESIGN = replace(PROFILES["upstream"], name="no-kind-check", check_session_kind=False)

It may also define ``STEPS``, a dict that replaces kernel steps by name: keys
``model.<method of luoverify.model.luo.Kernel>`` for the model and
``reference.kernel.<method of luoverify.reference.luo_core.Kernel>`` or
``reference.memfd.<op of luoverify.reference.memfd_luo.MemfdHandler>`` for the
reference implementation (for the ``legacy`` machine also the methods its subclasses
add: ``model.legacy.LegacyKernel``, ``reference.luo_legacy.LegacyKernel`` and
``LegacyMemfdHandler``); each value is a function taking ``self`` and the original
arguments. Replace a step on both sides, so that replay and the differential test keep
comparing like with like.
"""

from __future__ import annotations

import collections
import contextlib
import functools
import inspect
import sys
import traceback
import types
from dataclasses import dataclass, fields
from typing import Any


class DesignError(Exception):
    """A design name or design file the user gave cannot be used (one-line message)."""


@dataclass(frozen=True, slots=True)
class Design:
    """Kernel policy flags. ``True`` means "the kernel has the fix"."""

    name: str
    #: LUO-M7 fix "validate session type before performing operation": PRESERVE_FD on an
    #: incoming session and RETRIEVE_FD / FINISH on an outgoing one fail with EINVAL.
    check_session_kind: bool = True
    #: LUO-M3 fix "prevent double management of files": a memfd already managed by LUO
    #: (preserved, or retrieved and not finished) cannot be preserved again: EBUSY.
    reject_double_preserve: bool = True
    #: LUO-M4 fix "remember retrieve() status": a failed retrieve is recorded; later
    #: retrieves return the same errno and finish does not touch the file's data.
    remember_retrieve_status: bool = True
    #: LUO-M5 fix "do not clear serialized_data on unfreeze".
    keep_handle_on_unfreeze: bool = True
    #: 6.19-7.0: liveupdate_reboot() calls kho_finalize() after serialization and fails
    #: with EAGAIN when it fails. Stateless KHO (7.1+) has no finalize step.
    kho_finalize: bool = False
    #: LUO-M10 / LUO-M18 fix (``kernel/liveupdate/luo_session.c``:
    #: ``luo_session_abort_reboot``; "kexec: abort liveupdate handover on kernel_kexec()
    #: unwind"): when the reboot fails after a successful serialization -- kho_finalize()
    #: fails (designs with ``kho_finalize``), or the rest of the kexec path fails
    #: (``kernel_kexec`` fault ``unwind``, every design) -- every serialized session is
    #: unfrozen in creation order and the reboot gate opens again.
    abort_reboot_unfreezes: bool = True
    #: LUO-M11 / KHO-M15 fix "block session mutations during reboot", as the newest
    #: ``luo_session.c`` has it: a ``rebooting`` flag apart from the machine's phase, set
    #: when serialization starts and cleared when it fails or is aborted. While it is set
    #: CREATE_SESSION and PRESERVE_FD fail with EBUSY, closing an outgoing session waits,
    #: and a second serialization fails with EBUSY; serialization's own array allocation
    #: may fail (ENOMEM) before anything is frozen. 6.19 has no flag: create and the
    #: unlink of a close block on the outgoing rwsem while the reboot runs.
    block_mutations_in_reboot: bool = True
    #: "liveupdate: skip serialization for context-preserving kexec" (7.2, title only):
    #: a kexec that returns to the same kernel (KEXEC_PRESERVE_CONTEXT) leaves LUO alone.
    #: Without it (6.19, LUO-M19) liveupdate_reboot() serializes, the jump comes back and
    #: every file stays frozen behind a closed reboot gate.
    skip_serialize_preserve_context: bool = True
    #: N1 session lifetime (linux-mm ``kernel/liveupdate/luo_session.c``:
    #: ``luo_session_finish``): a successful FINISH unlinks the session from the incoming
    #: list and clears ``retrieved``; a second FINISH or a RETRIEVE_FD on its fd fails with
    #: EINVAL, RETRIEVE_SESSION of its name with ENOENT. 6.19 keeps it listed and
    #: retrieved (FINISH again: 0, RETRIEVE_SESSION: EINVAL).
    finish_unlinks_session: bool = True
    #: LUO-M20 mutant of the above: FINISH clears ``retrieved`` but leaves the session on
    #: the incoming list, so RETRIEVE_SESSION hands the finished session out again.
    #: Effective only with ``finish_unlinks_session``.
    finish_unlinks_list: bool = True
    #: LUO-M13 (later ``luo_session_release``, linux-mm ``kernel/liveupdate/luo_session.c``):
    #: closing a retrieved session whose finish is vetoed clears ``retrieved`` so the
    #: session can be retrieved again; 6.19 leaves it stuck (EINVAL).
    retrievable_after_vetoed_close: bool = True
    #: KHO-M6 fix: kho_restore_*() checks and erases the KHOP stamp (6.18+), so a page can
    #: be restored at most once and only if it was handed over.
    restore_checks_stamp: bool = True
    #: LUO-M6 fix "reject LIVEUPDATE_IOCTL_CREATE_SESSION with invalid name length": an
    #: empty name, or 64 bytes without a NUL, fails with EINVAL before the session code
    #: runs (6.19 truncates to 63 characters). The model's names are classes
    #: (``new``/``dup``/``invalid``); where a concrete name is classified, and why, is in
    #: ``reference/luo_session.py``: ``session_name``.
    validate_session_name: bool = True
    #: LUO-M1 fix (307e0c5859b0 "liveupdate: propagate file deserialization failures";
    #: ``kernel/liveupdate/luo_session.c``: ``luo_session_deserialize``): a file whose
    #: handler is missing fails the whole deserialization, so the first open of
    #: /dev/liveupdate fails with EIO. 6.19 drops the error: the open succeeds and the
    #: session lacks that file and every later one.
    deserialize_propagates_file_errors: bool = True
    #: LUO-M2 fix ("liveupdate: fix return value on session allocation failure"): the
    #: result of deserialization is cached for every failure, so every later open fails
    #: with EIO too. 6.19 caches it only for a failed insert: after a failed session
    #: allocation the first open gives EIO and the second one succeeds over the sessions
    #: deserialized before the failure.
    deserialize_caches_alloc_error: bool = True
    #: N1 (linux-mm ``luo_session.c``: ``luo_session_discard_deserialized``): on any
    #: deserialization failure every session and file deserialized so far is discarded.
    #: 6.19 keeps them on the incoming list.
    discard_deserialized: bool = True
    #: N1 checks the serialized records (session count, NUL-terminated names): a corrupt
    #: record fails deserialization with EINVAL. 6.19 does not look, so the model offers
    #: no corrupt record there.
    deserialize_validates_records: bool = True
    #: **Design choice**, not kernel fact: what the per-file discard
    #: (``luo_file.c``: ``luo_file_abort_deserialized``, not in any readable copy) does
    #: with a discarded file's pages. ``False`` (the model's default): nothing restores
    #: them; they stay memblock-reserved until the next kexec (the safe reading: a page is
    #: never freed that a handler might still refer to, and a file whose handler is
    #: missing could not be asked anyway). ``True``: the handler's finish(retrieved=false)
    #: runs on every discarded file that has a handler (restore and free its folios and
    #: ser) and the files block is restore-freed; the failing file and the records never
    #: deserialized stay reserved until the next kexec either way.
    discard_reclaims_pages: bool = False
    #: 2026-06 "linked blocks": sessions and files live in linked blocks, so the 6.19
    #: limits (819 outgoing sessions: ENOMEM; 128 files per session: ENOSPC) are gone.
    #: Reference implementation only: the model's bounds are far below both limits.
    linked_blocks: bool = True

    #: LUO-M7 has three wrong-side operations; a mutant can leave one unchecked.
    #: Effective only with ``check_session_kind``.
    kind_check_preserve: bool = True
    kind_check_retrieve: bool = True
    kind_check_finish: bool = True
    #: KHO-M2 fix "kho: don't unpreserve memory during abort": a failed kho_finalize()
    #: keeps every client's preservations (only with ``kho_finalize``).
    abort_keeps_preservations: bool = True
    #: KHO-M4 fix: unpreserve undoes the ser / folio-array preservation with the same keys
    #: preserve used (the mutant's unpreserve is a no-op for it, then frees it).
    unpreserve_untracks_ser: bool = True
    #: KHO-M18 fix: an owner unpreserves its folios before freeing them.
    unpreserve_untracks_folios: bool = True
    #: KHO-M7 fix: KHO / LUO metadata is never allocated inside the scratch area.
    metadata_outside_scratch: bool = True
    #: KHO-M9 fix: a failed preserve returns its error (the mutant rolls back, returns 0).
    preserve_error_reported: bool = True
    #: 7.x memfd preserves the file's seals (``mm/memfd_luo.c``: ``memfd_luo_preserve``,
    #: ``memfd_luo_retrieve``): preserve and retrieve refuse seals this version does not
    #: know (EOPNOTSUPP: the fault point ``seals`` of both). 6.19 drops seals: neither
    #: step exists there.
    memfd_preserves_seals: bool = True
    #: MF4 fix ("fix integer overflow in memfd_luo_preserve_folios", 7.1): preserve
    #: refuses a memfd with more folios than memfd_pin_folios() can pin (EFBIG: the fault
    #: point ``size``). 6.19 has no such check.
    preserve_checks_size: bool = True
    #: MF7 (the cleanup of ``mm/memfd_luo.c``: ``memfd_luo_preserve_folios``,
    #: ``err_unpreserve``): a preserve that fails after KHO-preserving its folios
    #: unpreserves them again (the mutant leaves them tracked while the memfd keeps them).
    preserve_undoes_kho_preserve: bool = True
    #: KHO-M11 / MF3 fix (3538f90ab89a "mm/memfd_luo: fix physical address conversion in
    #: put_folios cleanup", 7.1): when a folio fails in memfd retrieve's per-folio loop,
    #: the cleanup restores and puts every later folio. The bug passed a pfn where an
    #: address is expected, so they were never restored: reserved, named by nothing.
    put_folios_restores_rest: bool = True
    #: LUO-M4f (the memfd half of the LUO-M4 fix, ``mm/memfd_luo.c``:
    #: ``memfd_luo_finish``): finish does nothing for a file whose retrieve failed. The
    #: mutant checks for success only, so finish discards the failed file's data again:
    #: it restores pages the failed retrieve already restored and freed.
    finish_skips_failed_retrieve: bool = True
    #: KHO-M17 fix: the next kernel reserves the whole handed-over block (the mutant's
    #: reservation misses the files block).
    reserve_covers_block: bool = True
    #: KHO-M21 fix: the KHOP stamp written at boot survives until restore.
    stamps_survive_boot: bool = True

    #: The v3/v4 review-series global state machine (NORMAL / PREPARED / FROZEN /
    #: UPDATED; v3/v4 ``kernel/liveupdate/luo_core.c``: ``luo_prepare`` / ``luo_freeze`` /
    #: ``luo_cancel`` / ``luo_finish``) instead of sessions: ``model/legacy.py`` and
    #: ``reference/luo_legacy.py``. The flags below are its fixes (O1-O6 in
    #: ``specs/defects.py``) and are read only when ``legacy`` is set; the flags above
    #: keep their meaning where the legacy machine shares the code (memfd handler, KHO,
    #: page allocator).
    legacy: bool = False
    #: O1 fix: a PREPARE whose kho_finalize() fails rolls back to NORMAL (v3 returns the
    #: error and stays PREPARED with KHO not finalized).
    prepare_rolls_back_on_finalize_error: bool = True
    #: O2 fix: CANCEL proceeds when KHO is not finalized (v3 calls kho_abort() first and
    #: gives up with its ENOENT, so such a PREPARED state can never be cancelled).
    cancel_without_finalized_kho: bool = True
    #: O3 fix: a FREEZE failure cancels everything and aborts KHO, as documented (v3
    #: cancels only the files before the failing one, sets NORMAL and leaves KHO
    #: finalized).
    freeze_failure_cancels_all: bool = True
    #: O4 fix: FD_RESTORE marks a file reclaimed only after retrieve succeeded (v3 marks
    #: it first: a failed retrieve cannot be retried and finish skips the file).
    reclaim_after_retrieve: bool = True
    #: O5 fix: FREEZE with nothing PREPARED returns 0 (v4 returns an uninitialized int).
    freeze_ret_initialized: bool = True
    #: O6 fix: closing /dev/liveupdate while PREPARED / FROZEN cancels first (v3 cancels
    #: and unregisters the files, but the global state stays PREPARED, KHO finalized).
    close_cancels_prepared: bool = True

    #: replaced steps from a variant file: ``(("model.<Kernel method>", fn), ...)`` and
    #: ``(("reference.kernel.<Kernel method>" | "reference.memfd.<handler op>", fn), ...)``
    #: (see ``luoverify.checks.designs.load_design``). Empty for every profile and mutant.
    steps: tuple[tuple[str, Any], ...] = ()
    #: the profile this design derives from (a variant made with ``replace(PROFILES[...],
    #: ...)`` keeps it): coverage of a variant is judged against its base's expected
    #: outcomes, and what the variant adds or removes is reported as its behaviour change
    base: str = ""

    def base_profile(self) -> Design | None:
        """The profile this design is a variant of, or None when it is a profile itself
        (same flags, no replaced steps) or names no profile."""
        base = PROFILES.get(self.base)
        if base is None or (not self.steps and self.flags() == base.flags()):
            return None
        return base

    def checks_kind(self, op: str) -> bool:
        """Does the kernel reject ``op`` ('preserve', 'retrieve', 'finish') on the wrong
        side of kexec with EINVAL (the LUO-M7 fix)?"""
        if not self.check_session_kind:
            return False
        if op == "preserve":
            return self.kind_check_preserve
        if op == "retrieve":
            return self.kind_check_retrieve
        if op == "finish":
            return self.kind_check_finish
        raise ValueError(f"unknown session op {op!r}")

    def flags(self) -> dict[str, bool]:
        return {f.name: getattr(self, f.name) for f in fields(self)
                if f.name not in ("name", "steps", "base")}

    def install_steps(self, target: Any, prefix: str, *,
                      only: frozenset[str] | None = None,
                      skip: frozenset[str] = frozenset()) -> None:
        """Bind this design's replaced steps named ``prefix + method`` as methods of
        ``target`` (a kernel object of the model or of the reference implementation).

        Each runs guarded (see ``_guarded``): the variant's code raising, exiting or
        returning a value of the wrong type raises :class:`DesignError` naming the step
        and the line, which the CLI reports as the user's input error (exit 2).
        """
        for name, fn in self.steps:
            if name.startswith(prefix):
                method = name[len(prefix):]
                if method in skip or (only is not None and method not in only):
                    continue
                original = getattr(type(target), method, None)
                if original is None:  # a step of the other machine (legacy vs sessions)
                    continue
                setattr(target, method, types.MethodType(_guarded(name, fn, original), target))

    def step(self, where: str) -> Any:
        """The replacement for step ``where`` (e.g. ``model.memfd_luo_unpreserve``)."""
        for name, fn in self.steps:
            if name == where:
                return fn
        return None

    def describe(self) -> str:
        off = [k for k, v in self.flags().items()
               if not v and k not in ("kho_finalize", "legacy", *DESIGN_CHOICES)]
        extra = ["kho_finalize"] if self.kho_finalize else []
        extra += [k for k in DESIGN_CHOICES if self.flags()[k]]
        if self.discard_reclaims_pages and not self.discard_deserialized:
            extra[-1] += " (no effect: the design does not discard)"
        extra += ["the legacy v3/v4 global state machine"] if self.legacy else []
        parts = [f"without {', '.join(off)}"] if off else ["all fixes"]
        if extra:
            parts.append("with " + ", ".join(extra))
        if self.steps:
            parts.append("replaced steps: " + ", ".join(name for name, _fn in self.steps))
        return f"{self.name} ({'; '.join(parts)})"


#: flags that are readings of unreadable kernel source, not fixes: ``True`` is not "the
#: kernel has the fix", so describe() names them only when set
DESIGN_CHOICES: tuple[str, ...] = ("discard_reclaims_pages",)

#: how often each replaced step ran (step key -> calls), so that a step a run never
#: reached can be reported; the CLI clears it before a run
STEP_CALLS: collections.Counter[str] = collections.Counter()

#: the largest errno a kernel call returns (include/linux/err.h: MAX_ERRNO)
MAX_ERRNO = 4095


def _guarded(name: str, fn: Any, original: Any) -> Any:
    """``fn`` (a variant's step ``name``, replacing ``original``) with its failures turned
    into DesignError: it raising anything but KeyboardInterrupt (a real Ctrl-C), exiting,
    or returning a value of another type than ``original`` is annotated to return (an
    int: 0 or -errno for a kernel call; None; a bool). What it prints goes to stderr, so
    that a report on stdout stays intact."""
    returns = getattr(inspect.signature(original), "return_annotation", None)

    @functools.wraps(fn)
    def step(*args: Any, **kwargs: Any) -> Any:
        STEP_CALLS[name] += 1
        try:
            with contextlib.redirect_stdout(sys.stderr):
                result = fn(*args, **kwargs)
        except (DesignError, KeyboardInterrupt):
            raise
        except BaseException as exc:
            raise DesignError(f"replaced step STEPS[{name!r}]{_raised_at(exc, fn)} raised "
                              f"{type(exc).__name__}: {exc}") from None
        problem = _wrong_return(result, returns)
        if problem:
            code = getattr(fn, "__code__", None)
            where = f" ({code.co_filename}:{code.co_firstlineno})" if code else ""
            raise DesignError(f"replaced step STEPS[{name!r}]{where} returned "
                              f"{result!r:.80}; {problem}")
        return result

    return step


def line_in_file(exc: BaseException, filename: str) -> int | None:
    """The line of file ``filename`` innermost in ``exc``'s traceback, or None: where a
    user's design code raised (also used by the design loader)."""
    line = None
    for frame, lineno in traceback.walk_tb(exc.__traceback__):
        if frame.f_code.co_filename == filename:
            line = lineno
    return line


def _raised_at(exc: BaseException, fn: Any) -> str:
    """' (file:line)' of the innermost frame of ``fn``'s file where ``exc`` was raised."""
    code = getattr(fn, "__code__", None)
    if code is None:
        return ""
    line = line_in_file(exc, code.co_filename) or code.co_firstlineno
    return f" ({code.co_filename}:{line})"


def _wrong_return(result: Any, returns: Any) -> str | None:
    """Why ``result`` cannot be what a method annotated ``returns`` returns, or None."""
    if returns in ("int", int):
        if type(result) is not int:
            return "the step returns an int (a kernel call: 0 or -errno)"
        if not -MAX_ERRNO <= result <= MAX_ERRNO:
            return f"a return code lies in -{MAX_ERRNO}..{MAX_ERRNO}"
    elif returns in ("None", None) and result is not None:
        return "the step returns nothing (None)"
    elif returns in ("bool", bool) and type(result) is not bool:
        return "the step returns a bool"
    return None


UPSTREAM = Design(name="upstream", base="upstream")

V6_19 = Design(
    name="v6.19",
    base="v6.19",
    check_session_kind=False,
    reject_double_preserve=False,
    remember_retrieve_status=False,
    keep_handle_on_unfreeze=False,
    kho_finalize=True,
    abort_reboot_unfreezes=False,
    block_mutations_in_reboot=False,
    retrievable_after_vetoed_close=False,
    skip_serialize_preserve_context=False,
    finish_unlinks_session=False,
    restore_checks_stamp=True,
    validate_session_name=False,
    deserialize_propagates_file_errors=False,
    deserialize_caches_alloc_error=False,
    discard_deserialized=False,
    deserialize_validates_records=False,
    # 6.19's memfd retrieve cleanup has the KHO-M11 bug; its memfd_luo_finish() returns
    # only for a successful retrieve (moot there: 6.19 never records a failure, LUO-M4)
    put_folios_restores_rest=False,
    finish_skips_failed_retrieve=False,
    memfd_preserves_seals=False,
    preserve_checks_size=False,
    linked_blocks=False,
)

#: The v3/v4 review series' global state machine with its defects O1-O6 (specs/defects.py)
#: fixed; KHO of that era finalizes at PREPARE and refuses (un)preserve while finalized.
LEGACY = Design(name="legacy", base="legacy", legacy=True)

PROFILES: dict[str, Design] = {d.name: d for d in (UPSTREAM, V6_19, LEGACY)}
DEFAULT_DESIGN = "upstream"
