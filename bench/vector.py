"""A vectorised breadth-first engine for models whose states pack into 64-bit integers.

The model gives its initial codes and, for a whole frontier at once (a numpy ``uint64``
array), the successors of every action: ``(action id, mask of sources where the action is
enabled, successor codes)``. No Python object is made per state; the cyclic garbage
collector never sees the states.

Storage (exact, no fingerprints: every state is stored, so a "not seen" answer is never a
hash collision; at 21 bytes per state this fits in memory up to about a hundred million
states on this machine, so exactness costs nothing here):

* ``visited``: every state so far in one sorted ``uint64`` array (8 B/state), the
  membership index;
* one sorted ``uint64`` array per BFS level (8 B/state). States are numbered level by level
  and, inside a level, in code order, so these arrays are the index -> code map;
* the parent's index (``uint32``, 4 B/state) and the action id from it (``uint8``,
  1 B/state), enough to rebuild the shortest counterexample.

Per level: the candidate successors are sorted (``argsort``) and made unique, keeping one
occurrence of each (its parent and action: every occurrence is at the same depth, so any
gives a shortest path); one ``searchsorted`` into ``visited`` drops the known ones and gives
the insertion points for the new ones (``np.insert``: one linear merge per level).
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import numpy.typing as npt

Codes = npt.NDArray[np.uint64]


class VectorModel(Protocol):
    def init_codes(self) -> Codes: ...

    def successors(self, frontier: Codes) -> Iterator[tuple[int, npt.NDArray[np.bool_], Codes]]:
        """For each action: (action id < 256, enabled mask over ``frontier``, successor
        codes of the enabled sources, in frontier order)."""
        ...

    def violations(self, codes: Codes) -> npt.NDArray[np.bool_]:
        """Which states break the invariant."""
        ...

    def action_name(self, action: int) -> str: ...

    def describe(self, code: int) -> str: ...


@dataclass
class VectorResult:
    states: int
    transitions: int
    depth: int
    seconds: float
    storage_bytes: int
    #: shortest counterexample: (action name, state description) from the initial state
    counterexample: list[tuple[str, str]] | None = None
    seconds_to_violation: float | None = None
    levels: list[int] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.states / self.seconds if self.seconds > 0 else float("inf")

    @property
    def bytes_per_state(self) -> float:
        return self.storage_bytes / self.states if self.states else 0.0


def _unique(cand: Codes) -> tuple[Codes, npt.NDArray[np.intp]]:
    """Sorted distinct values and, for each, the index of one occurrence."""
    order = np.argsort(cand, kind="stable")  # timsort: the parts are sorted runs
    ordered = cand[order]
    keep = np.empty(len(ordered), dtype=bool)
    if len(keep):
        keep[0] = True
        np.not_equal(ordered[1:], ordered[:-1], out=keep[1:])
    return ordered[keep], order[keep]


def _expand(model: VectorModel, frontier: Codes, base: int, visited: Codes
            ) -> tuple[Codes, npt.NDArray[np.uint32], npt.NDArray[np.uint8], int]:
    """The new successors of ``frontier`` (sorted, not in ``visited``), with one parent
    index and action each, and the number of transitions generated."""
    cand_parts: list[Codes] = []
    par_parts: list[npt.NDArray[np.uint32]] = []
    act_parts: list[npt.NDArray[np.uint8]] = []
    made = 0
    for aid, mask, succ in model.successors(frontier):
        if len(succ) == 0:
            continue
        made += len(succ)
        cand_parts.append(succ)
        par_parts.append((np.flatnonzero(mask) + base).astype(np.uint32))
        act_parts.append(np.full(len(succ), aid, np.uint8))
    if not cand_parts:
        return (np.empty(0, np.uint64), np.empty(0, np.uint32), np.empty(0, np.uint8), 0)
    uniq, first = _unique(np.concatenate(cand_parts))
    pos = np.searchsorted(visited, uniq)
    hit = pos < len(visited)
    hit[hit] = visited[pos[hit]] == uniq[hit]
    new = ~hit
    first = first[new]
    return (uniq[new], np.concatenate(par_parts)[first], np.concatenate(act_parts)[first],
            made)


def _merge(visited: Codes, new: Codes, pos: npt.NDArray[np.intp]) -> Codes:
    """``visited`` with ``new`` inserted at ``pos`` (both sorted): one linear pass."""
    out = np.empty(len(visited) + len(new), dtype=visited.dtype)
    at = pos + np.arange(len(new))
    slot = np.ones(len(out), dtype=bool)
    slot[at] = False
    out[at] = new
    out[slot] = visited
    return out


def explore_vector(model: VectorModel, *, stop_at_violation: bool = True, workers: int = 1,
                   chunk: int = 1 << 18,
                   progress: Callable[[int, int], None] | None = None) -> VectorResult:
    """Every reachable state, level by level; stops at the first violating level."""
    start = time.perf_counter()
    gc_was = gc.isenabled()
    gc.disable()
    pool = ThreadPoolExecutor(workers) if workers > 1 else None
    try:
        init = np.unique(model.init_codes())
        levels: list[Codes] = [init]
        parents: list[npt.NDArray[np.uint32]] = [np.full(len(init), 0xFFFFFFFF, np.uint32)]
        actions: list[npt.NDArray[np.uint8]] = [np.zeros(len(init), np.uint8)]
        first_index = [0]
        total = len(init)
        transitions = 0
        found: tuple[int, float] | None = None
        bad = np.flatnonzero(model.violations(init))
        if len(bad):
            found = (int(bad[0]), time.perf_counter() - start)
        visited = init.copy()  # every state so far, sorted (the membership index)
        frontier = init
        while len(frontier) and not (found and stop_at_violation):
            base = first_index[-1]
            chunks = max(workers, -(-len(frontier) // chunk))
            if chunks == 1:
                uniq, par, act, made = _expand(model, frontier, base, visited)
            else:
                # a partitioned frontier: chunks keep the sorts small and cache-resident,
                # and with a thread pool they expand on both cores (numpy releases the GIL
                # inside its loops); then one more dedup across the chunks' new states
                cut = [int(c) for c in np.linspace(0, len(frontier), chunks + 1)]
                mapper = pool.map if pool is not None else map
                parts = list(mapper(
                    _expand, [model] * chunks,
                    [frontier[cut[k]:cut[k + 1]] for k in range(chunks)],
                    [base + cut[k] for k in range(chunks)], [visited] * chunks))
                made = sum(p[3] for p in parts)
                uniq, first = _unique(np.concatenate([p[0] for p in parts]))
                par = np.concatenate([p[1] for p in parts])[first]
                act = np.concatenate([p[2] for p in parts])[first]
            transitions += made
            if len(uniq) == 0:
                break
            visited = _merge(visited, uniq, np.searchsorted(visited, uniq))
            first_index.append(total)
            total += len(uniq)
            levels.append(uniq)
            parents.append(par)
            actions.append(act)
            bad = np.flatnonzero(model.violations(uniq))
            if len(bad) and found is None:
                found = (first_index[-1] + int(bad[0]), time.perf_counter() - start)
            frontier = uniq
            if progress is not None:
                progress(total, len(levels) - 1)
        seconds = time.perf_counter() - start
        storage = visited.nbytes + sum(a.nbytes for a in levels) + sum(
            a.nbytes for a in parents) + sum(a.nbytes for a in actions)
        result = VectorResult(total, transitions, len(levels) - 1, seconds, storage,
                              levels=[len(lv) for lv in levels])
        if found is not None:
            all_codes = np.concatenate(levels)
            all_par = np.concatenate(parents)
            all_act = np.concatenate(actions)
            path: list[tuple[str, str]] = []
            idx = found[0]
            while idx != 0xFFFFFFFF:
                name = "init" if all_par[idx] == 0xFFFFFFFF else model.action_name(
                    int(all_act[idx]))
                path.append((name, model.describe(int(all_codes[idx]))))
                idx = int(all_par[idx])
            path.reverse()
            result.counterexample = path
            result.seconds_to_violation = found[1]
        return result
    finally:
        if gc_was:
            gc.enable()
        if pool is not None:
            pool.shutdown()
