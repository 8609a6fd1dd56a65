"""Physical memory and the page allocator (``mm/page_alloc.c``, much reduced).

Physical memory (:class:`PhysicalMemory`) outlives a kernel: the frames and what is written
in them survive kexec. What a kernel *believes* about a frame -- who owns it, its
refcount, the KHO stamp in ``struct page`` -- lives in that kernel's
:class:`PageAllocator` and is rebuilt at every boot.

Content is what a frame holds: ``bytes`` for data pages (memfd folios, other users'
data, early-boot scribbles), or a Python record for metadata written by LUO and the memfd
handler (a files block holds a list of ``luo_file_ser``; a ``memfd_luo_ser`` page holds the
folio descriptors). As in a default kernel (``init_on_free=0``), freeing a frame does not
clear it: a use after free reads the stale data until someone writes the frame. Serialized
metadata freed during reboot (LUO-M11) therefore still reads back as it was written, which
is what the model's session snapshot records. Kernel metadata allocations are zeroed
(``__GFP_ZERO``). The refinement mapping reads a free frame as zeroes (what its next owner
sees), as the model does.

Allocation policy (a reference-implementation choice, documented because replay depends on
it): among the free frames of the requested kind (scratch or not), take the one with the
smallest key ``(named by some kernel object, tracked by KHO, pfn)``. The key depends on
what a frame *is* and only breaks ties by number, exactly like the model's ``pick_free``,
so a trace from the model names the same frames here. The "named" test is a hook the
kernel instance installs (``PageAllocator.named_frames``): a real buddy allocator has no such
knowledge, but any label-independent policy is sound for page ownership, and this one
keeps a wrongly freed page out of reach until a trace asks another user to take it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

#: What a zeroed frame holds.
ZEROED: bytes = b""
#: What early boot of the next kernel writes over the scratch region (its only memory
#: until mm init: ``kernel/liveupdate/kexec_handover.c``: ``kho_populate``).
EARLY_BOOT_SCRIBBLE: bytes = b"\x5a<early-boot scratch use>"


@dataclass
class Frame:
    """A physical page frame: survives kexec."""

    pfn: int
    scratch: bool
    content: Any = ZEROED


@dataclass
class PhysicalMemory:
    frames: list[Frame]

    @staticmethod
    def of(pages: int, scratch: int) -> PhysicalMemory:
        """``pages`` frames; the first ``scratch`` lie in the KHO scratch region (CMA)."""
        return PhysicalMemory([Frame(pfn, pfn < scratch) for pfn in range(pages)])


#: Owner labels of a kernel's ``struct page``.
FREE = "free"
RESERVED = "reserved"  # memblock_reserve()d by KHO at boot, not restored yet


@dataclass
class PageMeta:
    """This kernel's ``struct page`` for one frame."""

    owner: str = FREE  # FREE, RESERVED, or who allocated it ("other:...", "shmem", ...)
    refcount: int = 0
    #: KHO_PAGE_MAGIC written into struct page by the next kernel's boot
    #: (``kexec_handover.c``: ``deserialize_bitmap``; checked by ``kho_restore_page``).
    kho_stamp: bool = False


@dataclass
class PageAllocator:
    """One kernel's view of physical memory."""

    mem: PhysicalMemory
    meta: list[PageMeta] = field(default_factory=list)
    #: installed by the kernel: the frames some kernel object names
    named_frames: Callable[[], set[int]] = set
    #: installed by the kernel: the frames KHO tracks
    tracked_frames: Callable[[], set[int]] = set

    def __post_init__(self) -> None:
        if not self.meta:
            self.meta = [PageMeta() for _ in self.mem.frames]

    def pick(self, scratch: bool, exclude: Iterable[int] = ()) -> int | None:
        """The frame an allocation would take (see the module docstring), or None."""
        skip = set(exclude)
        named, tracked = self.named_frames(), self.tracked_frames()
        best: tuple[bool, bool, int] | None = None
        for frame, meta in zip(self.mem.frames, self.meta, strict=True):
            if meta.owner != FREE or frame.scratch != scratch or frame.pfn in skip:
                continue
            key = (frame.pfn in named, frame.pfn in tracked, frame.pfn)
            if best is None or key < best:
                best = key
        return None if best is None else best[2]

    def alloc_page(self, owner: str, *, movable_in_scratch: bool = False,
                   exclude: Iterable[int] = (), zero: bool = True) -> int | None:
        """alloc_page(): a zeroed frame for ``owner``, or None (-ENOMEM for the caller).

        Unmovable allocations never come from scratch, whose pageblocks are CMA
        (``kernel/liveupdate/kexec_handover.c``: ``kho_init``, ``kho_release_scratch``).
        A movable allocation may be served from the scratch CMA area;
        ``movable_in_scratch`` is the allocator's nondeterministic choice, made by the
        caller (the model's ``scratch`` argument).
        """
        pfn = self.pick(movable_in_scratch, exclude)
        if pfn is None:
            return None
        self.meta[pfn] = PageMeta(owner=owner, refcount=1)
        if zero:
            self.mem.frames[pfn].content = ZEROED
        return pfn

    def alloc_metadata(self, owner: str, design: object) -> int | None:
        """A page for kernel metadata: never from scratch, except in the KHO-M7 mutant
        (``metadata_outside_scratch`` off), where an early slab / KFENCE pool may serve it
        from the scratch area."""
        if not getattr(design, "metadata_outside_scratch", True):
            pfn = self.alloc_page(owner, movable_in_scratch=True)
            if pfn is not None:
                return pfn
        return self.alloc_page(owner)

    def claim(self, pfn: int, owner: str) -> None:
        """Take a specific free frame (another kernel user's alloc_pages in a trace)."""
        if self.meta[pfn].owner != FREE:
            raise ValueError(f"page {pfn} is not free (owner {self.meta[pfn].owner})")
        self.meta[pfn] = PageMeta(owner=owner, refcount=1)

    def free_page(self, pfn: int) -> None:
        """__free_pages(): back to the buddy allocator; the content stays as it was."""
        self.meta[pfn] = PageMeta()

    def get_page(self, pfn: int) -> None:
        self.meta[pfn].refcount += 1

    def put_page(self, pfn: int) -> None:
        """put_page(): the frame is freed with its last reference."""
        meta = self.meta[pfn]
        meta.refcount -= 1
        if meta.refcount <= 0:
            self.free_page(pfn)


PAGE_SIZE = 4096
#: Physical address of frame 0 (RAM rarely starts at 0; a physical address is never 0,
#: so ``serialized_data == 0`` always means "no data").
RAM_BASE = 0x1_0000_0000
