"""Shared fixtures: the repository, the demo clips, and a fault-injecting media server on loopback."""

from __future__ import annotations

import wave
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.faultserver import FaultServer
from tests.llmserver import llama_server

REPO = Path(__file__).resolve().parent.parent
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
