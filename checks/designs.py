"""Loading a design the user names: a profile, ``mutant:ID``, or a variant file.

Above the model on purpose: a variant file's ``STEPS`` are checked against the model's
and the reference implementation's kernel classes, and ``mutant:ID`` reads the defect
catalogue (``luoverify.specs.defects``); the model itself knows only the
:class:`~luoverify.model.design.Design` value.
"""

from __future__ import annotations

import importlib.util
import sys
from dataclasses import fields, replace
from pathlib import Path
from typing import Any

from luoverify.model import legacy as model_legacy
from luoverify.model.design import PROFILES, Design, DesignError
from luoverify.reference.luo_legacy import LegacyKernel, LegacyMemfdHandler
from luoverify.specs.defects import BY_ID

__all__ = ["PROFILES", "Design", "DesignError", "load_design"]


def _check_step(key: str) -> str | None:
    """Why ``key`` names no replaceable step, or None."""
    # the legacy machine's classes subclass the session ones: a step of either is valid
    if key.startswith("model."):
        target: Any = model_legacy.LegacyKernel
        name = key[len("model."):]
    elif key.startswith("reference.kernel."):
        target, name = LegacyKernel, key[len("reference.kernel."):]
    elif key.startswith("reference.memfd."):
        target, name = LegacyMemfdHandler, key[len("reference.memfd."):]
    else:
        return "expected model.*, reference.kernel.* or reference.memfd.*"
    if name.startswith("_") or not callable(getattr(target, name, None)):
        return f"{target.__bases__[0].__name__} has no method {name!r}"
    return None


def load_design(spec: str) -> Design:
    """A profile by name, or the ``DESIGN`` defined by a Python file at path ``spec``.

    Raises :class:`DesignError` with a one-line message for an unknown name, a missing or
    unreadable file, a file that raises, or a file whose ``DESIGN`` is not a Design.
    """
    if spec in PROFILES:
        return PROFILES[spec]
    if spec.startswith("mutant:"):
        mutant = BY_ID.get(spec[len("mutant:"):])
        if mutant is None:
            raise DesignError(f"unknown mutant {spec!r}: expected one of "
                              f"{', '.join('mutant:' + k for k in BY_ID)}")
        return mutant.design()
    path = Path(spec)
    if path.suffix != ".py" and not path.exists():
        raise DesignError(
            f"unknown design {spec!r}: expected one of {', '.join(sorted(PROFILES))} "
            "or a path to a .py file defining DESIGN"
        )
    if not path.is_file():
        raise DesignError(f"design file {spec!r} does not exist")
    module_name = f"_luo_design_{abs(hash(str(path.resolve())))}"
    loader_spec = importlib.util.spec_from_file_location(module_name, path)
    if loader_spec is None or loader_spec.loader is None:
        raise DesignError(f"design file {spec!r} cannot be loaded as Python")
    module = importlib.util.module_from_spec(loader_spec)
    try:
        sys.modules[module_name] = module
        loader_spec.loader.exec_module(module)
    except SyntaxError as exc:
        raise DesignError(
            f"design file {spec!r}: syntax error line {exc.lineno}: {exc.msg}") from None
    except Exception as exc:  # the user's code: report, never a traceback
        raise DesignError(f"design file {spec!r} raised {type(exc).__name__}: {exc}") from None
    finally:
        sys.modules.pop(module_name, None)
    design: Any = getattr(module, "DESIGN", None)
    if design is None:
        raise DesignError(f"design file {spec!r} does not define DESIGN")
    if not isinstance(design, Design):
        raise DesignError(
            f"design file {spec!r}: DESIGN is a {type(design).__name__}, not a "
            "luoverify.model.design.Design"
        )
    steps: Any = getattr(module, "STEPS", {})
    if not isinstance(steps, dict):
        raise DesignError(f"design file {spec!r}: STEPS must be a dict, got "
                          f"{type(steps).__name__}")
    for key, fn in steps.items():
        if not isinstance(key, str) or not callable(fn):
            raise DesignError(f"design file {spec!r}: STEPS[{key!r}] must map a step name "
                              "to a function")
        problem = _check_step(key)
        if problem:
            raise DesignError(f"design file {spec!r}: STEPS[{key!r}]: {problem}")
    if steps:
        design = replace(design, steps=tuple(sorted(steps.items())))
    for f in fields(design):
        if f.name == "steps":
            continue
        value = getattr(design, f.name)
        expected = str if f.name == "name" else bool
        if not isinstance(value, expected):
            raise DesignError(
                f"design file {spec!r}: DESIGN.{f.name} must be {expected.__name__}, "
                f"got {value!r}"
            )
    checked: Design = design
    return checked
