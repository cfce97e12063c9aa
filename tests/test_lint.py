"""The workflow and the package stay lint-clean: snakemake --lint, snakefmt, ruff."""

import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.integration  # runs ruff, snakefmt and snakemake --lint

BIN = Path(sys.executable).parent


def _run(*command: str) -> subprocess.CompletedProcess:
    return subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=300)


def test_snakemake_lint_is_clean(tmp_path):
    sources = f"sources={REPO / 'demo/sources.txt'}"
    run = _run(
        str(BIN / "snakemake"), "--lint", "--configfile", "config/demo.yaml", "--config", sources, "-d", str(tmp_path)
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "good condition" in run.stdout + run.stderr


def test_snakefmt_is_clean():
    run = _run(str(BIN / "snakefmt"), "--check", "Snakefile", "rules")
    assert run.returncode == 0, run.stderr


def test_ruff_is_clean():
    paths = ["claimflow", "scripts", "tests", "benchmarks", "demo"]
    check = _run(str(BIN / "ruff"), "check", *paths)
    assert check.returncode == 0, check.stdout
    fmt = _run(str(BIN / "ruff"), "format", "--check", *paths)
    assert fmt.returncode == 0, fmt.stdout
