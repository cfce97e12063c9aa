"""Shared fixtures: the repository, the demo clips, and a fault-injecting media server on loopback."""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import re
import shutil
import socket
import subprocess
import sys
import wave
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

# Importing yt-dlp starts a process once (pycryptodome asks platform.architecture, which runs
# `file`): done here, before any unit test's guard below, not inside the first test to import it.
import yt_dlp  # noqa: F401

from tests.harness.faultserver import FaultServer
from tests.harness.llmserver import llama_server

REPO = Path(__file__).resolve().parent.parent
# The limit on a workflow run in a test: it only ends a hung run. A busy machine (a shared CI
# runner, a laptop compiling beside it) may take many times as long as a quiet one.
RUN_TIMEOUT = 3600
DEMO = REPO / "demo"
DEMO_CLIPS = sorted(DEMO.glob("*.ogg"))


# The tiers (pyproject's markers): a test marked `slow` runs the real workflow (minutes), one
# marked `integration` a real part (Snakemake, Whisper, the local model, a server on loopback, a
# browser, another process; seconds). Every other test is a unit test, the tier `make test-fast`
# runs after each edit, and it is held to that: it cannot start a process or open a socket.
REAL_PART_MARKERS = ("slow", "integration")


@contextlib.contextmanager
def _no_real_part(item: pytest.Item) -> Iterator[None]:
    if any(item.get_closest_marker(name) for name in REAL_PART_MARKERS):
        yield
        return

    def refused(what: str):  # noqa: ANN202 - a stand-in with the signature of what it replaces
        def refuse(*args, **kwargs) -> None:
            raise AssertionError(f"a unit test started {what}: mark it `integration` (or `slow`), see pyproject.toml")

        return refuse

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(subprocess.Popen, "__init__", refused("a process"))
        patch.setattr(multiprocessing.process.BaseProcess, "start", refused("a process"))
        patch.setattr(socket.socket, "bind", refused("a server"))
        patch.setattr(socket.socket, "connect", refused("a connection"))
        patch.setattr("claimflow.transcribe.whisper.load_model", refused("Whisper"))
        patch.setattr("claimflow.llm.local.LocalRuntime.__init__", refused("the local model"))
        yield


# Around the setup too: a module's fixture is made in its first test's setup.
@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Iterator[None]:
    with _no_real_part(item):
        yield


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    with _no_real_part(item):
        yield


@pytest.fixture
def media_server(tmp_path: Path) -> Iterator[FaultServer]:
    """The fault-injecting server on loopback, serving copies of the demo clips."""
    root = tmp_path / "www"
    root.mkdir()
    for clip in DEMO_CLIPS:
        (root / clip.name).write_bytes(clip.read_bytes())
    with FaultServer(root) as server:
        yield server


@pytest.fixture(scope="session")
def llama_base_url() -> Iterator[str]:
    """The real OpenAI-compatible llama_cpp.server with the bundled model, on loopback."""
    with llama_server() as base:
        yield base


def write_silence(path: Path, seconds: float) -> Path:
    """A mono 16 kHz WAV of digital silence: the no-speech case without any model guessing."""
    with wave.open(str(path), "wb") as handle:
        handle.setnchannels(1)
        handle.setsampwidth(2)
        handle.setframerate(16000)
        handle.writeframes(b"\x00\x00" * int(16000 * seconds))
    return path


SNAKEMAKE = (sys.executable, "-m", "snakemake")
CLAIMFLOW = (sys.executable, "-m", "claimflow.cli")
DEMO_CONFIG = REPO / "config/demo.yaml"


def workflow_command(
    workdir: Path,
    *args: str,
    configs: tuple[Path, ...] | None = None,
    targets: tuple[str, ...] = (),
    runner: str = "snakemake",
    profile: str | None = "local",
    jobs: int | None = 16,
) -> list[str]:
    """The command line a user types for the batch in `workdir`: Snakemake itself, or the
    claimflow command that runs the workflow (runner "run" or "refresh"); the repository's
    Snakefile and a profile, the config files (by default config/demo.yaml and the folder's
    test.yaml), then `args`. Targets go before --configfile, which would take them for more."""
    head = [*SNAKEMAKE] if runner == "snakemake" else [*CLAIMFLOW, runner]
    command = [*head, *targets, "--snakefile", str(REPO / "Snakefile"), "--directory", str(workdir)]
    if profile:
        command += ["--profile", str(REPO / "profiles" / profile)]
    if jobs:
        command += ["-j", str(jobs)]
    configs = (DEMO_CONFIG, workdir / "test.yaml") if configs is None else configs
    if configs:
        command += ["--configfile", *map(str, configs)]
    return [*command, *args]


def run_workflow(
    workdir: Path,
    *args: str,
    check: bool = True,
    timeout: float = RUN_TIMEOUT,
    env: dict[str, str] | None = None,
    prefix: tuple[str, ...] = (),
    cwd: Path | None = None,
    **how,
) -> subprocess.CompletedProcess:
    """Run `workflow_command(workdir, *args, **how)` (after `prefix`, e.g. taskset) to its end;
    with `check`, a failed run fails the test with the end of what it said. `env` is the whole
    environment when given (default: this one, with CI set, as a batch job sees it)."""
    command = [*prefix, *workflow_command(workdir, *args, **how)]
    env = os.environ | {"CI": "true"} if env is None else env
    # The limit only ends a hung run: a busy machine (a shared CI runner) may take many times longer.
    run = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env, cwd=cwd)
    if check and run.returncode != 0:
        raise AssertionError(f"the workflow failed ({run.returncode}):\n{run.stdout[-3000:]}\n{run.stderr[-6000:]}")
    return run


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory) -> Path:
    workdir = tmp_path_factory.mktemp("demo")
    overrides = {"sources": str(REPO / "demo/sources.txt"), "results": "results", "state": "state"}
    (workdir / "test.yaml").write_text(yaml.safe_dump(overrides))
    run_workflow(workdir)
    return workdir


def demo_with_an_extra_video(demo_run: Path, work: Path, extra_first: bool = False, **overrides) -> Path:
    """A copy of the finished demo whose sources add one video not downloaded yet (`extra.ogg`,
    id file-extra); the demo's three keep their paths, so their ids and URLs, and stay done.
    `overrides` go into the copy's test.yaml."""
    shutil.copytree(demo_run, work)
    extra = work / "extra.ogg"
    shutil.copy(DEMO_CLIPS[0], extra)
    demo = [str(REPO / "demo" / name) for name in ("sleep.ogg", "interest.ogg", "forests.ogg")]
    lines = [str(extra), *demo] if extra_first else [*demo, str(extra)]
    (work / "sources.txt").write_text("\n".join(lines) + "\n")
    config = yaml.safe_load((work / "test.yaml").read_text()) | {"sources": str(work / "sources.txt")} | overrides
    (work / "test.yaml").write_text(yaml.safe_dump(config))
    return work


def bench_batch(root: Path, videos: int, sleep: dict, jobs: int = 8, **config) -> dict:
    """A batch of `videos` URLs in benchmark mode (stage work replaced by `sleep`; scheduler,
    slots, pacing and store real), two accounts, in `root`; returns its `workflow_command`
    keywords (`run_workflow(root, **bench_batch(root, ...))`)."""
    root.mkdir()
    (root / "videos.txt").write_text("".join(f"https://example.com/bench/v{n:03d}.mp3\n" for n in range(videos)))
    settings = {
        "sources": str(root / "videos.txt"), "results": "results", "state": "state",
        "accounts": [{"name": "a1"}, {"name": "a2"}],
        "pacing": {"delay": [0.5, 0.5], "floor": 0.2, "warmup": {"videos": 0},
                   "buffer": {"min": 0, "target": 1000, "max": 1000}},
        "benchmark": {"sleep": sleep},
        # The captions pass (the stand-in finds none unless benchmark.captioned) at short gaps.
        "captions": {"pacing": {"delay": [0.1, 0.1], "floor": 0.05}},
    } | config  # fmt: skip
    (root / "bench.yaml").write_text(yaml.safe_dump(settings))
    return {"configs": (root / "bench.yaml",), "jobs": jobs}


def planned_jobs(output: str) -> set[tuple[str, str]]:
    """(rule, vid) for every job a dry run lists."""
    jobs, rule = set(), None
    for line in output.splitlines():
        found = re.match(r"^(?:local)?rule (\w+):", line)
        if found:
            rule = found.group(1)
            jobs.add((rule, ""))
            continue
        found = re.match(r"^\s+wildcards: vid=([\w-]+)", line)
        if found and rule:
            jobs.discard((rule, ""))
            jobs.add((rule, found.group(1)))
    return jobs
