"""Measure the named bounds and write tests/pinned.json (run by hand, then review the diff).

    python -m tests.pin            # tiny and ci
    python -m tests.pin deep       # adds deep (minutes)
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from luoverify.checks.run import run_check
from luoverify.model import NAMED_BOUNDS, PROFILES
from luoverify.specs import CATALOGUE

PINNED = Path(__file__).with_name("pinned.json")


def measure(bounds: str, design: str) -> dict[str, Any]:
    # the generic explorer is the reference the compiled engine is held to
    # (tests/test_engine.py compares it with these numbers)
    report = run_check(PROFILES[design], NAMED_BOUNDS[bounds], CATALOGUE, bounds_name=bounds,
                       engine="generic")
    r = report.result
    return {
        "states": r.states,
        "transitions": r.transitions,
        "depth": r.depth,
        "pruned": r.pruned,
        "verdict": report.verdict,
        "violated": sorted(k for k, v in r.status.items() if v == "violated"),
        "lengths": {k: c.length for k, c in sorted(r.counterexamples.items())},
        "defects": report.all_defects(),
        "seconds": round(r.seconds, 1),
    }


def main(argv: list[str]) -> None:
    data: dict[str, Any] = json.loads(PINNED.read_text()) if PINNED.exists() else {}
    for bounds in ["tiny", "ci", *argv]:
        for design in ("upstream", "v6.19", "legacy"):  # v6.19 at deep: about 9 minutes
            data.setdefault(bounds, {})[design] = measure(bounds, design)
            print(bounds, design, data[bounds][design], flush=True)
    PINNED.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    main(sys.argv[1:])
