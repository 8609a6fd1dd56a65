"""The step vocabulary: every kernel step a variant may replace, by one name, with its
model implementation and its reference counterpart (``luo-verify steps`` lists them).

A variant file's ``STEPS`` keys are the two sides' keys (``model.<method>``,
``reference.kernel.<method>``, ``reference.memfd.<op>``, ``reference.kho.<method>``,
``reference.alloc.<method>``). Replace a step on both sides, so that ``check --replay``
and the differential test compare like with like: replacing one side only of a paired
step is a warning (:func:`warnings`), repeated by ``check --replay``.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any

from luoverify.model import legacy as model_legacy
from luoverify.model.design import Design
from luoverify.model.luo import MODEL_LEVEL_STEPS
from luoverify.reference.luo_legacy import LegacyKernel, LegacyKho, LegacyMemfdHandler
from luoverify.reference.page_alloc import PageAllocator


@dataclass(frozen=True)
class Step:
    """One replaceable kernel step: its name, what it models, and its two sides."""

    name: str
    meaning: str
    #: the STEPS key of the model side and of the reference side (None: that side has
    #: no counterpart, e.g. a legacy-only handler op of the model's session machine)
    model: str | None
    reference: str | None


VOCABULARY: tuple[Step, ...] = (
    # --- the calls user space makes -------------------------------------------------
    Step("open_device", "open(\"/dev/liveupdate\"): exclusive, EBUSY while held; EIO once "
         "deserialization failed (luo_open)",
         "model.do_open_device", "reference.kernel.open_liveupdate"),
    Step("deserialize", "luo_session_deserialize at the first open after a kexec: rebuild "
         "the incoming sessions; on a failure discard them (N1) and cache the error",
         "model.luo_session_deserialize", "reference.kernel.luo_session_deserialize"),
    Step("close_device", "close() of /dev/liveupdate (luo_release): sessions outlive it",
         "model.do_close_device", "reference.kernel.luo_release"),
    Step("create_session", "LIVEUPDATE_IOCTL_CREATE_SESSION (luo_session_create)",
         "model.do_create_session", "reference.kernel.ioctl_create_session"),
    Step("retrieve_session", "LIVEUPDATE_IOCTL_RETRIEVE_SESSION (luo_session_retrieve)",
         "model.do_retrieve_session", "reference.kernel.ioctl_retrieve_session"),
    Step("preserve_fd", "LIVEUPDATE_SESSION_PRESERVE_FD (luo_preserve_file)",
         "model.do_preserve_fd", "reference.kernel.ioctl_preserve_fd"),
    Step("retrieve_fd", "LIVEUPDATE_SESSION_RETRIEVE_FD (luo_retrieve_file)",
         "model.do_retrieve_fd", "reference.kernel.ioctl_retrieve_fd"),
    Step("finish", "LIVEUPDATE_SESSION_FINISH (luo_session_finish)",
         "model.do_finish", "reference.kernel.ioctl_finish"),
    Step("close_session", "the session close path: close() of a session fd "
         "(luo_session_release: unpreserve if outgoing, finish if incoming)",
         "model.do_close_session", "reference.kernel.luo_session_release"),
    Step("reboot", "reboot(LINUX_REBOOT_CMD_KEXEC) entering liveupdate_reboot()",
         "model.do_reboot", "reference.kernel.reboot"),
    Step("serialize", "one session of luo_session_serialize() inside reboot()",
         "model.do_luo_session_serialize", "reference.kernel.luo_session_serialize_next"),
    Step("finalize", "kho_finalize() inside liveupdate_reboot() (6.19-7.0)",
         "model.do_kho_finalize", "reference.kernel.kho_finalize_step"),
    Step("kernel_kexec", "the rest of kernel_kexec() after liveupdate_reboot(): the jump, "
         "an unwind, or a context-preserving image coming back",
         "model.do_kernel_kexec", "reference.kernel.kernel_kexec"),
    Step("kexec_unwind", "kernel_kexec() fails after LUO's step (the LUO-M18 fix aborts)",
         "model.kexec_unwind", "reference.kernel.kexec_unwind"),
    Step("abort_reboot", "luo_session_abort_reboot: unfreeze every serialized session in "
         "creation order, open the reboot gate",
         "model.luo_session_abort_reboot", "reference.kernel.luo_session_abort_reboot"),
    # --- which actions are enabled ----------------------------------------------------
    Step("others_alloc", "which page frames another kernel user's alloc_pages may take "
         "(model: is the action offered; reference: the allocation itself)",
         "model.others_may_alloc", "reference.kernel.other_alloc"),
    # --- the memfd file handler (mm/memfd_luo.c) --------------------------------------
    Step("memfd_preserve", "the handler's preserve: ser page, pin, kho_preserve_folio",
         "model.memfd_luo_preserve", "reference.memfd.preserve"),
    Step("memfd_unpreserve", "the handler's unpreserve (a session closed before reboot)",
         "model.memfd_luo_unpreserve", "reference.memfd.unpreserve"),
    Step("memfd_retrieve", "the handler's retrieve in the next kernel",
         "model.memfd_luo_retrieve", "reference.memfd.retrieve"),
    Step("memfd_finish", "the handler's finish of a file never retrieved (discard)",
         "model.memfd_luo_discard", "reference.memfd.finish"),
    Step("memfd_cancel", "legacy handler cancel (v3/v4 global state machine)",
         "model.memfd_luo_cancel", "reference.memfd.cancel"),
    # --- KHO (kernel/liveupdate/kexec_handover.c) ---------------------------------------
    Step("kho_preserve", "kho_preserve_folio: track a page for the next kernel",
         "model.kho_preserve", "reference.kho.kho_preserve_folio"),
    Step("kho_unpreserve", "kho_unpreserve_folio: stop tracking it",
         "model.kho_unpreserve", "reference.kho.kho_unpreserve_folio"),
    Step("kho_restore", "kho_restore_folio: the next kernel takes a handed-over page",
         "model.kho_restore", "reference.kho.kho_restore_folio"),
    # --- the page allocator (mm/page_alloc.c) -----------------------------------------
    Step("alloc_choice", "which free frame an in-kernel allocation takes",
         "model.pick_free", "reference.alloc.pick"),
    Step("free_page", "__free_pages: a frame back to the buddy allocator",
         "model.free_page", "reference.alloc.free_page"),
)

#: STEPS key prefix -> the class whose methods it names (the legacy classes subclass the
#: session ones, so a method of either machine is found)
TARGETS: dict[str, Any] = {
    "model.": model_legacy.LegacyKernel,
    "reference.kernel.": LegacyKernel,
    "reference.memfd.": LegacyMemfdHandler,
    "reference.kho.": LegacyKho,
    "reference.alloc.": PageAllocator,
}

BY_KEY: dict[str, Step] = {key: s for s in VOCABULARY for key in (s.model, s.reference)
                           if key is not None}


def target_of(key: str) -> Any:
    """The method step ``key`` replaces; KeyError for a key outside every prefix or a
    name no class has."""
    name = key.rsplit(".", maxsplit=1)[-1]
    if key.startswith("model.") and name in MODEL_LEVEL_STEPS:
        return getattr(model_legacy.LegacyModel, name)
    for prefix, cls in TARGETS.items():
        if key.startswith(prefix) and "." not in key[len(prefix):]:
            method = getattr(cls, key[len(prefix):], None)
            if callable(method):
                return method
    raise KeyError(key)


def signature(key: str | None) -> str:
    """``name(params) -> returns`` of the method a step key names ('-' for None)."""
    if key is None:
        return "-"
    sig = str(inspect.signature(target_of(key))).replace("'", "")
    return f"{key.split('.')[-1]}{sig}"


def warnings(design: Design) -> list[str]:
    """One line per replaced step whose counterpart is not replaced too (replay and the
    differential test would then compare a changed side with an unchanged one), and per
    key outside the vocabulary (no known counterpart)."""
    keys = {name for name, _fn in design.steps}
    out: list[str] = []
    for key in sorted(keys):
        step = BY_KEY.get(key)
        if step is None:
            out.append(f"STEPS[{key!r}] is not in the step vocabulary (luo-verify steps): "
                       "its other side is unknown; replay compares it with an unchanged one")
            continue
        other = step.reference if key == step.model else step.model
        if other is not None and other not in keys:
            changed, same = (("model", "reference") if key == step.model
                             else ("reference", "model"))
            out.append(f"STEPS[{key!r}] replaces one side of step {step.name!r} only: "
                       f"{other} is unchanged, so --replay compares a changed {changed} "
                       f"with an unchanged {same}")
    return out


def render() -> str:
    """The vocabulary as ``luo-verify steps`` prints it."""
    lines = ["replaceable kernel steps (a variant's STEPS keys; replace both sides):", ""]
    for s in VOCABULARY:
        lines.append(f"{s.name}: {s.meaning}")
        lines.append(f"    model:     {s.model or '-':42} {signature(s.model)}")
        lines.append(f"    reference: {s.reference or '-':42} {signature(s.reference)}")
    return "\n".join(lines)
