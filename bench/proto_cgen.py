"""Prototype for issue #15, design option 2: scalar C generated from the one encoding.

Not an engine yet: no symmetry, no properties, no coverage, no counterexamples.

It builds the bounded transition relation of every action instance of ``upstream`` as
Z3 terms over one state's variables (``model/symbolic.py``, ``Finite`` universe, the
reading BMC uses), emits each instance's guard and successor as straight-line C (one
statement per DAG node, the guard first so a disabled instance costs only its guard),
compiles it with gcc and runs a breadth-first search in C. The frontier holds *slot
states* (one byte per field element), normalised after each step (creation numbers to
ranks, sessions and files to slots in creation order); the visited set holds *keys*: the
explicit state laid out as ``symbolic.decode`` reads it, so the counts are the explicit
model's without symmetry. ``tests/test_proto_cgen.py`` holds it to the generic explorer
(``check --no-symmetry``) at ``tiny``: same states, same transitions.

Usage: ``python -m bench.proto_cgen tiny|ci [CAPACITY]`` (CAPACITY: the most states
stored; the search stops with "over capacity" beyond it). Needs gcc.

Measured 2026-11-30 on the 2-core machine (CPU time of the search alone, ``/usr/bin/time``
for the whole): ``tiny`` 1,720 states, 22,311 transitions (as the generic explorer), keys
of at most 53 B. ``ci`` without symmetry, never counted before (the generic explorer runs
out of 24 GiB): **11,563,416 states, 282,587,358 transitions**, keys of at most 108 B, in
350 CPU-s of search (33 k states/CPU-s, 0.8 M transitions/CPU-s), 5.75 GB peak RSS, plus
7.5 CPU-s to build the Z3 terms and 23 CPU-s of gcc -O1 (181 instances, 486-byte slot
state). What the engine still needs: the explicit model's canonical form
(``model/state.py: canonical_map``) on the key, so ``ci`` is the 58,370 states it is with
symmetry; a packed key (fixed KW = 351 B at ``ci`` is hashed and compared today; the
longest key is 108 B); the properties' Z3 forms (``specs/zforms.py``) emitted the same way;
coverage by (instance, return value); the edges ``recoverable`` needs; counterexamples
from parent pointers re-run through ``LuoModel.next_state``; two processes.
"""

from __future__ import annotations

import ctypes
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import z3

from luoverify.model import symbolic as sy
from luoverify.model.bounds import NAMED_BOUNDS
from luoverify.model.design import PROFILES, Design

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
static uint64_t hash(const signed char *p, int w) {
  uint64_t h = 1469598103934665603ULL;
  for (int i = 0; i < w; i++) { h ^= (unsigned char)p[i]; h *= 1099511628211ULL; }
  return h;
}
/* breadth-first search; the visited set holds keys (the explicit state), the frontier
   slot states. Returns the number of states, or -1 over capacity. */
long bfs(const signed char *init, long cap, long *transitions, long *key_bytes) {
  signed char *keys = malloc((size_t)cap * KW);
  signed char *cur = malloc((size_t)cap * W), *next = malloc((size_t)cap * W);
  long hcap = 1; while (hcap < cap * 2) hcap <<= 1;
  long *ht = malloc(hcap * sizeof(long)); memset(ht, -1, hcap * sizeof(long));
  int longest = key(init, keys); ht[hash(keys, KW) & (hcap - 1)] = 0;
  memcpy(cur, init, W);
  long n = 1, ncur = 1, tr = 0; signed char out[W], k[KW];
  while (ncur > 0) {
    long nnext = 0;
    for (long c = 0; c < ncur; c++) {
      const signed char *s = cur + (size_t)c * W;
      for (int i = 0; i < NI; i++) {
        if (!T[i](s, out)) continue;
        tr++; normalise(out);
        int len = key(out, k); if (len > longest) longest = len;
        uint64_t h = hash(k, KW) & (hcap - 1);
        for (;;) {
          long j = ht[h];
          if (j < 0) {
            if (n >= cap) { *transitions = tr; return -1; }
            memcpy(keys + (size_t)n * KW, k, KW); ht[h] = n++;
            memcpy(next + (size_t)nnext++ * W, out, W); break;
          }
          if (!memcmp(keys + (size_t)j * KW, k, KW)) break;
          h = (h + 1) & (hcap - 1);
        }
      }
    }
    signed char *t = cur; cur = next; next = t; ncur = nnext;
  }
  free(keys); free(cur); free(next); free(ht);
  *transitions = tr; *key_bytes = longest; return n;
}
"""


def _key_function(pre: sy.S, index: dict[str, int], sizes: dict[str, int]) -> str:
    """C ``key(s, k)``: the explicit state of slot state ``s``, laid out as
    ``symbolic.decode`` reads it (outgoing then incoming sessions, each list in creation
    order; a session's live files, then its snapshot entries, in creation order; a file's
    ``expect`` as its known values in page order). Self-delimiting (counts before lists),
    zero-padded to KW bytes; returns the length used."""
    P, M, NS_, NF_ = sizes["P"], sizes["M"], sizes["S"], sizes["F"]

    def at(field: str, *i: int) -> str:
        v: Any = pre[field]
        for j in i:
            v = v[j]
        return f"s[{index[str(v)]}]"

    def arr(field: str, dom: str) -> str:
        return "{" + ",".join(at(field, x).removeprefix("s[").removesuffix("]")
                              for x in range(sizes[dom])) + "}"

    lines = ["static int key(const signed char *s, signed char *k) {", "  int n = 0;"]
    lines += [f"  k[n++] = {at(x)};" for x in ("kexecs", "phase", "faults")]
    for pg in range(P):
        lines += [f"  k[n++] = {at(f, pg)};" for f in ("owner", "kho_tracked", "stamped",
                                                       "content")]
    for m in range(M):
        lines.append(f"  k[n++] = {at('memfd_alive', m)};")
        lines.append(f"  if ({at('memfd_alive', m)}) {{ k[n++] = {at('memfd_user_fd', m)};")
        lines += [f"    k[n++] = {at('memfd_folio', m, pg)};" for pg in range(P)]
        lines.append("  }")
    # per-slot index tables for the loops below
    tables = []
    for field, dom in (("session_exists", "S"), ("session_status", "S"),
                       ("session_seq", "S"), ("session_has_block", "S"),
                       ("session_block", "S"), ("session_frozen", "S"),
                       ("session_vetoed", "S"), ("session_snapshot", "S"),
                       ("snapshot_has_block", "S"), ("snapshot_block", "S"),
                       ("file_live", "F"), ("file_in_snapshot", "F"), ("file_session", "F"),
                       ("file_seq", "F"), ("file_state", "F"), ("file_has_memfd", "F"),
                       ("file_memfd", "F"), ("file_has_ser", "F"), ("file_ser", "F"),
                       ("file_handle", "F"), ("file_tried", "F"),
                       ("snapshot_has_ser", "F"), ("snapshot_ser", "F"),
                       ("snapshot_handle", "F")):
        tables.append(f"static const int K_{field}[] = {arr(field, dom)};")
    for field in ("file_folio", "file_expect_known", "file_expect", "snapshot_folio"):
        rows = ",".join("{" + ",".join(at(field, f, pg)[2:-1] for pg in range(P)) + "}"
                        for f in range(NF_))
        tables.append(f"static const int K_{field}[{NF_}][{P}] = {{{rows}}};")
    out_statuses = " || ".join(f"st == {v}" for v in sy.OUT_STATUSES)
    lines.append(f"""  int order[{NS_}], no = 0;
  for (int pass = 0; pass < 2; pass++) {{
    no = 0;
    for (int x = 0; x < {NS_}; x++) {{
      if (!s[K_session_exists[x]]) continue;
      int st = s[K_session_status[x]], out = ({out_statuses});
      if (out != (pass == 0)) continue;
      int j = no++;
      while (j > 0 && s[K_session_seq[order[j-1]]] > s[K_session_seq[x]]) {{
        order[j] = order[j-1]; j--; }}
      order[j] = x;
    }}
    k[n++] = (signed char)no;
    for (int i = 0; i < no; i++) {{
      int x = order[i];
      k[n++] = s[K_session_status[x]];
      k[n++] = s[K_session_has_block[x]] ? s[K_session_block[x]] : -1;
      k[n++] = s[K_session_frozen[x]]; k[n++] = s[K_session_vetoed[x]];
      for (int which = 0; which < 2; which++) {{
        if (which == 1) {{
          k[n++] = s[K_session_snapshot[x]];
          if (!s[K_session_snapshot[x]]) break;
          k[n++] = s[K_snapshot_has_block[x]] ? s[K_snapshot_block[x]] : -1;
        }}
        int fs[{NF_}], nf = 0;
        for (int f = 0; f < {NF_}; f++) {{
          if (!(which ? s[K_file_in_snapshot[f]] : s[K_file_live[f]])) continue;
          if (s[K_file_session[f]] != x) continue;
          int j = nf++;
          while (j > 0 && s[K_file_seq[fs[j-1]]] > s[K_file_seq[f]]) {{ fs[j] = fs[j-1]; j--; }}
          fs[j] = f;
        }}
        k[n++] = (signed char)nf;
        for (int a = 0; a < nf; a++) {{
          int f = fs[a];
          if (which == 0) {{
            k[n++] = s[K_file_state[f]];
            k[n++] = s[K_file_has_memfd[f]] ? s[K_file_memfd[f]] : -1;
            k[n++] = s[K_file_has_ser[f]] ? s[K_file_ser[f]] : -1;
            for (int p = 0; p < {P}; p++) k[n++] = s[K_file_folio[f][p]];
            k[n++] = s[K_file_handle[f]]; k[n++] = s[K_file_tried[f]];
            int c = n++; k[c] = 0;
            for (int p = 0; p < {P}; p++)
              if (s[K_file_expect_known[f][p]]) {{ k[n++] = s[K_file_expect[f][p]]; k[c]++; }}
          }} else {{
            k[n++] = s[K_snapshot_has_ser[f]] ? s[K_snapshot_ser[f]] : -1;
            for (int p = 0; p < {P}; p++) k[n++] = s[K_snapshot_folio[f][p]];
            k[n++] = s[K_snapshot_handle[f]];
          }}
        }}
      }}
    }}
  }}
  memset(k + n, 0, KW - n);
  return n;
}}""")
    return "\n".join(tables) + "\n" + "\n".join(lines) + "\n"


def _key_width(sizes: dict[str, int]) -> int:
    """The most bytes :func:`_key_function` writes: globals and pages, memfds, two list
    counts, per session slot its fields and counts, per file slot a live and a snapshot
    record."""
    P, M, NS_, NF_ = sizes["P"], sizes["M"], sizes["S"], sizes["F"]
    return 3 + 4 * P + M * (2 + P) + 2 + 9 * NS_ + NF_ * ((7 + 2 * P) + (2 + P))


def generate(bounds_name: str, design: Design | None = None
             ) -> tuple[str, list[int], float]:
    """C source, the initial slot state, and the CPU seconds spent building Z3 terms."""
    t0 = time.process_time()
    b = NAMED_BOUNDS[bounds_name]
    design = design or PROFILES["upstream"]
    why = sy.unsupported(design, b)
    if why:
        raise ValueError(f"{design.name} at {bounds_name}: {'; '.join(why)}")
    sym = sy.SymbolicLuo(design, b, sy.Finite(sy.slot_sizes(b)))
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
           f"#define GSEQ {index[str(pre['seq'])]}\n#define KW {_key_width(sizes)}\n"
           + _table("SI", s_rows) + _table("FI", f_rows)
           + _vector("SEX", col("session_exists")) + _vector("SSEQ", col("session_seq"))
           + _vector("FLV", col("file_live")) + _vector("FSN", col("file_in_snapshot"))
           + _vector("FSEQ", col("file_seq")) + _vector("FSS", col("file_session"))
           + _key_function(pre, index, sizes)
           + "".join(funcs)
           + "typedef int (*fn)(const signed char *, signed char *);\n"
           + "static fn T[NI] = {" + ",".join(f"inst{i}" for i in range(len(funcs))) + "};\n"
           + _NORMALISE + _SEARCH)
    return src, init_vals, time.process_time() - t0


@dataclass(frozen=True)
class Search:
    """One prototype search: ``states`` is -1 when it went over ``capacity``."""

    bounds: str
    slot_bytes: int
    states: int
    transitions: int
    key_bytes: int
    build_seconds: float  # CPU: building the Z3 terms and the C source
    gcc_seconds: float  # CPU of the compiler
    search_seconds: float  # CPU of the search alone


def search(bounds_name: str, capacity: int = 2_000_000, design: Design | None = None
           ) -> Search:
    """Generate, compile and run the search of ``design`` (default ``upstream``) at a
    named bound (needs gcc). Raises ValueError for what the encoding does not cover."""
    src, init, build_s = generate(bounds_name, design)
    with tempfile.TemporaryDirectory() as tmp:
        c, so = Path(tmp) / "luo.c", Path(tmp) / "luo.so"
        c.write_text(src)
        before = os.times()
        subprocess.run(["gcc", "-O1", "-shared", "-fPIC", "-o", str(so), str(c)], check=True)
        gcc_s = os.times().children_user - before.children_user
        lib = ctypes.CDLL(str(so))
        lib.bfs.restype = ctypes.c_long
        state = (ctypes.c_byte * len(init))(*init)
        transitions, key_bytes = ctypes.c_long(), ctypes.c_long()
        t0 = time.process_time()
        n = lib.bfs(state, ctypes.c_long(capacity), ctypes.byref(transitions),
                    ctypes.byref(key_bytes))
        cpu = time.process_time() - t0
    return Search(bounds_name, len(init), n, transitions.value, key_bytes.value, build_s,
                  gcc_s, cpu)


def main(argv: list[str]) -> int:
    bounds_name = argv[0] if argv else "tiny"
    cap = int(argv[1]) if len(argv) > 1 else 2_000_000
    r = search(bounds_name, cap)
    found = (f"{r.states:,} states, {r.transitions:,} transitions, keys of at most "
             f"{r.key_bytes} B") if r.states >= 0 else f"over capacity ({cap:,} states)"
    rate = (r.states if r.states >= 0 else cap) / max(r.search_seconds, 1e-9)
    print(f"{bounds_name}: {r.slot_bytes}-byte slot state; Z3 terms {r.build_seconds:.1f} "
          f"CPU-s, gcc {r.gcc_seconds:.1f} CPU-s; search: {found} in "
          f"{r.search_seconds:.2f} CPU-s ({'at least ' if r.states < 0 else ''}"
          f"{rate:,.0f} states/CPU-s)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
