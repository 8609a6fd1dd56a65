"""Kexec HandOver (``kernel/liveupdate/kexec_handover.c``), page-granular.

Outgoing kernel: a tracker with set semantics (``__kho_preserve_order`` sets a bit,
``__kho_unpreserve_order`` clears it; no count, no owner): ``kho_preserve_folio`` sets the
frame's bit, ``kho_unpreserve_folio`` clears it (an unknown frame is a silent no-op), and
nothing else in the kernel consults it -- freeing a tracked frame is not prevented, which
is exactly what the ownership properties watch. In designs with ``kho_finalize`` (6.19 to
7.0) the tracker is turned into the handed-over map at reboot; stateless KHO hands the
tracker over as it is.

Incoming kernel (``kho_memory_init`` -> ``kho_mem_deserialize`` -> ``deserialize_bitmap``,
and ``kho_restore_page``): every handed-over frame is memblock-reserved and stamped
with KHO_PAGE_MAGIC in its ``struct page``; ``kho_restore_folio`` checks and erases the
stamp and hands the frame to the caller (refused with a WARN and NULL when there is no
stamp, unless the design lacks that check: KHO-M6).

Events (``("restore", pfn)``, ``("restore_refused", pfn)``, ``("restore_unstamped",
pfn)``) are observations for the properties, like the model's; the kernel only WARNs.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from luoverify.model.design import Design
from luoverify.reference.page_alloc import FREE, PageAllocator

Event = tuple[str, int]


class KhoError(Exception):
    """kho_finalize() failed (the caller maps it to an errno)."""


@dataclass
class Kho:
    alloc: PageAllocator
    design: Design
    #: the preservation tracker (xarray of bitmaps per order, reduced to a set of pfns)
    tracker: set[int] = field(default_factory=set)
    events: list[Event] = field(default_factory=list)
    finalized: bool = False

    # ------------------------------------------------------------ outgoing kernel
    def kho_preserve_folio(self, pfn: int) -> int:
        self.tracker.add(pfn)
        return 0

    def kho_unpreserve_folio(self, pfn: int) -> None:
        self.tracker.discard(pfn)

    def kho_alloc_preserve(self, owner: str) -> int | None:
        """Allocate a zeroed, unmovable frame and preserve it; None on -ENOMEM."""
        pfn = self.alloc.alloc_metadata(owner, self.design)
        if pfn is None:
            return None
        self.kho_preserve_folio(pfn)
        return pfn

    def kho_unpreserve_free(self, pfn: int) -> None:
        self.kho_unpreserve_folio(pfn)
        self.alloc.free_page(pfn)

    def kho_finalize(self, fail: bool) -> int:
        """Build the preserved-memory map (6.19-7.0). ``fail`` is an injected failure
        (libfdt error, or KHO already finalized through debugfs)."""
        if fail:
            raise KhoError("kho_finalize failed")
        self.finalized = True
        return 0

    def handover(self) -> frozenset[int]:
        """What the jump hands to the next kernel: every tracked frame."""
        return frozenset(self.tracker)

    # ------------------------------------------------------------ incoming kernel
    def kho_restore_folio(self, pfn: int, owner: str) -> bool:
        """Check and erase the stamp, give the frame to ``owner``. False = NULL."""
        meta = self.alloc.meta[pfn]
        if meta.kho_stamp:
            meta.kho_stamp = False
            meta.owner = owner
            meta.refcount = 1
            self.events.append(("restore", pfn))
            return True
        if self.design.restore_checks_stamp:
            self.events.append(("restore_refused", pfn))  # WARN, return NULL
            return False
        self.events.append(("restore_unstamped", pfn))  # KHO-M6: no provenance check
        meta.owner = owner
        meta.refcount = 1
        return True

    def kho_restore_free(self, pfn: int) -> None:
        """Restore a metadata block (read in place by the caller first), then free it."""
        if self.kho_restore_folio(pfn, "kho-metadata"):
            self.alloc.free_page(pfn)

    def is_reserved_unrestored(self, pfn: int) -> bool:
        return self.alloc.meta[pfn].kho_stamp and self.alloc.meta[pfn].owner != FREE
