"""The kernel-shaped reference implementation of LUO, the memfd handler and KHO.

Imperative and mutable, errno-exact, module names after the kernel files (``luo_core``,
``luo_session``, ``luo_file``, ``memfd_luo``, ``kexec_handover``, ``page_alloc``), real page
frames with owners and contents. It reads the same :class:`~luoverify.model.design.Design`
as the model. ``driver`` runs the model's actions on it; ``abstraction`` maps its state
back to a model state (the refinement mapping) and lists who holds a frame. The legacy
design (the v3/v4 global state machine) is ``luo_legacy`` with ``legacy_driver``.
"""

from luoverify.reference.driver import NotCallable, ReferenceDriver
from luoverify.reference.factory import reference_for
from luoverify.reference.luo_core import Kernel, Machine

__all__ = ["Kernel", "Machine", "NotCallable", "ReferenceDriver", "reference_for"]
