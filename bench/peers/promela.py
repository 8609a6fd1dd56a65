"""Generate the Promela model of pages-N for SPIN: one guarded command per page (a
``select`` over pages with an ``else -> skip`` branch makes 2.7x more transitions, see
shared/bench/toy-model.md). Each command is a ``d_step`` ending in ``assert(safe)``."""

from __future__ import annotations


def promela(n: int) -> str:
    safe = " && ".join(f"cnt[{p}] <= 1 && (!pres[{p}] || cnt[{p}] == 1) && "
                       f"(!inc[{p}] || cnt[{p}] == 0)" for p in range(n))
    lines = [f"/* pages-{n}: shared/bench/toy-model.md */",
             "#define NORMAL 0", "#define PREPARED 1", "#define FROZEN 2", "#define POST 3",
             f"#define safe ({safe})",
             "byte phase = NORMAL;", f"byte cnt[{n}];", f"bit pres[{n}];", f"bit inc[{n}];",
             "active proctype pages() {", "  do"]

    def cmd(guard: str, body: str) -> None:
        lines.append(f"  :: d_step {{ {guard} -> {body} assert(safe) }}")

    for p in range(n):
        cmd(f"phase != FROZEN && cnt[{p}] == 0 && !inc[{p}]", f"cnt[{p}] = 1;")
        cmd(f"phase != FROZEN && cnt[{p}] >= 1 && !pres[{p}]", f"cnt[{p}]--;")
        cmd(f"phase == PREPARED && cnt[{p}] == 1 && !pres[{p}]", f"pres[{p}] = 1;")
        cmd(f"phase == POST && inc[{p}]", f"inc[{p}] = 0; cnt[{p}]++;")
    cmd("phase == NORMAL", "phase = PREPARED;")
    cmd("phase == PREPARED", "phase = NORMAL; " + " ".join(f"pres[{p}] = 0;" for p in range(n)))
    cmd("phase == PREPARED", "phase = FROZEN;")
    cmd("phase == FROZEN", "phase = POST; " + " ".join(
        f"inc[{p}] = pres[{p}]; pres[{p}] = 0; cnt[{p}] = 0;" for p in range(n)))
    cmd("phase == POST", "phase = NORMAL; " + " ".join(f"inc[{p}] = 0;" for p in range(n)))
    lines += ["  od", "}", ""]
    return "\n".join(lines)
