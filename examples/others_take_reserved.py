"""A change of which actions are enabled: in the next kernel, other kernel users may also
allocate page frames that KHO reserved for an incoming session and that nobody has
restored yet (as if the reservation were dropped). Both sides change: the model offers
the allocation (step ``model.others_may_alloc``), the reference performs it (step
``reference.kernel.other_alloc``)."""

from dataclasses import replace
from typing import Any

from luoverify.model import state as st
from luoverify.model.design import PROFILES
from luoverify.reference.luo_core import FOREIGN_DATA
from luoverify.reference.page_alloc import FREE, RESERVED


def model_may_alloc(self: Any, state: Any, page: int) -> bool:
    """model: a free frame, or one reserved for the next kernel and not restored."""
    owner = state[st.PAGES][page][st.P_OWNER]
    return bool(owner in (st.FREE, st.RESV))


def reference_other_alloc(self: Any, pfn: int) -> None:
    """reference: claim the frame from the allocator even when it is reserved."""
    meta = self.alloc.meta[pfn]
    if meta.owner not in (FREE, RESERVED):
        raise ValueError(f"page {pfn} is held by {meta.owner}")
    meta.owner, meta.refcount = "other", 1
    self.mem.frames[pfn].content = FOREIGN_DATA


DESIGN = replace(PROFILES["upstream"], name="others-take-reserved")
STEPS = {"model.others_may_alloc": model_may_alloc,
         "reference.kernel.other_alloc": reference_other_alloc}
