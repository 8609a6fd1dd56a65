"""The kernel, abstracted: LUO sessions, the memfd file handler and KHO page ownership.

Public entry points:

* :class:`~luoverify.model.bounds.Bounds` and ``NAMED_BOUNDS`` -- the size of an instance;
* :class:`~luoverify.model.design.Design` and ``PROFILES`` -- kernel policy choices
  (``upstream``, ``v6.19``), plus :func:`~luoverify.model.design.load_design`;
* :class:`~luoverify.model.luo.LuoModel` -- ``init_states`` / ``actions`` / ``next_state``.
"""

from luoverify.model.bounds import NAMED_BOUNDS, Bounds
from luoverify.model.core import Action, Model, Outcome
from luoverify.model.design import PROFILES, Design, DesignError, load_design
from luoverify.model.luo import LuoModel

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
    "load_design",
]
