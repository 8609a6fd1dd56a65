"""Prototype for issue #15, design option 2: scalar C generated from the one encoding.

Not an engine: a measurement of what the per-state cost of this design would be.

It builds the bounded transition relation of every action instance of ``upstream`` as
Z3 terms over one state's variables (``model/symbolic.py``, ``Finite`` universe, the
reading BMC uses), emits each instance's guard and successor as straight-line C (one
statement per DAG node, the guard first so a disabled instance costs only its guard),
compiles it with gcc and runs a breadth-first search in C over *slot states* (one byte
per field element). After each step the successor is normalised: creation numbers are
replaced by their ranks and sessions and files are moved to slots in creation order.
There is no symmetry reduction, and fields the explicit state does not carry (a file's
memfd slot when it has none, a dead snapshot's block, ...) are not cleared, so the
counts are *not* the explicit model's (``tiny``: 5,340 raw states against 1,720 for
``luo-verify check --bounds tiny --no-symmetry``).

Usage: ``python -m bench.proto_cgen tiny|ci [CAPACITY]`` (CAPACITY: the most states
stored; the search stops with "over capacity" beyond it). Needs gcc.

Measured 2026-11-30 on the 2-core machine, CPU time of the search alone (another job ran
on the other core): ``tiny`` 87 instances, 197-byte slot state, 5,340 raw states in
0.03 CPU-s (~170 k states/CPU-s, ~15 transitions per state); ``ci`` 181 instances,
486-byte slot state, more than 8 M raw states (over capacity) after 89 CPU-s
(~90 k states/CPU-s), 7 s to build the Z3 terms and 20 CPU-s for gcc -O1. The generic
explorer runs out of 24 GiB on ``ci --no-symmetry``. What the next step needs: the
explicit state's exact normal form as the stored key (so counts match ``--no-symmetry``),
then the explicit model's canonical form (``model/state.py: canonical_map``) in C so that
``ci`` is the 58,370 states it is today; ≤ 100 bytes per stored key needs a packed key,
not the slot state.
"""

from __future__ import annotations

import ctypes
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import z3

from luoverify.model import symbolic as sy
from luoverify.model.bounds import NAMED_BOUNDS
from luoverify.model.design import PROFILES

_BINARY = {z3.Z3_OP_AND: "&&", z3.Z3_OP_OR: "||", z3.Z3_OP_ADD: "+", z3.Z3_OP_MUL: "*",
           z3.Z3_OP_SUB: "-", z3.Z3_OP_EQ: "==", z3.Z3_OP_DISTINCT: "!=", z3.Z3_OP_LE: "<=",
           z3.Z3_OP_LT: "<", z3.Z3_OP_GE: ">=", z3.Z3_OP_GT: ">"}


def _emit_instance(n: int, step: sy.Step, pre: sy.S, index: dict[str, int]) -> str:
    """One C function: ``inst<n>(pre, post)`` returns whether the instance is enabled."""
    body: list[str] = []
    memo: dict[int, str] = {}

    def emit(e: Any) -> str:
        if isinstance(e, bool):
            return "1" if e else "0"
        if isinstance(e, int):
            return str(e)
        key = e.get_id()
        if key in memo:
            return memo[key]
        kind = e.decl().kind()
        if z3.is_true(e) or z3.is_false(e):
            out = "1" if z3.is_true(e) else "0"
        elif z3.is_int_value(e):
            out = str(e.as_long())
        elif kind == z3.Z3_OP_UNINTERPRETED:
            out = f"s[{index[str(e)]}]"
        else:
            ch = [emit(c) for c in e.children()]
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
            out = f"t{len(memo)}"
            body.append(f"  int {out} = {expr};")
        memo[key] = out
        return out

    guard = emit(step.guard)
    body.append(f"  if (!{guard}) return 0;")
    posts = [x for k in pre for x in sy.leaves(step.post[k])]
    body += [f"  o[{j}] = (signed char){emit(v)};" for j, v in enumerate(posts)]
    return (f"static int inst{n}(const signed char *s, signed char *o) {{\n"
            + "\n".join(body) + "\n  return 1;\n}\n")


def _table(name: str, rows: list[list[int]]) -> str:
    return (f"static const int {name}[{len(rows)}][{len(rows[0])}] = {{"
            + ",".join("{" + ",".join(map(str, r)) + "}" for r in rows) + "};\n")


def _vector(name: str, xs: list[int]) -> str:
    return f"static const int {name}[{len(xs)}] = {{{','.join(map(str, xs))}}};\n"


_NORMALISE = r"""
static void isort(int *k, int *v, int n) {
  for (int i = 1; i < n; i++) {
    int a = k[i], b = v[i], j = i;
    while (j > 0 && v[j-1] > b) { k[j] = k[j-1]; v[j] = v[j-1]; j--; }
    k[j] = a; v[j] = b;
  }
}
/* creation numbers -> ranks; sessions and files to slots in creation order */
static void normalise(signed char *s) {
  signed char t[W]; memcpy(t, s, W);
  int so[NS], sv[NS], ns = 0, fo[NF], fv[NF], nf = 0, snew[NS];
  for (int x = 0; x < NS; x++) if (t[SEX[x]]) { so[ns] = x; sv[ns++] = t[SSEQ[x]]; }
  for (int f = 0; f < NF; f++) if (t[FLV[f]] || t[FSN[f]]) { fo[nf] = f; fv[nf++] = t[FSEQ[f]]; }
  isort(so, sv, ns); isort(fo, fv, nf);
  for (int i = 0; i < ns; i++) snew[so[i]] = i;
  int rk[NS + NF], rv[NS + NF], n = 0;
  for (int i = 0; i < ns; i++) { rk[n] = i; rv[n++] = sv[i]; }
  for (int i = 0; i < nf; i++) { rk[n] = NS + i; rv[n++] = fv[i]; }
  isort(rk, rv, n);
  for (int x = 0; x < NS; x++) for (int k = 0; k < WS; k++) s[SI[x][k]] = 0;
  for (int f = 0; f < NF; f++) for (int k = 0; k < WF; k++) s[FI[f][k]] = 0;
  for (int i = 0; i < ns; i++) for (int k = 0; k < WS; k++) s[SI[i][k]] = t[SI[so[i]][k]];
  for (int i = 0; i < nf; i++) for (int k = 0; k < WF; k++) s[FI[i][k]] = t[FI[fo[i]][k]];
  for (int i = 0; i < nf; i++) s[FSS[i]] = snew[t[FSS[fo[i]]]];
  for (int r = 0; r < n; r++) {
    if (rk[r] < NS) s[SSEQ[rk[r]]] = r; else s[FSEQ[rk[r] - NS]] = r;
  }
  s[GSEQ] = n;
}
"""

_SEARCH = r"""
static uint64_t hash(const signed char *p) {
  uint64_t h = 1469598103934665603ULL;
  for (int i = 0; i < W; i++) { h ^= (unsigned char)p[i]; h *= 1099511628211ULL; }
  return h;
}
/* breadth-first search; returns the number of states, or -1 over capacity */
long bfs(const signed char *init, long cap, long *transitions) {
  signed char *store = malloc((size_t)cap * W);
  long hcap = 1; while (hcap < cap * 2) hcap <<= 1;
  long *ht = malloc(hcap * sizeof(long)); memset(ht, -1, hcap * sizeof(long));
  memcpy(store, init, W); ht[hash(init) & (hcap - 1)] = 0;
  long n = 1, head = 0, tr = 0; signed char out[W];
  while (head < n) {
    const signed char *s = store + (size_t)head++ * W;
    for (int i = 0; i < NI; i++) {
      if (!T[i](s, out)) continue;
      tr++; normalise(out);
      uint64_t h = hash(out) & (hcap - 1);
      for (;;) {
        long j = ht[h];
        if (j < 0) {
          if (n >= cap) { free(store); free(ht); return -1; }
          memcpy(store + (size_t)n * W, out, W); ht[h] = n++; break;
        }
        if (!memcmp(store + (size_t)j * W, out, W)) break;
        h = (h + 1) & (hcap - 1);
      }
    }
  }
  free(store); free(ht); *transitions = tr; return n;
}
"""


def generate(bounds_name: str) -> tuple[str, list[int], float]:
    """C source, the initial slot state, and the CPU seconds spent building Z3 terms."""
    t0 = time.process_time()
    b = NAMED_BOUNDS[bounds_name]
    sym = sy.SymbolicLuo(PROFILES["upstream"], b, sy.Finite(sy.slot_sizes(b)))
    pre = sym.variables("0")
    names = [str(x) for k in pre for x in sy.leaves(pre[k])]
    index = {n: i for i, n in enumerate(names)}
    init = sym.init()
    init_vals = [int(x) for k in pre for x in sy.leaves(init[k])]
    insts = sym.instances()
    funcs = [_emit_instance(n, sym.step(pre, inst), pre, index) for n, inst in enumerate(insts)]
    sizes = sy.slot_sizes(b)

    def slots(dom: str) -> list[list[int]]:
        rows: list[list[int]] = [[] for _ in range(sizes[dom])]
        for k, (_kind, doms) in sy.FIELDS.items():
            if doms[0] == dom:
                for slot in range(sizes[dom]):
                    rows[slot] += [index[str(x)] for x in sy.leaves(pre[k][slot])]
        return rows

    def col(field: str) -> list[int]:
        return [index[str(x)] for x in pre[field]]

    s_rows, f_rows = slots("S"), slots("F")
    src = ("#include <stdlib.h>\n#include <string.h>\n#include <stdint.h>\n"
           f"#define W {len(names)}\n#define NI {len(funcs)}\n"
           f"#define NS {len(s_rows)}\n#define NF {len(f_rows)}\n"
           f"#define WS {len(s_rows[0])}\n#define WF {len(f_rows[0])}\n"
           f"#define GSEQ {index[str(pre['seq'])]}\n"
           + _table("SI", s_rows) + _table("FI", f_rows)
           + _vector("SEX", col("session_exists")) + _vector("SSEQ", col("session_seq"))
           + _vector("FLV", col("file_live")) + _vector("FSN", col("file_in_snapshot"))
           + _vector("FSEQ", col("file_seq")) + _vector("FSS", col("file_session"))
           + "".join(funcs)
           + "typedef int (*fn)(const signed char *, signed char *);\n"
           + "static fn T[NI] = {" + ",".join(f"inst{i}" for i in range(len(funcs))) + "};\n"
           + _NORMALISE + _SEARCH)
    return src, init_vals, time.process_time() - t0


def main(argv: list[str]) -> int:
    bounds_name = argv[0] if argv else "tiny"
    cap = int(argv[1]) if len(argv) > 1 else 2_000_000
    src, init, build_s = generate(bounds_name)
    with tempfile.TemporaryDirectory() as tmp:
        c, so = Path(tmp) / "luo.c", Path(tmp) / "luo.so"
        c.write_text(src)
        before = os.times()
        subprocess.run(["gcc", "-O1", "-shared", "-fPIC", "-o", str(so), str(c)], check=True)
        gcc_s = os.times().children_user - before.children_user
        lib = ctypes.CDLL(str(so))
        lib.bfs.restype = ctypes.c_long
        state = (ctypes.c_byte * len(init))(*init)
        transitions = ctypes.c_long()
        t0 = time.process_time()
        n = lib.bfs(state, ctypes.c_long(cap), ctypes.byref(transitions))
        cpu = time.process_time() - t0
    found = f"{n:,} raw states, {transitions.value:,} transitions" if n >= 0 else \
        f"over capacity ({cap:,} states)"
    rate = (n if n >= 0 else cap) / max(cpu, 1e-9)
    print(f"{bounds_name}: {len(init)}-byte slot state; Z3 terms {build_s:.1f} CPU-s, "
          f"gcc {gcc_s:.1f} CPU-s; search: {found} in {cpu:.2f} CPU-s "
          f"({'at least ' if n < 0 else ''}{rate:,.0f} states/CPU-s)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
