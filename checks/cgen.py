"""C from the one relational encoding: the generated half of the compiled engine (#15).

``generate(design, bounds)`` builds the bounded transition relation of every action
instance (``model/symbolic.py``: ``SymbolicLuo`` over the ``Finite`` universe, the reading
BMC uses, with one Z3 variable per slot-state byte) and the Z3 forms of the properties
(``specs/zforms.py``: ``STATE_FORMS``, ``STEP_FORMS``), and emits each as straight-line C,
one statement per node of the term DAG: per instance its guard first (a disabled instance
costs only its guard), then its return value, the fields it changes and the step
properties it violates; one function for the state properties. ``checks/engine.c`` (the
hand-written search) is appended. Kernel behaviour is therefore written once, in the
encoding; this module knows only how terms become C.

Errors: ``ValueError`` (with the encoding's reasons) for a design or bound the encoding
does not cover (``symbolic.unsupported``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any

import z3

from luoverify.model import state as st
from luoverify.model import symbolic as sy
from luoverify.model.bounds import Bounds
from luoverify.model.design import Design
from luoverify.specs import zforms as zf

#: instance translation units (compiled in parallel: the machine has 2 cores)
_PARTS = 4

_BINARY = {z3.Z3_OP_AND: "&&", z3.Z3_OP_OR: "||", z3.Z3_OP_ADD: "+", z3.Z3_OP_MUL: "*",
           z3.Z3_OP_SUB: "-", z3.Z3_OP_EQ: "==", z3.Z3_OP_DISTINCT: "!=", z3.Z3_OP_LE: "<=",
           z3.Z3_OP_LT: "<", z3.Z3_OP_GE: ">=", z3.Z3_OP_GT: ">"}


class _Emitter:
    """Z3 terms over the slot-state variables -> C statements (``int tN = ...;``)."""

    def __init__(self, index: dict[str, int]) -> None:
        self.index = index
        self.body: list[str] = []
        self.memo: dict[int, str] = {}
        #: every term memoized, kept alive: Z3 reuses the id of a freed term
        self.alive: list[Any] = []

    def __call__(self, e: Any) -> str:
        if isinstance(e, bool):
            return "1" if e else "0"
        if isinstance(e, int):
            return str(e)
        key = e.get_id()
        if key in self.memo:
            return self.memo[key]
        kind = e.decl().kind()
        if z3.is_true(e) or z3.is_false(e):
            out = "1" if z3.is_true(e) else "0"
        elif z3.is_int_value(e):
            out = str(e.as_long())
        elif kind == z3.Z3_OP_UNINTERPRETED:
            out = f"s[{self.index[str(e)]}]"
        else:
            ch = [self(c) for c in e.children()]
            if kind in _BINARY:
                expr = "(" + f" {_BINARY[kind]} ".join(ch) + ")"
            elif kind == z3.Z3_OP_NOT:
                expr = f"(!{ch[0]})"
            elif kind == z3.Z3_OP_ITE:
                expr = f"({ch[0]} ? {ch[1]} : {ch[2]})"
            elif kind == z3.Z3_OP_UMINUS:
                expr = f"(-{ch[0]})"
            elif kind == z3.Z3_OP_IMPLIES:
                expr = f"(!{ch[0]} || {ch[1]})"
            else:
                raise NotImplementedError(f"no C for {e.decl()}")
            out = f"t{len(self.memo)}"
            self.body.append(f"  int {out} = {expr};")
        self.memo[key] = out
        self.alive.append(e)
        return out


@dataclass(frozen=True)
class Generated:
    """The C sources of one design at one bound, and what Python needs to read results.

    ``instances`` are the action instances in the order the search tries them (C
    instance numbers); ``kinds`` the coverage kinds, ``inst_kind`` each instance's;
    ``state_props`` / ``step_props`` the property names behind bit i of ``always`` and of
    an instance's step bits; ``init`` the initial slot state; ``names`` the slot-state
    variable of each byte; ``sizes`` the slots per domain.
    """

    #: gen.h, included by every source
    header: str
    #: translation units: instance parts, the dispatcher and state functions, the search
    sources: list[str]
    instances: list[sy.Inst]
    kinds: list[str]
    inst_kind: list[int]
    state_props: list[str]
    step_props: list[str]
    init: list[int]
    names: list[str]
    sizes: dict[str, int]
    #: the bytes of each one-dimensional field (``FIELDS`` over one domain) and scalar
    layout: dict[str, list[int]]


def generate(design: Design, bounds: Bounds, kind_of: Callable[[sy.Inst], str],
             properties: Sequence[str] | None = None) -> Generated:
    """Generate the engine's C for ``design`` at ``bounds``.

    ``kind_of`` names an instance's coverage kind (the explicit model's
    ``action_kind`` of the action it stands for); ``properties`` limits the emitted
    property forms (default: every form ``specs/zforms.py`` has). Raises ``ValueError``
    for what the encoding does not cover.
    """
    why = sy.unsupported(design, bounds)
    if why:
        raise ValueError("; ".join(why))
    sizes = sy.slot_sizes(bounds)
    sym = sy.SymbolicLuo(design, bounds, sy.Finite(sizes))
    pre = sym.variables("0")
    names = [str(x) for k in pre for x in sy.leaves(pre[k])]
    index = {n: i for i, n in enumerate(names)}
    init = [int(x) for k in pre for x in sy.leaves(sym.init()[k])]
    state_props = [n for n in zf.STATE_FORMS if properties is None or n in properties]
    step_props = [n for n in zf.STEP_FORMS if properties is None or n in properties]
    insts = sym.instances()
    kinds: list[str] = []
    inst_kind: list[int] = []
    funcs: list[str] = []
    pre_leaves = [x for k in pre for x in sy.leaves(pre[k])]
    for n, inst in enumerate(insts):
        kind = kind_of(inst)
        if kind not in kinds:
            kinds.append(kind)
        inst_kind.append(kinds.index(kind))
        step = sym.step(pre, inst)
        funcs.append(_instance(n, sym, pre, pre_leaves, inst, step, step_props, index))
    always = _always(sym, pre, state_props, index)
    # the explicit model offers, with symmetry, one alloc_pages / free_pages per class of
    # (page, referenced) (model/luo.py: LuoModel.actions): the search needs which
    # instance is which, and the encoding's ``referenced``
    page_kind = [{"alloc_pages": 1, "free_pages": 2}.get(i.name, 0) for i in insts]
    page_arg = [i.arg("page") if k else 0 for i, k in zip(insts, page_kind, strict=True)]
    em = _Emitter(index)
    refs = [em(sym.referenced(pre, p)) for p in range(sizes["P"])]
    referenced = ("void referenced(const sc *s, int *r) {\n" + "\n".join(em.body)
                  + "".join(f"\n  r[{p}] = {v} != 0;" for p, v in enumerate(refs)) + "\n}")
    header = "\n".join([
        "/* generated by checks/cgen.py: do not edit */",
        "#include <stdint.h>\n#include <string.h>",
        f"#define P {sizes['P']}\n#define M {sizes['M']}\n#define NS {sizes['S']}",
        f"#define NF {sizes['F']}\n#define W {len(names)}\n#define NI {len(insts)}",
        f"#define NK {len(kinds)}\n#define NA {len(state_props)}\n#define NST {len(step_props)}",
        f"#define OUT_A {sy.OUT_STATUSES[0]}\n#define OUT_B {sy.OUT_STATUSES[1]}",
        f"#define PRESERVED_ST {st.PRESERVED}",
        _index_tables(pre, index),
        "typedef signed char sc;",
        f"static const int INST_KIND[{len(insts)}] = {{{','.join(map(str, inst_kind))}}};",
        f"static const int INST_PAGE_KIND[{len(insts)}] = {{{','.join(map(str, page_kind))}}};",
        f"static const int INST_PAGE[{len(insts)}] = {{{','.join(map(str, page_arg))}}};",
        "int64_t inst(int i, const sc *s, sc *o, int *ret);",
        "int64_t always(const sc *s);",
        "void referenced(const sc *s, int *r);",
    ]) + "\n"
    # the instances in parts of similar size, compiled in parallel (checks/engine.py)
    parts: list[list[str]] = [[] for _ in range(_PARTS)]
    sizes_of = [0] * _PARTS
    for n, fn in enumerate(funcs):
        k = sizes_of.index(min(sizes_of))
        parts[k].append(fn.replace(f"static int64_t inst{n}(", f"int64_t inst{n}("))
        sizes_of[k] += len(fn)
    protos = "".join(f"int64_t inst{n}(const sc *s, sc *o, int *ret);\n"
                     for n in range(len(funcs)))
    sources = ['#include "gen.h"\n' + "\n".join(part) for part in parts]
    sources.append('#include "gen.h"\n' + protos + _dispatch(len(insts)) + "\n" + always
                   + "\n" + referenced)
    sources.append('#include "gen.h"\n'
                   + resources.files("luoverify.checks").joinpath("engine.c").read_text())
    layout = {k: [index[str(x)] for x in sy.leaves(pre[k])] for k in pre
               if k in sy.SCALARS or len(sy.FIELDS[k][1]) == 1}
    return Generated(header, sources, insts, kinds, inst_kind, state_props, step_props, init,
                     names, sizes, layout)


def _index_tables(pre: sy.S, index: dict[str, int]) -> str:
    """``I_<field>``: the byte of each field element in a slot state."""
    out = []
    for name in sy.SCALARS:
        out.append(f"#define I_{name} {index[str(pre[name])]}")
    for name in sy.FIELDS:
        v = pre[name]
        if isinstance(v[0], tuple):
            rows = ",".join("{" + ",".join(str(index[str(x)]) for x in row) + "}" for row in v)
            out.append(f"static const short I_{name}[{len(v)}][{len(v[0])}] = {{{rows}}};")
        else:
            out.append(f"static const short I_{name}[{len(v)}] = "
                       f"{{{','.join(str(index[str(x)]) for x in v)}}};")
    return "\n".join(out)


def _instance(n: int, sym: sy.SymbolicLuo, pre: sy.S, pre_leaves: list[Any], inst: sy.Inst,
              step: sy.Step, step_props: list[str], index: dict[str, int]) -> str:
    """``inst<n>(s, o, &ret)``: -1 when disabled, else the bits of the step properties
    the transition violates, with the successor in ``o`` and the return value."""
    em = _Emitter(index)
    # the guard conjunct by conjunct, each tested as soon as it is computed: most
    # instances are disabled in most states, and most fail an early, cheap conjunct
    for conjunct in _conjuncts(step.guard):
        em.body.append(f"  if (!{em(conjunct)}) return -1;")
    em.body.append(f"  *ret = {em(step.ret)};")
    viol = [em(zf.STEP_FORMS[name](sym, pre, inst, step)) for name in step_props]
    posts = [x for k in pre for x in sy.leaves(step.post[k])]
    em.body.append("  memcpy(o, s, W);")
    for j, (v, old) in enumerate(zip(posts, pre_leaves, strict=True)):
        if isinstance(v, z3.ExprRef) and v.eq(old):
            continue  # unchanged field
        em.body.append(f"  o[{j}] = (sc){em(v)};")
    bits = " | ".join(f"((int64_t)({v} != 0) << {i})" for i, v in enumerate(viol)) or "0"
    em.body.append(f"  return {bits};")
    return (f"/* {inst} */\nstatic int64_t inst{n}(const sc *s, sc *o, int *ret) {{\n"
            + "\n".join(em.body) + "\n}")


def _conjuncts(e: Any) -> list[Any]:
    """``e`` as a list of conjuncts (nested ``And`` flattened, in order)."""
    if isinstance(e, z3.BoolRef) and z3.is_and(e):
        return [c for child in e.children() for c in _conjuncts(child)]
    return [e]


def _dispatch(n: int) -> str:
    cases = "\n".join(f"  case {i}: return inst{i}(s, o, ret);" for i in range(n))
    return ("int64_t inst(int i, const sc *s, sc *o, int *ret) {\n  switch (i) {\n"
            f"{cases}\n  }}\n  return -1;\n}}")


def _always(sym: sy.SymbolicLuo, pre: sy.S, names: list[str], index: dict[str, int]) -> str:
    em = _Emitter(index)
    viol = [em(zf.STATE_FORMS[name](sym, pre)) for name in names]
    bits = " | ".join(f"((int64_t)({v} != 0) << {i})" for i, v in enumerate(viol)) or "0"
    return ("int64_t always(const sc *s) {\n" + "\n".join(em.body)
            + f"\n  return {bits};\n}}")
