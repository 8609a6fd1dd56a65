"""Which model runs a design: the session-based machine (:class:`~luoverify.model.luo.LuoModel`)
or the v3/v4 global state machine (:class:`~luoverify.model.legacy.LegacyModel`)."""

from __future__ import annotations

from luoverify.model.bounds import Bounds
from luoverify.model.design import Design
from luoverify.model.legacy import LegacyModel
from luoverify.model.luo import LuoModel


def model_for(design: Design, bounds: Bounds, *, symmetry: bool = True) -> LuoModel:
    """The model of ``design``: the legacy machine or the session-based one.

    Raises ``ValueError`` for bounds that fail :meth:`Bounds.validate`.
    """
    if design.legacy:
        return LegacyModel(design, bounds, symmetry=symmetry)
    return LuoModel(design, bounds, symmetry=symmetry)
