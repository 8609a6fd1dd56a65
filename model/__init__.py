"""The kernel, abstracted: LUO sessions, the memfd file handler and KHO page ownership.

Public entry points:

* :class:`~luoverify.model.bounds.Bounds` and ``NAMED_BOUNDS`` -- the size of an instance;
* :class:`~luoverify.model.design.Design` and ``PROFILES`` -- kernel policy choices
  (``upstream``, ``v6.19``, ``legacy``); :func:`~luoverify.model.factory.model_for` picks
  the machine of a design;
* :class:`~luoverify.model.luo.LuoModel` -- ``init_states`` / ``actions`` / ``next_state``.
"""

from luoverify.model.bounds import NAMED_BOUNDS, Bounds
from luoverify.model.core import Action, Model, Outcome
from luoverify.model.design import PROFILES, Design, DesignError
from luoverify.model.factory import model_for
from luoverify.model.luo import LuoModel
from luoverify.model.property import Property

__all__ = [
    "NAMED_BOUNDS",
    "PROFILES",
    "Action",
    "Bounds",
    "Design",
    "DesignError",
    "LuoModel",
    "Model",
    "Outcome",
    "Property",
    "model_for",
]
