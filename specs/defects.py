"""Real defects of the reference, recognised in a counterexample by their buggy step.

A counterexample *exhibits* a defect when one of its transitions is the defect's wrong
behaviour itself (not merely a consequence): e.g. LUO-M3 is a PRESERVE_FD that succeeds
for a memfd LUO already manages. Reports name each counterexample by these ids.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from luoverify.model import errno as E
from luoverify.model import state as st
from luoverify.model.core import Action, Outcome
from luoverify.model.luo import REBOOT_ACTIONS
from luoverify.model.state import State

Detector = Callable[[State, Action, Outcome[State]], bool]


@dataclass(frozen=True)
class Defect:
    id: str
    title: str
    fix: str
    detect: Detector


def _m3(pre: State, a: Action, out: Outcome[State]) -> bool:
    if a.name != "preserve_fd" or out.ret != 0:
        return False
    fd = a.arg("fd")
    return isinstance(fd, int) and st.managed(pre, fd)


def _m4(pre: State, a: Action, out: Outcome[State]) -> bool:
    if a.name != "retrieve_fd" or out.ret >= 0 or a.arg("list") != "in":
        return False
    if not any(ev == "handler_retrieve" for ev, _ in out.events):
        return False
    f = out.state[2][a.arg("session")][4][a.arg("file")]
    return bool(f[0] == st.F_NEW)


def _m5(pre: State, a: Action, out: Outcome[State]) -> bool:
    if a.name not in REBOOT_ACTIONS or out.ret >= 0:
        return False
    return any(not f[4] for s in out.state[1] for f in s[4]) and not any(
        not f[4] for s in pre[1] for f in s[4])


def _m7(pre: State, a: Action, out: Outcome[State]) -> bool:
    try:
        lst = a.arg("list")
    except KeyError:
        return False
    wrong = (a.name == "preserve_fd" and lst == "in") or (
        a.name in ("retrieve_fd", "finish") and lst == "out")
    return wrong and out.ret != -E.EINVAL


def _m10(pre: State, a: Action, out: Outcome[State]) -> bool:
    return out.ret == -E.EAGAIN and any(
        f[0] == st.FROZEN for s in out.state[1] for f in s[4])


def _m11(pre: State, a: Action, out: Outcome[State]) -> bool:
    if not st.SERIALIZING <= pre[0][1] <= st.READY or out.ret != 0:
        return False
    if a.name == "preserve_fd" and a.arg("list") == "out":
        return True
    return a.name == "close_session" and a.arg("list") == "out"


def _m13(pre: State, a: Action, out: Outcome[State]) -> bool:
    if a.name != "close_session" or a.arg("list") != "in":
        return False
    return any(s[0] == st.IN_STUCK for s in out.state[2]) and not any(
        s[0] == st.IN_STUCK for s in pre[2])


# --- the legacy global state machine (v3/v4, L§3): pre-state PREPARED/FROZEN ----------

def _legacy(pre: State) -> int:
    phase: int = pre[0][1]
    return phase & ~st.KHO_FINALIZED


def _o1(pre: State, a: Action, out: Outcome[State]) -> bool:
    return (a.name == "prepare" and out.ret < 0
            and out.state[0][1] == st.L_PREPARED)  # PREPARED, KHO not finalized


def _o2(pre: State, a: Action, out: Outcome[State]) -> bool:
    return (a.name == "cancel" and out.ret == -E.ENOENT
            and _legacy(pre) in (st.L_PREPARED, st.L_FROZEN))


def _o3(pre: State, a: Action, out: Outcome[State]) -> bool:
    if _legacy(pre) != st.L_PREPARED or out.ret >= 0:
        return False
    return bool(out.state[0][1] & st.KHO_FINALIZED) or any(
        f[0] == st.PRESERVED for s in out.state[1] for f in s[4])


def _o4(pre: State, a: Action, out: Outcome[State]) -> bool:
    if a.name != "retrieve_fd" or out.ret >= 0 or _legacy(pre) != st.L_UPDATED:
        return False
    f = out.state[2][a.arg("session")][4][a.arg("file")]
    return bool(f[0] == st.F_ERR and (f[2] >= 0 or f[3]))


def _o5(pre: State, a: Action, out: Outcome[State]) -> bool:
    return _legacy(pre) == st.L_PREPARED and out.ret > 0


def _o6(pre: State, a: Action, out: Outcome[State]) -> bool:
    return (a.name == "close_session" and _legacy(pre) in (st.L_PREPARED, st.L_FROZEN)
            and _legacy(out.state) in (st.L_PREPARED, st.L_FROZEN))


DEFECTS: tuple[Defect, ...] = (
    Defect("LUO-M3", "the same memfd preserved twice (double management)",
           "liveupdate: prevent double management of files (EBUSY)", _m3),
    Defect("LUO-M4", "a failed retrieve() is forgotten",
           "liveupdate: luo_file: remember retrieve() status", _m4),
    Defect("LUO-M5", "unfreeze clears serialized_data",
           "liveupdate: luo_file: do not clear serialized_data on unfreeze", _m5),
    Defect("LUO-M7", "session kind not checked (handler op on the wrong side of kexec)",
           "liveupdate: validate session type before performing operation (EINVAL)", _m7),
    Defect("LUO-M10/G1", "kho_finalize() failure leaves files frozen",
           "luo_session_abort_reboot / kho: remove finalize state", _m10),
    Defect("LUO-M11", "session mutated while reboot() serializes",
           "liveupdate: block session mutations during reboot (EBUSY)", _m11),
    Defect("LUO-M13", "session stuck after a vetoed finish on close",
           "release clears retrieved so the session can be retrieved again", _m13),
    Defect("O1", "PREPARE keeps PREPARED when kho_finalize() fails",
           "roll back to NORMAL (review series v4 -> v5)", _o1),
    Defect("O2", "CANCEL gives up when kho_abort() fails",
           "cancel without finalized KHO (review series)", _o2),
    Defect("O3", "a FREEZE failure cancels only a prefix, KHO stays finalized",
           "cancel everything on a freeze failure (as documented)", _o3),
    Defect("O4", "FD_RESTORE marks the file reclaimed before retrieve() runs",
           "mark reclaimed after a successful retrieve", _o4),
    Defect("O5", "FREEZE returns an uninitialized value",
           "initialize ret (review series v4)", _o5),
    Defect("O6", "closing /dev/liveupdate in PREPARED leaves the state PREPARED",
           "cancel on release (review series; later: sessions own the lifetime)", _o6),
)


def diagnose(steps: Sequence[tuple[State, Action, Outcome[State]]]) -> list[str]:
    """Ids of the defects whose buggy step occurs in a trace, in order of appearance."""
    found: list[str] = []
    for pre, action, out in steps:
        for d in DEFECTS:
            if d.id not in found and d.detect(pre, action, out):
                found.append(d.id)
    return found


#: which detectors can fire for a call (each detector's first test is on the call name);
#: the explorer classifies every transition, so the others are not even asked
_BY_CALL: dict[str, tuple[tuple[int, Detector], ...]] = {}
for _name in ("preserve_fd", "retrieve_fd", "finish", "close_session", "prepare", "cancel",
              "freeze", *REBOOT_ACTIONS):
    _BY_CALL[_name] = tuple(
        (1 << i, d.detect) for i, d in enumerate(DEFECTS)
        if (d.id, _name) in {("LUO-M3", "preserve_fd"), ("LUO-M4", "retrieve_fd"),
                             ("LUO-M7", "preserve_fd"), ("LUO-M7", "retrieve_fd"),
                             ("LUO-M7", "finish"), ("LUO-M11", "preserve_fd"),
                             ("LUO-M11", "close_session"), ("LUO-M13", "close_session"),
                             ("O1", "prepare"), ("O2", "cancel"), ("O3", "freeze"),
                             ("O3", "reboot"), ("O4", "retrieve_fd"), ("O5", "freeze"),
                             ("O5", "reboot"), ("O6", "close_session")}
        or (d.id in ("LUO-M5", "LUO-M10/G1") and _name in REBOOT_ACTIONS))


def classify(pre: State, action: Action, out: Outcome[State]) -> int:
    """Bitmask of the defects (bit i = ``DEFECTS[i]``) this transition exhibits."""
    mask = 0
    for bit, detect in _BY_CALL.get(action.name, ()):
        if detect(pre, action, out):
            mask |= bit
    return mask

