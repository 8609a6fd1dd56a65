"""Trace files are untrusted input: ``luo-verify replay`` on a bad one exits 2 with one line.

The corpus ``tests/bad_inputs/traces/*.case`` (a suffix no trace-collecting plugin picks
up) holds one bad trace file per case; :data:`EXPECTED` says what its message names. The
ordinary files run in this process through ``main``; a FIFO, a device and the ``#meta.design``
marker file run in a subprocess (a blocking open or an executed file would show only
there). Hypothesis feeds random JSON and random edits of a valid trace to the loader:
it only ever raises :class:`TraceError`.
"""

from __future__ import annotations

import copy
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from luoverify import checks
from luoverify.checks import replay as rp
from luoverify.checks.cli import main
from luoverify.checks.replay import (
    ACTIONS,
    MODEL_VARS,
    TraceError,
    design_name_from_meta,
    load_trace,
    parse_trace,
    parse_trace_bytes,
    replay,
)
from luoverify.model import errno as E
from luoverify.model.bounds import NAMED_BOUNDS
from luoverify.model.design import PROFILES
from luoverify.model.factory import model_for
from luoverify.specs.defects import BY_ID

HERE = Path(__file__).parent
CORPUS = HERE / "bad_inputs" / "traces"
TRACES = HERE / "traces"
HANDWRITTEN = TRACES / "handwritten" / "kexec_simple.itf.json"
SCHEMA = json.loads((Path(checks.__file__).parent / "itf.schema.json").read_text())

_RET = "luo::ret must be a return code"
#: corpus case -> a part of its one-line message
EXPECTED: dict[str, str] = {
    # luo::ret
    "ret_null": f"$.states[2]['luo::ret']: {_RET}",
    "ret_list": f"{_RET}", "ret_object": _RET, "ret_float_zero": "got the number 0.0",
    "ret_float_fraction": "got the number -16.5", "ret_true": "got true",
    "ret_huge": "got 100000000000000000000", "ret_huge_negative": "got -99999",
    "ret_bigint_object": _RET, "ret_unknown_name": "unknown return code '-EWHAT'",
    "ret_name_without_minus": "unknown return code 'EBUSY'",
    "ret_padded": "unknown return code ' 0'", "ret_huge_string": "unknown return code",
    "ret_empty_string": "unknown return code ''",
    "ret_missing": "$.states[2]: missing 'luo::ret'",
    "ret_missing_first_step": "$.states[0]: missing 'luo::ret'",
    # the other fields of a step
    "action_missing": "missing 'mbt::actionTaken'",
    "picks_missing": "missing 'mbt::nondetPicks'",
    "step_empty_object": "$.states[1]: missing 'mbt::actionTaken'",
    "picks_list": "preserve_fd's arguments must be an object",
    "picks_null": "preserve_fd's arguments must be an object",
    "state_list": "state 1 must be an object", "state_null": "state 1 must be an object",
    "state_unknown_key": "unknown key 'luo::return'",
    "state_partial_vars": "records some model variables but not phase",
    "state_var_wrong_type": "$.states[2].kexecs: kexecs must be an integer",
    # the states list and the document
    "states_empty": "a trace needs at least one step",
    "states_init_only": "a trace needs at least one step",
    "states_null": "not an ITF trace", "states_object": "not an ITF trace",
    "states_missing": "not an ITF trace", "document_array": "not an ITF trace",
    "document_string": "not an ITF trace", "document_null": "not an ITF trace",
    "document_unknown_key": "unknown key 'loop'",
    "init_not_first": "'init' may only be the first state",
    "init_with_arguments": "init's arguments must be {}",
    "init_with_error_return": "luo::ret must be \"0\"",
    # calls
    "action_unknown": "unknown action 'defrost'", "action_wrong_case": "unknown action 'Reboot'",
    "action_integer": "must be the name of a kernel call", "action_null": "got null",
    # arguments
    "memfd_create_size_string": "memfd_create: size must be an integer >= 0",
    "memfd_create_size_negative": "memfd_create: size must be an integer >= 0",
    "memfd_create_scratch_2": "scratch must be 0 or 1",
    "memfd_create_scratch_float": "scratch must be 0 or 1",
    "memfd_create_scratch_true": "scratch must be 0 or 1",
    "memfd_create_size_missing": "memfd_create: missing argument 'size'",
    "memfd_write_memfd_string": "memfd_write: memfd must be an integer",
    "close_memfd_memfd_null": "close_memfd: memfd must be an integer",
    "alloc_pages_page_float": "alloc_pages: page must be an integer",
    "free_pages_page_negative": "free_pages: page must be an integer >= 0",
    "retrieve_session_session_and_name": "exactly one of the arguments session and name",
    "create_session_name_integer": "create_session: name must be a string",
    "retrieve_session_session_string": "retrieve_session: session must be an integer",
    "preserve_fd_session_string": "preserve_fd: session must be an integer",
    "preserve_fd_session_float": "preserve_fd: session must be an integer",
    "preserve_fd_list_unknown": "preserve_fd: list must be \"out\" or \"in\"",
    "preserve_fd_fd_unknown_string": "preserve_fd: fd must be",
    "preserve_fd_fd_negative": "preserve_fd: fd must be",
    "preserve_fd_token_unknown": "preserve_fd: token must be \"dup\"",
    "preserve_fd_fault_wrong": "preserve_fd: fault must be the memfd preserve step that fails",
    "preserve_fd_fd_missing": "preserve_fd: missing argument 'fd'",
    "unpreserve_fd_file_unknown": "unpreserve_fd: file must be an integer",
    "retrieve_fd_file_string": "retrieve_fd: file must be",
    "retrieve_fd_fault_null": "retrieve_fd: fault must be the memfd retrieve step that fails",
    "finish_fault_wrong": "finish: fault must be \"veto\"",
    "close_session_session_list": "close_session: session must be an integer",
    "reboot_fault_malformed": "reboot: fault must be",
    "serialize_fault_two_indices": "luo_session_serialize: fault must be \"freeze:J\"",
    "serialize_session_missing": "luo_session_serialize: missing argument 'session'",
    "kho_finalize_fault_wrong": "kho_finalize: fault must be \"finalize\"",
    "prepare_fault_without_index": "prepare: fault must be",
    "freeze_fault_integer": "freeze: fault must be",
    # unknown arguments
    "kernel_kexec_unknown_argument": "kernel_kexec takes no argument 'x'",
    "preserve_fd_misspelt_argument": "preserve_fd takes no argument 'sesion'",
    "cancel_with_fault": "cancel takes no argument 'fault'",
    # #meta
    "meta_list": "#meta must be an object",
    "meta_bounds_unknown": "unknown bounds 'huge'",
    "meta_bounds_name_unknown": "$['#meta'].bounds.name: unknown bounds 'huge'",
    "meta_bounds_field_true": "pages must be an integer",
    "meta_bounds_field_string": "pages must be an integer",
    "meta_bounds_field_out_of_range": "bound pages=99 is outside",
    "meta_bounds_field_unknown": "unknown bound(s): widgets",
    "meta_bounds_reboot_unknown": "reboot must be \"atomic\" or \"interleaved\"",
    "meta_bounds_number": "bounds must be a bound name",
    "meta_design_integer": "design must be a string", "meta_format_not_itf": "must be \"ITF\"",
    "meta_property_list": "property must be a string",
    "vars_unknown_name": "vars[1] must be a model variable",
    "vars_not_a_list": "vars must be an array",
    # #meta.design (the names appear whether cli.py or design_name_from_meta refuses them)
    "meta_design_python_file": "'/nonexistent/luo-evil.py'",
    "meta_design_relative_python_file": "'luo-evil-design.py'",
    "meta_design_unknown_profile": "'v9.99'",
    "meta_design_unknown_mutant": "'mutant:LUO-M99'",
    # valid, but not a run of the model
    "not_callable_here": "step 3: finish(list=in, session=0) is not callable here",
    "session_out_of_range": "is not callable here",
    # bytes
    "not_utf8_byte_ff": "is not UTF-8: byte 0xff at offset 238",
    "latin1_e_acute": "is not UTF-8: byte 0xe9 at offset 238",
    "utf16_with_bom": "is not UTF-8: byte 0xff at offset 0",
    "utf8_encoded_surrogate": "is not UTF-8: byte 0xed at offset 238",
    "utf8_bom": "byte order mark",
    "deep_arrays": "nested too deeply", "deep_objects": "nested too deeply",
    "deep_but_parsable": "nested more than 32 levels",
    "nan_value": "NaN is not a JSON value", "infinity_value": "Infinity is not a JSON value",
    "duplicate_key": "duplicate key 'luo::ret'",
    "integer_of_5000_digits": "an integer of 5000 digits",
    "truncated": "is not JSON", "empty_file": "is not JSON: Expecting value (line 1",
    "whitespace_only": "is not JSON", "trailing_garbage": "is not JSON: Extra data",
    "comment": "is not JSON", "single_quotes": "is not JSON",
    "nul_byte": "Invalid control character", "raw_control_character": "Invalid control character",
}
#: cases refused by #meta.design (they load; only design_name_from_meta refuses them)
DESIGN_CASES = ("meta_design_python_file", "meta_design_relative_python_file",
                "meta_design_unknown_profile", "meta_design_unknown_mutant")
CASES = sorted(CORPUS.glob("*.case"))


def _one_error_line(code: int, out: str, err: str, expected: str) -> None:
    assert code == 2, (code, out, err)
    assert out == ""
    assert "Traceback" not in err
    assert err.endswith("\n") and len(err.splitlines()) == 1, err
    assert err.startswith("luo-verify: error: "), err
    assert expected in err, (expected, err)


def _cli(capsys: pytest.CaptureFixture[str], path: Path | str) -> tuple[int, str, str]:
    code = main(["replay", str(path)])
    out, err = capsys.readouterr()
    return code, out, err


def _subprocess(path: Path | str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "luoverify.checks.cli", "replay", str(path)],
                          capture_output=True, text=True, timeout=60, check=False, cwd=cwd)


def test_corpus_is_complete() -> None:
    """Verifies that every corpus file has an expected message and the other way round,
    and that the corpus is large (no file is silently skipped)."""
    assert sorted(EXPECTED) == [f.stem for f in CASES]
    assert len(CASES) >= 60
    assert not list(CORPUS.glob("*.json")), "a .json suffix would be collected as a trace"


@pytest.mark.parametrize("case", CASES, ids=[f.stem for f in CASES])
def test_bad_trace_is_one_line(case: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Verifies that ``luo-verify replay`` on each bad trace exits 2 with exactly one line
    on stderr naming the problem (and, for loader errors, the file)."""
    code, out, err = _cli(capsys, case)
    _one_error_line(code, out, err, EXPECTED[case.stem])
    if case.stem not in DESIGN_CASES:
        assert case.name in err
    if case.stem.endswith("_session_string"):
        # the call it rejects is never offered as valid in the same message
        assert "offered" not in err


@pytest.mark.parametrize("case", [f for f in CASES if f.stem not in DESIGN_CASES
                                  and not f.stem.endswith(("not_callable_here",
                                                           "session_out_of_range"))],
                         ids=lambda f: f.stem)
def test_loader_refuses(case: Path) -> None:
    """Verifies that the loader itself (not replay) refuses every malformed case."""
    with pytest.raises(TraceError):
        load_trace(case)


def test_valid_traces_still_load() -> None:
    """Verifies that every committed trace validates, loads every step with its return
    code, and keeps its recorded variables."""
    files = sorted(TRACES.glob("**/*.itf.json"))
    assert len(files) >= 31
    for f in files:
        trace = load_trace(f)
        doc = json.loads(f.read_text())
        states = [s for s in doc["states"] if s["mbt::actionTaken"] != "init"]
        assert [s.ret for s in trace.steps] == [E.parse_ret(s["luo::ret"]) for s in states]
        assert all((s.vars is None) == ("kexecs" not in d) for s, d in zip(
            trace.steps, states, strict=True))


def test_not_a_regular_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Verifies that a directory, a missing file and a file over the size cap are refused
    unread (the oversized file is sparse: nothing is written)."""
    _one_error_line(*_cli(capsys, tmp_path), "is a directory, not a trace file")
    _one_error_line(*_cli(capsys, tmp_path / "missing.itf.json"), "cannot read")
    huge = tmp_path / "huge.itf.json"
    with huge.open("wb") as f:
        f.truncate(rp.MAX_TRACE_BYTES + 1)
    _one_error_line(*_cli(capsys, huge), "is larger than 16 MiB")


def test_read_is_capped(monkeypatch: pytest.MonkeyPatch,
                        capsys: pytest.CaptureFixture[str]) -> None:
    """Verifies that at most the cap plus one byte is read even when stat reports a small
    size (a /proc file says 0 bytes)."""
    proc = Path("/proc/self/maps")
    if not proc.is_file() or proc.stat().st_size != 0:
        pytest.skip("needs a regular file whose stat size is 0 (Linux /proc)")
    monkeypatch.setattr(rp, "MAX_TRACE_BYTES", 64)
    _one_error_line(*_cli(capsys, proc), "is larger than 64 bytes")


def test_fifo_and_devices_in_a_subprocess(tmp_path: Path) -> None:
    """Verifies that a FIFO (whose open would block), /dev/zero (endless) and a symbolic
    link to it are refused at once with exit 2 and one line, from the real command."""
    fifo = tmp_path / "trace.itf.json"
    os.mkfifo(fifo)
    link = tmp_path / "zero.itf.json"
    link.symlink_to("/dev/zero")
    for path, what in ((fifo, "is a FIFO"), ("/dev/zero", "is a character device"),
                       (link, "is a character device"),
                       (CORPUS / "deep_arrays.case", "nested too deeply"),
                       (CORPUS / "preserve_fd_session_string.case",
                        "preserve_fd: session must be an integer")):
        res = _subprocess(path)
        _one_error_line(res.returncode, res.stdout, res.stderr, what)


# --- #meta.design ---------------------------------------------------------------------------

def _trace_naming(design: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(HANDWRITTEN.read_text())
    doc["#meta"]["design"] = design
    return doc


@pytest.mark.parametrize(("name", "expected"), [
    ("upstream", "upstream"), ("v6.19", "v6.19"), ("legacy", "legacy"),
    ("mutant:LUO-M3", "mutant:LUO-M3"), (None, None)])
def test_design_from_meta_accepts_profiles_and_mutants(name: str | None,
                                                       expected: str | None) -> None:
    doc = json.loads(HANDWRITTEN.read_text())
    if name is None:
        del doc["#meta"]["design"]
    else:
        doc["#meta"]["design"] = name
    assert design_name_from_meta(parse_trace(doc)) == expected


@pytest.mark.parametrize(("case", "message"), [
    ("meta_design_python_file", "names a file ('/nonexistent/luo-evil.py')"),
    ("meta_design_relative_python_file", "names a file ('luo-evil-design.py')"),
    ("meta_design_unknown_profile", "'v9.99' is neither a profile"),
    ("meta_design_unknown_mutant", "unknown mutant 'mutant:LUO-M99'")])
def test_design_from_meta_refuses_anything_else(case: str, message: str) -> None:
    path = CORPUS / f"{case}.case"
    with pytest.raises(TraceError) as info:
        design_name_from_meta(load_trace(path))
    text = str(info.value)
    assert text.startswith(str(path)) and message in text, text
    if "mutant" not in case:
        assert "--design FILE" in text


def _marker_design(tmp_path: Path) -> tuple[Path, Path]:
    """A trace whose #meta.design is a .py file that writes a marker when imported."""
    marker = tmp_path / "marker"
    evil = tmp_path / "evil.py"
    evil.write_text(f"open({str(marker)!r}, 'w').write('ran')\n"
                    "from luoverify.model.design import PROFILES\n"
                    "DESIGN = PROFILES['upstream']\n")
    trace = tmp_path / "shared.itf.json"
    trace.write_text(json.dumps(_trace_naming(str(evil))))
    return trace, marker


def test_meta_design_file_is_never_run_by_the_loader(tmp_path: Path) -> None:
    """Verifies that loading a trace whose #meta.design names a Python file, and asking
    which design it names, runs nothing and is a TraceError pointing at --design FILE."""
    trace, marker = _marker_design(tmp_path)
    loaded = load_trace(trace)
    with pytest.raises(TraceError, match=r"--design FILE"):
        design_name_from_meta(loaded)
    assert not marker.exists()


def test_replay_never_runs_the_design_file_a_trace_names(tmp_path: Path) -> None:
    """Verifies that ``luo-verify replay`` of a shared trace naming a .py design file does
    not import it (no marker is written) and exits 2 with one line."""
    trace, marker = _marker_design(tmp_path)
    res = _subprocess(trace, cwd=tmp_path)
    assert not marker.exists(), "replay ran the design file a trace names"
    _one_error_line(res.returncode, res.stdout, res.stderr, "--design FILE")


# --- the schema agrees with the model -----------------------------------------------------

def test_schema_is_valid_and_speaks_the_models_vocabulary() -> None:
    """Verifies that itf.schema.json is a valid JSON Schema whose calls, return codes and
    variables are those of the model."""
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    defs = SCHEMA["$defs"]
    assert tuple(defs["call"]["enum"]) == ACTIONS
    assert set(defs["callIs"]) == set(ACTIONS)
    assert tuple(defs["varName"]["enum"]) == MODEL_VARS
    assert set(defs["state"]["dependentRequired"]) == set(MODEL_VARS)
    pattern = defs["ret"]["anyOf"][0]["pattern"]
    names = re.search(r"-\(([A-Z|]+)\)\)\$\(\?!\\n\)$", pattern)
    assert names is not None and set(names.group(1).split("|")) == set(E.NAMES.values())
    for ret in ("0", "1", "-16", "-4095", "4095"):
        assert re.fullmatch(pattern, ret), ret
    for ret in ("-4096", "00", "-0", "+1", "-E", "EBUSY"):
        assert not re.fullmatch(pattern, ret), ret
    for ret in ("0\n", "-EBUSY\n"):  # Python's $ matches before a final newline
        assert not re.search(pattern, ret), repr(ret)


@pytest.mark.parametrize("design", [*PROFILES, "mutant:LUO-M3"])
def test_every_call_the_model_offers_validates(design: str) -> None:
    """Verifies that every call the model offers along seeded random walks (interleaved
    and atomic reboot), with the return code it gives, is a valid step of the schema."""
    import random

    designs = {**PROFILES, "mutant:LUO-M3": BY_ID["LUO-M3"].design()}
    seen: dict[str, dict[str, Any]] = {}
    for reboot in ("interleaved", "atomic"):
        model = model_for(designs[design], NAMED_BOUNDS["ci"].with_overrides(reboot=reboot),
                          symmetry=False)
        rng = random.Random(7)
        for _walk in range(6):
            state = model.init_states()[0]
            for _ in range(40):
                actions = list(model.actions(state))
                if not actions:
                    break
                for a in actions:
                    out = model.next_state(state, a)
                    seen.setdefault(str(a), {"mbt::actionTaken": a.name,
                                             "mbt::nondetPicks": a.picks(),
                                             "luo::ret": E.ret_name(out.ret)})
                state = model.next_state(state, rng.choice(actions)).state
    steps = list(seen.values())
    assert len({s["mbt::actionTaken"] for s in steps}) >= 8
    parse_trace({"states": steps})


# --- hypothesis: the loader raises TraceError and nothing else ---------------------------

_SETTINGS = settings(max_examples=70, derandomize=True, deadline=None,
                     suppress_health_check=[HealthCheck.too_slow])
_scalars = (st.none() | st.booleans() | st.integers(-(10 ** 25), 10 ** 25)
            | st.floats(allow_nan=False) | st.text(max_size=12)
            | st.sampled_from(["0", "-EBUSY", "init", "out", "in", "unknown", "dup", *ACTIONS]))
_json = st.recursive(_scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
    st.text(max_size=8) | st.sampled_from(
        ["states", "#meta", "vars", "mbt::actionTaken", "mbt::nondetPicks", "luo::ret",
         "session", "list", "fd", "design", "bounds", *MODEL_VARS]), inner, max_size=4),
    max_leaves=16)


def _only_trace_errors(doc: Any) -> None:
    try:
        parse_trace(doc)
    except TraceError as exc:
        assert len(str(exc).splitlines()) == 1


@_SETTINGS
@given(_json)
def test_random_json_only_raises_trace_error(doc: Any) -> None:
    _only_trace_errors(doc)
    _only_trace_errors({"states": doc})
    _only_trace_errors({"states": [doc]})


@_SETTINGS
@given(st.binary(max_size=64))
def test_random_bytes_only_raise_trace_error(data: bytes) -> None:
    try:
        parse_trace(parse_trace_bytes(data, "bytes"))
    except TraceError as exc:
        assert len(str(exc).splitlines()) == 1


_VALID: dict[str, Any] = json.loads((TRACES / "upstream-ci" / "005.itf.json").read_text())


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(value, dict):
        for k, v in value.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out += _paths(v, (*prefix, i))
    return out


_PATHS = [p for p in _paths(_VALID) if p]


@settings(max_examples=60, derandomize=True, deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(_PATHS), st.sampled_from(["set", "delete", "add"]),
                          _json), min_size=1, max_size=3))
def test_edited_valid_trace_only_raises_trace_error(
        edits: list[tuple[tuple[Any, ...], str, Any]]) -> None:
    """Random edits of a recorded trace (replace, delete, add a member): parsing and, when
    the trace still validates, replaying raise TraceError or nothing."""
    doc = copy.deepcopy(_VALID)
    for path, how, value in edits:
        parent: Any = doc
        try:
            for part in path[:-1]:
                parent = parent[part]
            if how == "set":
                parent[path[-1]] = value
            elif how == "delete":
                del parent[path[-1]]
            elif isinstance(parent, dict):
                parent[f"{path[-1]}~"] = value
            else:
                parent.insert(path[-1], value)
        except (KeyError, IndexError, TypeError):
            continue  # an earlier edit removed or replaced this path
    try:
        trace = parse_trace(doc)
        name = design_name_from_meta(trace) or "upstream"
        result = replay(trace, BY_ID[name[7:]].design() if name.startswith("mutant:")
                        else PROFILES[name])
    except TraceError as exc:
        assert len(str(exc).splitlines()) == 1
    else:
        assert result.status in ("faithful", "violated", "diverged")
