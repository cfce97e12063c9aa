"""Shared fixtures: the repository, the demo clips, and a fault-injecting media server on loopback."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import wave
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.faultserver import FaultServer
from tests.llmserver import llama_server

REPO = Path(__file__).resolve().parent.parent
# The limit on a workflow run in a test: it only ends a hung run. A busy machine (a shared CI
# runner, a laptop compiling beside it) may take many times as long as a quiet one.
RUN_TIMEOUT = 3600
DEMO = REPO / "demo"
DEMO_CLIPS = sorted(DEMO.glob("*.ogg"))


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


def snakemake(workdir: Path, *args: str, targets: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    """The demo workflow in `workdir` (its test.yaml last); targets go before --configfile,
    which would take them for config files."""
    command = [
        sys.executable, "-m", "snakemake", *targets, "--snakefile", str(REPO / "Snakefile"),
        "--directory", str(workdir),
        "--profile", str(REPO / "profiles/local"), "-j", "16",
        "--configfile", str(REPO / "config/demo.yaml"), str(workdir / "test.yaml"), *args,
    ]  # fmt: skip
    # The limit only ends a hung run: a busy machine (a shared CI runner) may take many times longer.
    run = subprocess.run(command, capture_output=True, text=True, timeout=RUN_TIMEOUT, env=os.environ | {"CI": "true"})
    if run.returncode != 0:
        raise AssertionError(f"snakemake failed ({run.returncode}):\n{run.stdout[-3000:]}\n{run.stderr[-6000:]}")
    return run


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory) -> Path:
    workdir = tmp_path_factory.mktemp("demo")
    overrides = {"sources": str(REPO / "demo/sources.txt"), "results": "results", "state": "state"}
    (workdir / "test.yaml").write_text(yaml.safe_dump(overrides))
    snakemake(workdir)
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


def bench_batch(root: Path, videos: int, sleep: dict, jobs: int = 8, **config) -> list[str]:
    """A batch of `videos` URLs in benchmark mode (stage work replaced by `sleep`; scheduler,
    slots, pacing and store real), two accounts; returns Snakemake's arguments for it."""
    root.mkdir()
    (root / "videos.txt").write_text("".join(f"https://example.com/bench/v{n:03d}.mp3\n" for n in range(videos)))
    settings = {
        "sources": str(root / "videos.txt"), "results": "results", "state": "state",
        "accounts": [{"name": "a1"}, {"name": "a2"}],
        "pacing": {"delay": [0.5, 0.5], "floor": 0.2, "warmup": {"videos": 0},
                   "buffer": {"min": 0, "target": 1000, "max": 1000}},
        "benchmark": {"sleep": sleep},
    } | config  # fmt: skip
    (root / "bench.yaml").write_text(yaml.safe_dump(settings))
    return ["--snakefile", str(REPO / "Snakefile"), "--directory", str(root), "--profile",
            str(REPO / "profiles/local"), "-j", str(jobs), "--configfile", str(root / "bench.yaml")]  # fmt: skip
