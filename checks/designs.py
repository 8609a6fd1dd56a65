"""Loading a design the user names: a profile, ``mutant:ID``, or a variant file.

Above the model on purpose: a variant file's ``STEPS`` are checked against the model's
and the reference implementation's kernel classes, and ``mutant:ID`` reads the defect
catalogue (``luoverify.specs.defects``); the model itself knows only the
:class:`~luoverify.model.design.Design` value.
"""

from __future__ import annotations

import contextlib
import importlib.util
import inspect
import io
import sys
from dataclasses import fields, replace
from pathlib import Path
from typing import Any

from luoverify.checks import steps
from luoverify.model.design import PROFILES, Design, DesignError, line_in_file
from luoverify.specs.defects import BY_ID, resolve

__all__ = ["PROFILES", "Design", "DesignError", "load_design"]


def _check_step(key: str) -> str | None:
    """Why ``key`` names no replaceable step, or None (see ``luo-verify steps``)."""
    prefix = next((p for p in steps.TARGETS if key.startswith(p)), None)
    if prefix is None:
        return f"expected one of {', '.join(p + '*' for p in steps.TARGETS)}"
    name = key[len(prefix):]
    where = steps.TARGETS[prefix].__bases__[0]
    where_name = f"{where.__module__}.{where.__name__}"
    if name.startswith("_"):
        return f"{name!r} is private to {where_name}: not a replaceable step"
    try:
        steps.target_of(key)
    except KeyError:
        return f"{where_name} has no method {name!r} (luo-verify steps lists the steps)"
    return None


#: a design file larger than this is refused unread (a variant is a few lines)
MAX_DESIGN_BYTES = 1 << 20


def _check_signature(key: str, fn: Any) -> str | None:
    """Why ``fn`` cannot be called as the method step ``key`` replaces, or None: it must
    accept ``self`` and every parameter of the original, positionally and (for the
    model's ``do_*`` calls, which are called with keyword arguments) by name."""
    original = inspect.signature(steps.target_of(key))
    try:
        replacement = inspect.signature(fn)
    except (TypeError, ValueError):
        return None  # a builtin or C callable: it will be checked when it runs
    params = [p for p in original.parameters.values()
              if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    try:
        replacement.bind(*[None] * len(params))
        if key.startswith("model.do_"):
            replacement.bind(None, **{p.name: None for p in params[1:]})
    except TypeError:
        return (f"{getattr(fn, '__name__', 'the function')}{replacement} cannot replace "
                f"{key.rsplit('.', maxsplit=1)[-1]}{original}: it must accept the same "
                "parameters")
    return None


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _line_in(exc: BaseException, path: Path) -> str:
    """' line N' of the design file where ``exc`` was raised, if it was raised there
    (the loader runs the file under its own path, so its frames carry that name)."""
    line = line_in_file(exc, str(path))
    return "" if line is None else f" line {line}"


def _what_happened(exc: BaseException) -> str:
    if isinstance(exc, SystemExit):
        return f"called exit({exc.code!r}) while loading"
    if isinstance(exc, KeyboardInterrupt):
        return "was interrupted while loading"
    return f"raised {type(exc).__name__}: {_one_line(str(exc))}"


def _printed(captured: io.StringIO) -> str:
    text = _one_line(captured.getvalue())
    return f" (it printed: {text[:200]})" if text else ""


def load_design(spec: str) -> Design:
    """A profile by name, or the ``DESIGN`` defined by a Python file at path ``spec``.

    Raises :class:`DesignError` with a one-line message for an unknown name, a missing,
    unreadable, non-regular or oversized file, a file that raises, exits or is
    interrupted while it loads (with the line of the file where it happened and what it
    printed: its output is captured, never shown on stdout), a file whose ``DESIGN`` is
    not a Design, or ``STEPS`` that name no step or do not fit the step's signature.
    """
    if spec in PROFILES:
        return PROFILES[spec]
    if spec.startswith("mutant:"):
        mid = resolve(spec[len("mutant:"):])
        mutant = BY_ID[mid] if mid is not None else None
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
    if not path.exists():
        raise DesignError(f"design file {spec!r} does not exist")
    if not path.is_file():
        raise DesignError(f"design file {spec!r} is not a regular file")
    if path.stat().st_size > MAX_DESIGN_BYTES:
        raise DesignError(f"design file {spec!r} is larger than {MAX_DESIGN_BYTES} bytes")
    module_name = f"_luo_design_{abs(hash(str(path.resolve())))}"
    loader_spec = importlib.util.spec_from_file_location(module_name, path)
    if loader_spec is None or loader_spec.loader is None:
        raise DesignError(f"design file {spec!r} cannot be loaded as Python")
    module = importlib.util.module_from_spec(loader_spec)
    captured = io.StringIO()  # what the file prints must not reach stdout (--json)
    try:
        sys.modules[module_name] = module
        with contextlib.redirect_stdout(captured), contextlib.redirect_stderr(captured):
            loader_spec.loader.exec_module(module)
    except SyntaxError as exc:
        where = f" line {exc.lineno}" if exc.lineno else ""
        raise DesignError(f"design file {spec!r}: syntax error{where}: "
                          f"{_one_line(str(exc.msg))}") from None
    except BaseException as exc:  # the user's code: raise, exit, Ctrl-C: input error
        raise DesignError(f"design file {spec!r}{_line_in(exc, path)} "
                          f"{_what_happened(exc)}{_printed(captured)}") from None
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
        problem = _check_step(key) or _check_signature(key, fn)
        if problem:
            raise DesignError(f"design file {spec!r}: STEPS[{key!r}]: {problem}")
    if steps:
        design = replace(design, steps=tuple(sorted(steps.items())))
    for f in fields(design):
        if f.name == "steps":
            continue
        value = getattr(design, f.name)
        expected = str if f.name in ("name", "base") else bool
        if not isinstance(value, expected):
            raise DesignError(
                f"design file {spec!r}: DESIGN.{f.name} must be {expected.__name__}, "
                f"got {value!r}"
            )
    checked: Design = design
    return checked
