"""Repository-level checks: lint, strict typing, README and CI agree."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def test_ci_runs_the_readme_test_command() -> None:
    """Verifies that .ci/run runs, word for word, the README's quick-start test command."""
    readme = (ROOT / "README.md").read_text()
    block = re.search(r"<!-- test-command -->\s*```sh\n(.+?)\n```", readme, re.S)
    assert block, "README.md marks its test command with <!-- test-command -->"
    command = block.group(1).strip()
    ci = (ROOT / ".ci" / "run").read_text()
    assert command in ci.splitlines()


def test_ruff_clean() -> None:
    ruff = shutil.which("ruff")
    if ruff is None:
        pytest.skip("ruff is not installed")
    res = subprocess.run([ruff, "check", "model", "reference", "specs", "checks", "tests", "bench"],
                         cwd=ROOT, capture_output=True, text=True, check=False)
    assert res.returncode == 0, res.stdout + res.stderr


def test_mypy_strict_clean(tmp_path: Path) -> None:
    """mypy --strict over the installed namespace (luoverify.model/reference/specs/checks)
    and the benchmark code (bench/vector.py, bench/run.py, the SPIN peer of the LUO model).

    The editable install maps top-level folders with an import hook mypy cannot follow,
    so the check runs on a symlinked ``luoverify/`` tree.
    """
    pytest.importorskip("mypy")
    pkg = tmp_path / "luoverify"
    pkg.mkdir()
    for name in ("model", "reference", "specs", "checks"):
        (pkg / name).symlink_to(ROOT / name)
    (tmp_path / "bench").mkdir()
    for name in ("__init__.py", "vector.py", "run.py", "toy.py"):
        (tmp_path / "bench" / name).symlink_to(ROOT / "bench" / name)
    (tmp_path / "bench" / "peers").mkdir()
    for name in ("__init__.py", "luo_spin.py", "luo_promela.py", "promela.py"):
        (tmp_path / "bench" / "peers" / name).symlink_to(ROOT / "bench" / "peers" / name)
    env = dict(os.environ, MYPYPATH=str(tmp_path))
    res = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--config-file",
         str(ROOT / "pyproject.toml"), "-p", "luoverify.model", "-p", "luoverify.reference",
         "-p", "luoverify.specs", "-p", "luoverify.checks", "-m", "bench.vector",
         "-m", "bench.run", "-m", "bench.peers.luo_spin", "-m", "bench.peers.luo_promela"],
        cwd=tmp_path, capture_output=True, text=True, env=env, check=False)
    assert res.returncode == 0, res.stdout + res.stderr
