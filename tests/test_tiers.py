"""The test tiers hold: a unit test (neither `integration` nor `slow`) cannot start a process,
open a server or a connection, load Whisper or start the local model, so `make test-fast` stays
the tier a developer runs after every edit."""

from __future__ import annotations

import socket
import subprocess

import pytest

from claimflow.llm import local as localllm
from claimflow.transcribe import whisper


def test_a_unit_test_cannot_start_a_real_part():
    with pytest.raises(AssertionError, match="a unit test started a process: mark it `integration`"):
        subprocess.run(["true"], check=False)
    with socket.socket() as sock:
        with pytest.raises(AssertionError, match="a unit test started a server"):
            sock.bind(("127.0.0.1", 0))
        with pytest.raises(AssertionError, match="a unit test started a connection"):
            sock.connect(("127.0.0.1", 9))
    with pytest.raises(AssertionError, match="a unit test started Whisper"):
        whisper.load_model("tiny.en", None, 1)
    with pytest.raises(AssertionError, match="a unit test started the local model"):
        localllm.LocalRuntime()


@pytest.mark.integration
def test_an_integration_test_may_start_one():
    assert subprocess.run(["true"], check=False).returncode == 0
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        assert sock.getsockname()[1] > 0
