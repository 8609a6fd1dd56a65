"""Run the hand-written Promela peer of the LUO model (``luo_promela.py``) with SPIN.

    python -m bench.peers.luo_spin tiny|ci [--workdir DIR]

:func:`run_peer` writes the model for the named bounds, builds the verifier
(``spin -o2 -a``; ``gcc -O2 -DSAFETY -DNOREDUCE -DMEMLIM=...``), runs ``pan`` and returns
what it reports. SPIN's stored states are the peer's distinct data states (one process that
never leaves its loop head, ``hidden`` temporaries; see ``luo_promela.py``). ``-o2`` turns
off SPIN's dead-variable elimination, which would otherwise drop write-only ghost variables
(e.g. the KHOP stamp when nothing reads it) from the state vector and merge states the
explicit model keeps apart.

Transitions: SPIN counts each executed ``d_step`` (stored + matched states, the initial
state included, so one more than the edges). The explicit model counts every offered call,
failing calls (self-loops) included; the peer offers one alternative per state-changing
call family, so its transition count is not the explicit model's. Measured 2026-11-30
(this 2-core VM, SPIN 6.5.2, gcc -O2): ``tiny`` 1,720 states (= ours), 8,801 SPIN
transitions (ours: 22,311 offered calls, 8,097 of them state-changing); ``ci`` 11,563,416
states (= the C prototype's count of ours), ~116.59 M SPIN transitions (ours 282,587,358
offered calls), 44 CPU-s of pan, 2.5 GB peak RSS, 156-byte state vector, 168 bytes per
stored state, exact storage (no hash compaction, no COLLAPSE).

Plain ``mypy --strict bench/peers/luo_spin.py`` cannot follow the editable install's import
hook to ``luoverify``; run it as tests/test_quality.py does (a symlinked ``luoverify/``
tree on MYPYPATH): clean.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent.parent

#: pan's memory limit in MB: half of this 24 GiB machine (shared with another engineer)
MEMLIM_MB = 12288
#: DFS depth limit; pan says so when it is too small (then raise it)
MAX_DEPTH = 2_000_000


def build_peer(bounds: str, workdir: Path) -> Path:
    """Write ``luo_<bounds>.pml`` and compile its verifier into ``workdir``; the pan path."""
    sys.path.insert(0, str(ROOT))
    from bench.peers.luo_promela import promela

    workdir.mkdir(parents=True, exist_ok=True)
    pml = workdir / f"luo_{bounds}.pml"
    pml.write_text(promela(bounds))
    subprocess.run(["spin", "-o2", "-a", pml.name], cwd=workdir, check=True,
                   capture_output=True)
    subprocess.run(["gcc", "-O2", "-w", "-DSAFETY", "-DNOREDUCE", f"-DMEMLIM={MEMLIM_MB}",
                    "-o", "pan", "pan.c"], cwd=workdir, check=True, capture_output=True)
    return workdir / "pan"


def _count(pattern: str, out: str) -> int:
    m = re.search(pattern, out)
    if m is None:
        raise RuntimeError(f"pan output has no match for {pattern!r}:\n{out[-2000:]}")
    return int(float(m.group(1)))


def run_peer(bounds: str, workdir: Path) -> dict[str, Any]:
    """Build and run the peer at named ``bounds``: distinct states stored, transitions
    (SPIN's count minus its initial step), CPU seconds of pan alone, its peak RSS in KB,
    SPIN's memory per state in bytes, and the raw figures."""
    pan = build_peer(bounds, workdir)
    # -w: hash table of 2^w slots (~ states); -m: DFS depth
    width = 26 if bounds != "tiny" else 18
    cmd = [str(pan), f"-m{MAX_DEPTH}", f"-w{width}"]
    before = os.times()
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=workdir, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    assert proc.stdout is not None
    out = proc.stdout.read()
    # wait4 reaps pan itself: its own peak RSS
    _pid, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    after = os.times()
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"pan exited {status}:\n{out[-2000:]}")
    if "max search depth too small" in out:
        raise RuntimeError("SPIN: search depth limit reached; raise MAX_DEPTH")
    if "out of memory" in out.lower():
        raise RuntimeError(f"SPIN ran out of memory:\n{out[-2000:]}")
    errors = _count(r"errors: (\d+)", out)
    if errors:
        raise RuntimeError(f"SPIN found {errors} error(s) (an assert of the peer failed):\n"
                           f"{out[-3000:]}")
    states = _count(r"([\d.e+]+) states, stored", out)
    raw = re.search(r"([\d.e+]+) transitions", out)
    assert raw is not None
    vector = _count(r"State-vector (\d+) byte", out)
    # "equivalent memory usage for states (stored*(State-vector + overhead))", in MB
    eq = re.search(r"([\d.]+)\s+equivalent memory usage for states", out)
    actual = re.search(r"([\d.]+)\s+actual memory usage for states", out)
    per_state = None
    if actual is not None and states:
        per_state = float(actual.group(1)) * 1024 * 1024 / states
    return {
        "bounds": bounds,
        "states": states,
        # SPIN counts the initial state as one transition; %g above 1e6 (6 digits)
        "transitions": int(float(raw.group(1))) - 1,
        "transitions_approx": "e" in raw.group(1),
        "cpu_s": round((after.children_user - before.children_user)
                       + (after.children_system - before.children_system), 2),
        "wall_s": round(wall, 2),
        "peak_rss_kb": usage.ru_maxrss,
        "bytes_per_state": round(per_state, 1) if per_state is not None else None,
        "state_vector_bytes": vector,
        "equivalent_mb": float(eq.group(1)) if eq is not None else None,
        "depth": _count(r"depth reached (\d+)", out),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("bounds", choices=["tiny", "ci"])
    ap.add_argument("--workdir", type=Path, default=None)
    args = ap.parse_args(argv)
    if args.workdir is None:
        with tempfile.TemporaryDirectory() as tmp:
            row = run_peer(args.bounds, Path(tmp))
    else:
        row = run_peer(args.bounds, args.workdir)
    print(json.dumps(row, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
