"""The kernel-shaped reference implementation of LUO, the memfd handler and KHO.

Imperative and mutable, errno-exact, module names after the kernel files (``luo_core``,
``luo_session``, ``luo_file``, ``memfd_luo``, ``kexec_handover``, ``page_alloc``), real page
frames with owners and contents. It reads the same :class:`~luoverify.model.design.Design`
as the model. ``driver`` runs the model's actions on it; ``abstraction`` maps its state
back to a model state (the refinement mapping) and lists who holds a frame. The legacy
design (the v3/v4 global state machine) is ``luo_legacy`` with ``legacy_driver``.
"""

from luoverify.model.design import Design
from luoverify.model.reference.driver import NotCallable, ReferenceDriver
from luoverify.model.reference.luo_core import Kernel, Machine


def reference_for(design: Design, bounds: object) -> ReferenceDriver:
    """The reference driver of ``design``: the v3/v4 one for ``legacy``, else sessions."""
    from luoverify.model.reference.legacy_driver import LegacyDriver

    cls = LegacyDriver if design.legacy else ReferenceDriver
    return cls(design, bounds)  # type: ignore[arg-type]


__all__ = ["Kernel", "Machine", "NotCallable", "ReferenceDriver", "reference_for"]
