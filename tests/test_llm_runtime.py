"""The local model's runtime: a portable build, run in a child process, whose crashes are
explained (runtime, signal, CPU features, fix) instead of killing a job with an empty log."""

from __future__ import annotations

import os
import platform
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from claimflow.core import settings
from claimflow.core.models import bundled_gguf_path
from claimflow.knowledge import mine
from claimflow.llm import client as llm
from claimflow.llm import local as localllm
from tests.conftest import REPO, RUN_TIMEOUT, run_workflow

pytestmark = pytest.mark.integration  # the bundled model's runtime in a child process

FOREST_TEXT = (REPO / "demo/texts/forests.txt").read_text().strip()


def _system_info() -> str:
    # In a child: the test process never loads native LLM code itself.
    code = "import llama_cpp; print(llama_cpp.llama_print_system_info().decode())"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    return run.stdout


def test_installed_runtime_is_a_portable_build_whatever_the_machine():
    features = localllm.built_features(_system_info())
    assert features, "llama.cpp reported no features at all"
    beyond = [f for f in features if f.startswith(("AVX512", "AMX")) or f in ("AVX_VNNI", "AVX512F")]
    assert not beyond, f"the runtime uses {beyond}: beyond the x86-64-v3 baseline (Makefile LLAMA_CPU_FLAGS)"
    if platform.machine() in ("x86_64", "AMD64"):
        assert {"AVX2", "FMA", "F16C"} <= set(features), features


HASWELL_RUN = """
import llama_cpp
from claimflow.core.models import bundled_gguf_path

model = llama_cpp.Llama(model_path=bundled_gguf_path(), n_ctx=256, n_threads=1, verbose=False)
print(model.create_completion("The forest", max_tokens=3)["choices"][0]["text"])
"""


@pytest.mark.skipif(platform.machine() != "x86_64", reason="emulates an x86-64-v3 CPU: x86_64 hosts only")
@pytest.mark.skipif(not shutil.which("qemu-x86_64"), reason="needs qemu-user (apt-get install qemu-user; .ci/run does)")
def test_the_runtime_runs_on_the_baseline_cpu_haswell_under_emulation():
    # The documented baseline, checked on the CPU itself rather than on the flags: qemu-user
    # emulates a Haswell (AVX2, FMA, F16C, BMI2; no AVX-512, no AMX), so any instruction beyond
    # the baseline dies with SIGILL (a native build made on this machine does: exit 132).
    run = subprocess.run(["qemu-x86_64", "-cpu", "Haswell", sys.executable, "-c", HASWELL_RUN],
                         capture_output=True, text=True, timeout=RUN_TIMEOUT, cwd=REPO)  # fmt: skip
    assert run.returncode == 0, f"{localllm.describe_exit(run.returncode)}: {run.stderr[-2000:]}"
    assert run.stdout.strip()


def test_built_features_reads_llama_cpp_system_info():
    info = "CPU : SSE3 = 1 | SSSE3 = 1 | AVX = 1 | AVX2 = 1 | AVX512 = 0 | AMX_INT8 = 0 | F16C = 1 | OPENMP = 1 |"
    assert localllm.built_features(info) == ["SSE3", "SSSE3", "AVX", "AVX2", "F16C"]


def test_bundled_model_answers_a_prompt_of_several_hundred_tokens_in_a_child_process():
    runtime = localllm.LocalRuntime(bundled_gguf_path(), n_ctx=2048, threads=2)
    try:
        prompt = "Summarise in one sentence:\n" + "\n".join([FOREST_TEXT] * 6)
        answer = runtime.chat(messages=[{"role": "user", "content": prompt}], max_tokens=24, temperature=0.0)
        child = runtime._proc
        assert child is not None and child.pid != os.getpid() and child.poll() is None
    finally:
        runtime.close()
    assert answer["usage"]["prompt_tokens"] >= 300, answer["usage"]
    assert answer["choices"][0]["message"]["content"].strip()
    assert child.wait(timeout=10) == 0  # closed cleanly, not killed


def test_a_crashed_runtime_is_reported_with_its_signal_build_and_fix():
    runtime = localllm.LocalRuntime(bundled_gguf_path(), n_ctx=512, threads=1)
    try:
        runtime.chat(messages=[{"role": "user", "content": "Hi"}], max_tokens=2)
        os.kill(runtime._proc.pid, signal.SIGSEGV)  # what a native fault does to the child
        with pytest.raises(localllm.RuntimeCrashed) as crash:
            runtime.chat(messages=[{"role": "user", "content": "Hi"}], max_tokens=2)
    finally:
        runtime.close()
    message = str(crash.value)
    assert "llama-cpp-python" in message and "died with SIGSEGV" in message
    assert "built for CPU features: " in message and "AVX2" in message
    assert "make rebuild-llm" in message and "llm.provider: openai" in message


def test_a_runtime_that_stops_answering_is_stopped_after_the_timeout_with_the_fix(monkeypatch):
    import time

    monkeypatch.setenv("CLAIMFLOW_TEST_RUNTIME_STALL", "60")
    runtime = localllm.LocalRuntime(bundled_gguf_path(), n_ctx=512, threads=1, timeout=2)
    try:
        began = time.monotonic()
        with pytest.raises(localllm.RuntimeTooSlow) as hung:  # slow or hung: named so, never "crashed"
            runtime.chat(messages=[{"role": "user", "content": "Hi"}], max_tokens=2)
        waited = time.monotonic() - began
        child_gone = runtime._proc is None
    finally:
        runtime.close()
    assert 2 <= waited < 30 and child_gone  # the model's load is not counted: it answered that
    assert "did not answer within 2 s while answering" in str(hung.value) and "llm.timeout" in str(hung.value)


def test_mining_stops_on_a_crashed_runtime_instead_of_recording_failed_windows(tmp_path, monkeypatch):
    monkeypatch.setenv("CLAIMFLOW_TEST_RUNTIME_SIGNAL", "SIGSEGV")
    localllm.runtime.cache_clear()
    client = llm.from_config({"provider": "local", "max_tokens": 50}, threads=1)
    transcript = {"vid": "f", "status": "ok", "segments": [{"id": 1, "start": 0.0, "end": 9.0, "text": FOREST_TEXT}]}
    try:
        with pytest.raises(localllm.RuntimeCrashed, match="SIGSEGV"):
            mine.run(transcript, client, settings.load().mine)
    finally:
        localllm.runtime.cache_clear()


@pytest.mark.slow
def test_a_mine_job_whose_runtime_crashes_says_why_in_its_log(tmp_path: Path):
    (tmp_path / "test.yaml").write_text(yaml.safe_dump({"sources": str(REPO / "demo/sources.txt")}))
    env = os.environ | {"CI": "true", "CLAIMFLOW_TEST_RUNTIME_SIGNAL": "SIGSEGV"}
    run = run_workflow(
        tmp_path, "--retries", "0", targets=("results/file-forests/claims.json",), jobs=2, env=env, check=False
    )
    assert run.returncode != 0
    log = (tmp_path / "results/logs/mine/file-forests.log").read_text()
    assert "local model runtime: llama-cpp-python" in log  # what was started, before it died
    assert "died with SIGSEGV" in log and "built for CPU features" in log and "make rebuild-llm" in log
    assert not (tmp_path / "results/file-forests/claims.json").exists()
