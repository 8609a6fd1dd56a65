"""Which reference machine runs a design: the session-based one, or the v3/v4 global state
machine for ``legacy`` (the counterpart of :func:`luoverify.model.factory.model_for`)."""

from __future__ import annotations

from luoverify.model.bounds import Bounds
from luoverify.model.design import Design
from luoverify.reference.driver import ReferenceDriver
from luoverify.reference.legacy_driver import LegacyDriver


def reference_for(design: Design, bounds: Bounds) -> ReferenceDriver:
    """The reference driver of ``design``: the v3/v4 one for ``legacy``, else sessions."""
    cls = LegacyDriver if design.legacy else ReferenceDriver
    return cls(design, bounds)
