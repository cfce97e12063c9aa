"""`claimflow doctor`: each check runs the real thing in miniature and says OK or the fix."""

from __future__ import annotations

import os
import socket
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.conftest import CLAIMFLOW, REPO

pytestmark = pytest.mark.integration  # runs `claimflow doctor`: the LLM, Whisper, yt-dlp


def _doctor(tmp_path: Path, overrides: dict, env: dict | None = None) -> subprocess.CompletedProcess:
    config = {"sources": str(REPO / "demo/sources.txt"), "results": str(tmp_path / "results"),
              "state": str(tmp_path / "state")} | overrides  # fmt: skip
    (tmp_path / "my.yaml").write_text(yaml.safe_dump(config))
    command = [*CLAIMFLOW, "doctor", "--configfile", str(REPO / "config/demo.yaml"), str(tmp_path / "my.yaml")]
    return subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=tmp_path, env=env)


def _lines(run: subprocess.CompletedProcess) -> dict[str, str]:
    """check name -> its line (with the fix line, if any)."""
    found: dict[str, str] = {}
    name = None
    for line in run.stdout.splitlines():
        if line.startswith(("OK ", "WARN ", "FAIL ")):
            name = line.split()[1]
            found[name] = line
        elif name and line.startswith(" "):
            found[name] += "\n" + line
    return found


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # closed again when the socket is: nothing listens there


def test_doctor_passes_on_the_demo_setup(tmp_path):
    run = _doctor(tmp_path, {})
    assert run.returncode == 0, run.stdout + run.stderr
    lines = _lines(run)
    assert set(lines) == {"folders", "cookies", "llm", "transcribe", "yt-dlp", "catalogue"}, run.stdout
    # A busy machine (the suite beside other work) may make the model slow enough for the speed warning.
    slow = lines["llm"].startswith("WARN") and "more than llm.timeout" in lines["llm"]
    assert lines["llm"].startswith("OK") or slow, lines["llm"]
    assert "SmolLM2-135M-Instruct" in lines["llm"] and "AVX2" in lines["llm"]
    assert lines["transcribe"].startswith("OK") and "tiny.en" in lines["transcribe"]
    assert lines["yt-dlp"].startswith("OK") and "yt-dlp 2026.10.26" in lines["yt-dlp"]
    assert "JavaScript runtime: deno 2.9.8" in lines["yt-dlp"] and "EJS scripts installed" in lines["yt-dlp"]
    assert run.stdout.rstrip().endswith("ready: every check passed or only warns")


def test_doctor_names_an_endpoint_on_a_closed_port_and_the_fix(tmp_path):
    base = f"http://127.0.0.1:{_closed_port()}/v1"
    run = _doctor(tmp_path, {"llm": {"provider": "openai", "base_url": base, "model": "smollm2"}})
    assert run.returncode == 1
    lines = _lines(run)
    assert lines["llm"].startswith("FAIL") and f"endpoint {base} did not answer" in lines["llm"]
    assert "fix: start the server, or correct llm.base_url" in lines["llm"]
    assert lines["transcribe"].startswith("OK")  # one failure does not hide the other checks
    assert run.stdout.rstrip().endswith("1 check(s) failed")


def test_doctor_checks_each_stages_model_and_names_the_stages_own_keys(tmp_path):
    # Mining on the bundled model, evaluation on an endpoint that is not running.
    base = f"http://127.0.0.1:{_closed_port()}/v1"
    run = _doctor(tmp_path, {"evaluate": {"llm": {"provider": "openai", "base_url": base, "model": "strong"}}})
    assert run.returncode == 1
    line = _lines(run)["llm"]
    assert line.startswith("FAIL") and f"evaluate: endpoint {base} did not answer" in line, line
    assert "mine, judge: local model SmolLM2-135M-Instruct" in line, line  # the other model answered
    assert "fix: evaluate: start the server, or correct evaluate.llm.base_url" in line, line


def test_doctor_names_a_missing_api_key(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "CLAIMFLOW_TEST_KEY"}
    llm = {"provider": "openai", "model": "gpt-4o-mini", "api_key_env": "CLAIMFLOW_TEST_KEY"}
    run = _doctor(tmp_path, {"llm": llm}, env=env)
    assert run.returncode == 1
    assert "$CLAIMFLOW_TEST_KEY is not set" in _lines(run)["llm"]
    assert "export CLAIMFLOW_TEST_KEY=<your key>" in _lines(run)["llm"]


def test_doctor_names_a_results_folder_it_cannot_write(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    run = _doctor(tmp_path, {"results": str(blocker / "results")})
    assert run.returncode == 1
    assert f"results folder '{blocker / 'results'}' is not writable" in _lines(run)["folders"]


def test_doctor_refuses_a_bad_config_with_the_key_name(tmp_path):
    run = _doctor(tmp_path, {"pacing": {"dealy": [1, 2]}})
    assert run.returncode == 2 and "dealy" in run.stderr and "Traceback" not in run.stderr
