"""A patch under review: memfd unpreserve releases the ser but forgets to unpreserve the
folios. The same step is replaced in the model and in the reference implementation."""

from dataclasses import replace
from typing import Any

from luoverify.model.design import PROFILES


def model_unpreserve(self: Any, f: Any) -> None:
    """model: Kernel.memfd_luo_unpreserve without the folios' kho_unpreserve."""
    if not f.handle:
        return
    self.kho_unpreserve(f.ser)
    self.free_page(f.ser)


def reference_unpreserve(self: Any, args: Any) -> None:
    """reference: MemfdHandler.unpreserve without the folios' kho_unpreserve_folio."""
    if not args.serialized_data:
        return
    self.k.kho.kho_unpreserve_free(args.private_data.ser_pfn)
    if args.file is not None:
        args.file.frozen = False


DESIGN = replace(PROFILES["upstream"], name="unpreserve-keeps-folios")
STEPS = {"model.memfd_luo_unpreserve": model_unpreserve,
         "reference.memfd.unpreserve": reference_unpreserve}
