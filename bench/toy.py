"""The shared toy benchmark model "pages-N" (shared/bench/toy-model.md), twice:

* :class:`PagesModel` -- a plain :class:`~luoverify.model.core.Model` over tuples, for the
  generic explorer (checks/explore.py) and as the readable definition;
* :class:`PagesVector` -- the same transition relation on states packed into one
  ``uint64`` (bits 0-1 phase; per page p, 4 bits at ``2 + 4p``: cnt (2 bits), pres, inc),
  for the vectorised engine (bench/vector.py).

``tests/test_vector.py`` checks both give 2^N + 3*3^N states and the same transitions.
"""

from __future__ import annotations

import marshal
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from luoverify.model.core import Action, Outcome

NORMAL, PREPARED, FROZEN, POST = 0, 1, 2, 3
PHASES = ("NORMAL", "PREPARED", "FROZEN", "POST")
ToyState = tuple[int, tuple[int, ...], tuple[int, ...], tuple[int, ...]]


def expected_states(n: int) -> int:
    return int(2**n + 3 * 3**n)


class PagesModel:
    """pages-N as tuples: (phase, cnt, pres, inc)."""

    def __init__(self, n: int, bug: str | None = None) -> None:
        self.n = n
        self.bug = bug

    def init_states(self) -> Sequence[ToyState]:
        z = (0,) * self.n
        return [(NORMAL, z, z, z)]

    def actions(self, s: ToyState) -> list[Action]:
        phase, cnt, pres, inc = s
        acts: list[Action] = []
        for p in range(self.n):
            if phase != FROZEN and cnt[p] == 0 and (not inc[p] or self.bug == "BUG_ALLOC"):
                acts.append(Action("alloc", (("p", p),)))
            if phase != FROZEN and cnt[p] >= 1 and (not pres[p] or self.bug == "BUG_FREE"):
                acts.append(Action("free", (("p", p),)))
            if phase == PREPARED and cnt[p] == 1 and not pres[p]:
                acts.append(Action("preserve", (("p", p),)))
            if phase == POST and inc[p]:
                acts.append(Action("restore", (("p", p),)))
        for name, need in (("prepare", NORMAL), ("cancel", PREPARED), ("freeze", PREPARED),
                           ("kexec", FROZEN), ("finish", POST)):
            if phase == need:
                acts.append(Action(name))
        return acts

    def next_state(self, s: ToyState, a: Action) -> Outcome[ToyState]:
        phase, cnt, pres, inc = s
        c, r, i = list(cnt), list(pres), list(inc)
        if a.args:
            p = a.arg("p")
            if a.name == "alloc":
                c[p] = 1
            elif a.name == "free":
                c[p] -= 1
            elif a.name == "preserve":
                r[p] = 1
            else:  # restore
                i[p], c[p] = 0, c[p] + 1
        elif a.name == "prepare":
            phase = PREPARED
        elif a.name == "cancel":
            phase, r = NORMAL, [0] * self.n
        elif a.name == "freeze":
            phase = FROZEN
        elif a.name == "kexec":
            phase, i, r, c = POST, r, [0] * self.n, [0] * self.n
        else:  # finish
            phase, i = NORMAL, [0] * self.n
        return Outcome(0, (phase, tuple(c), tuple(r), tuple(i)))

    def canonical(self, s: ToyState) -> ToyState:
        return s

    def encode(self, s: ToyState) -> bytes:
        return marshal.dumps(s, 2)  # no object references: equal values, equal bytes

    def decode(self, data: bytes) -> ToyState:
        value: ToyState = marshal.loads(data)
        return value

    def view(self, s: ToyState) -> Mapping[str, Any]:
        return {"phase": PHASES[s[0]], "cnt": list(s[1]), "pres": list(s[2]),
                "inc": list(s[3])}

    def action_kind(self, a: Action) -> str:
        return a.name

    @staticmethod
    def safe(s: ToyState) -> str | None:
        _phase, cnt, pres, inc = s
        for p, (c, r, i) in enumerate(zip(cnt, pres, inc, strict=True)):
            if c > 1 or (r and c != 1) or (i and c != 0):
                return f"page {p}: cnt={c} pres={r} inc={i}"
        return None


U = np.uint64


def _bad_nibble(v: int) -> bool:
    cnt, pres, inc = v & 3, (v >> 2) & 1, (v >> 3) & 1
    return cnt > 1 or (pres == 1 and cnt != 1) or (inc == 1 and cnt != 0)


#: byte -> does either page nibble in it break ``safe``
_BAD_BYTE = np.array([_bad_nibble(b & 15) or _bad_nibble(b >> 4) for b in range(256)])


class PagesVector:
    """pages-N on packed uint64 codes, for bench/vector.py."""

    def __init__(self, n: int, bug: str | None = None) -> None:
        if not 1 <= n <= 15:
            raise ValueError("pages-N packs into 64 bits for N <= 15")
        self.n = n
        self.bug = bug
        self.cnt_mask = U(0)
        self.pres_mask = U(0)
        self.inc_mask = U(0)
        for p in range(n):
            self.cnt_mask |= U(3 << (2 + 4 * p))
            self.pres_mask |= U(1 << (4 + 4 * p))
            self.inc_mask |= U(1 << (5 + 4 * p))
        names = ([f"alloc({p})" for p in range(n)] + [f"free({p})" for p in range(n)]
                 + [f"preserve({p})" for p in range(n)] + [f"restore({p})" for p in range(n)]
                 + ["prepare", "cancel", "freeze", "kexec", "finish"])
        self.names = names

    def init_codes(self) -> npt.NDArray[np.uint64]:
        return np.zeros(1, dtype=np.uint64)

    def action_name(self, action: int) -> str:
        return self.names[action]

    def successors(self, f: npt.NDArray[np.uint64]
                   ) -> Iterator[tuple[int, npt.NDArray[np.bool_], npt.NDArray[np.uint64]]]:
        n = self.n
        phase = f & U(3)
        not_frozen = phase != U(FROZEN)
        prepared = phase == U(PREPARED)
        post = phase == U(POST)
        for p in range(n):
            sh = U(2 + 4 * p)
            cnt = (f >> sh) & U(3)
            pres = (f >> (sh + U(2))) & U(1)
            inc = (f >> (sh + U(3))) & U(1)
            # alloc(p): cnt := 1
            m = not_frozen & (cnt == U(0))
            if self.bug != "BUG_ALLOC":
                m &= inc == U(0)
            yield p, m, f[m] | (U(1) << sh)
            # free(p): cnt := cnt - 1
            m = not_frozen & (cnt >= U(1))
            if self.bug != "BUG_FREE":
                m &= pres == U(0)
            yield n + p, m, f[m] - (U(1) << sh)
            # preserve(p): pres := 1
            m = prepared & (cnt == U(1)) & (pres == U(0))
            yield 2 * n + p, m, f[m] | (U(1) << (sh + U(2)))
            # restore(p): inc := 0, cnt := cnt + 1
            m = post & (inc == U(1))
            yield 3 * n + p, m, (f[m] & ~(U(1) << (sh + U(3)))) + (U(1) << sh)
        normal = phase == U(NORMAL)
        yield 4 * n, normal, f[normal] | U(PREPARED)
        yield 4 * n + 1, prepared, (f[prepared] & ~(self.pres_mask | U(3))) | U(NORMAL)
        yield 4 * n + 2, prepared, (f[prepared] & ~U(3)) | U(FROZEN)
        frozen = ~not_frozen
        g = f[frozen]
        # kexec: inc := pres; pres := 0; cnt := 0
        yield 4 * n + 3, frozen, ((g & self.pres_mask) << U(1)) | U(POST)
        yield 4 * n + 4, post, f[post] & ~(self.inc_mask | U(3))

    def violations(self, codes: npt.NDArray[np.uint64]) -> npt.NDArray[np.bool_]:
        # two pages per byte once the phase bits are shifted out: one table lookup per
        # byte instead of a dozen array operations per page
        pages = (codes >> U(2)).view(np.uint8).reshape(len(codes), 8)
        return np.asarray(_BAD_BYTE[pages].any(axis=1))

    def describe(self, code: int) -> str:
        parts = [PHASES[code & 3]]
        for p in range(self.n):
            v = (code >> (2 + 4 * p)) & 15
            if v:
                parts.append(f"p{p}:cnt={v & 3}{' pres' if v & 4 else ''}"
                             f"{' inc' if v & 8 else ''}")
        return " ".join(parts)
