"""The local model's runtime (llama-cpp-python) in a child process.

llama.cpp is native code compiled for a set of CPU features. On a CPU it was not built for
(SIGILL), or one whose kernels are faulty (AMX: llama.cpp issue 20824, SIGSEGV), it dies by a
signal and takes its process with it: in-process, a mine job would vanish with an empty log.
In a child process the crash becomes an error the job can explain: which runtime, which
signal, which CPU features it was built for, what this CPU has, and the fix.

The child speaks length-prefixed JSON over its stdin/stdout; its own stdout is moved to
stderr first, so native code that prints cannot corrupt the protocol. The model is loaded
once per child, and one child serves every request of a job.
"""

from __future__ import annotations

import atexit
import collections
import functools
import json
import logging
import os
import select
import signal
import struct
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import IO, Any

log = logging.getLogger(__name__)

# Loading a model (a GGUF file read into memory) gets at least this long, whatever llm.timeout is.
LOAD_TIMEOUT = 600.0
REBUILD_HINT = (
    "rebuild the runtime for a portable CPU baseline with `make rebuild-llm` (docs/local-model.md), "
    "or use an OpenAI-compatible endpoint (llm.provider: openai, llm.base_url)"
)
# CPU features worth naming when a runtime crashes: the ones builds differ by.
NOTABLE_CPU_FLAGS = ("avx", "avx2", "fma", "f16c", "bmi2", "avx512f", "avx512_vnni", "avx512_bf16",
                     "avx_vnni", "amx_tile", "amx_int8", "amx_bf16")  # fmt: skip


class RuntimeFailed(RuntimeError):
    """The local model's runtime could not answer: an environment fault, never a fault of one
    transcript window, so mining must not record it as a failed window."""


class RuntimeCrashed(RuntimeFailed):
    """The runtime died (a signal or an unexpected exit)."""


class RuntimeTooSlow(RuntimeFailed):
    """The runtime gave no answer within the bound its own measured speed allows: the machine is
    busier than when it was measured, or the runtime hangs. Slow, not crashed."""


# A request's bound: this many times what its size takes at the speed measured (and last seen),
# so a machine that gets busier mid-job is waited for and a runtime that hangs is still stopped.
SPEED_MARGIN = 3.0


@dataclass(frozen=True)
class Speed:
    """Tokens per second of one runtime on this machine, measured by the child after loading."""

    prompt_tps: float  # prompt tokens evaluated per second
    generate_tps: float  # tokens generated per second

    def seconds(self, prompt_tokens: float, completion_tokens: float) -> float:
        return prompt_tokens / self.prompt_tps + completion_tokens / self.generate_tps


def estimate_prompt_tokens(messages: list[dict[str, Any]]) -> int:
    """An upper estimate of a chat's prompt tokens without the tokenizer (about 3 characters a
    token for English BPE vocabularies; the template adds a few per message)."""
    return sum(len(str(m.get("content") or "")) // 3 + 8 for m in messages)


@dataclass(frozen=True)
class RuntimeInfo:
    """What the child reported about its runtime before loading the model."""

    version: str
    system_info: str  # llama_print_system_info(): the backends and CPU features compiled in

    @property
    def built_for(self) -> list[str]:
        return built_features(self.system_info)


# Entries of llama.cpp's system info that are build options, not CPU instruction sets.
NOT_CPU_FEATURES = {"LLAMAFILE", "OPENMP", "REPACK", "KLEIDIAI", "ACCELERATE", "BLAS"}


def built_features(system_info: str) -> list[str]:
    """CPU instruction sets a build uses, from llama.cpp's system info ("AVX2 = 1 | FMA = 1 | ...")."""
    features = []
    for part in system_info.replace("\n", "|").split("|"):
        name, sep, value = part.partition("=")
        name = name.strip().split(":")[-1].strip()
        if sep and value.strip() == "1" and name not in NOT_CPU_FEATURES:
            features.append(name)
    return features


def cpu_flags(cpuinfo: Path = Path("/proc/cpuinfo")) -> list[str]:
    """The notable features of this CPU (Linux), for error messages and `claimflow doctor`."""
    try:
        text = cpuinfo.read_text(errors="replace")
    except OSError:
        return []
    flags = next((line.split(":", 1)[1].split() for line in text.splitlines() if line.startswith("flags")), [])
    return [f for f in NOTABLE_CPU_FLAGS if f in flags]


def describe_exit(returncode: int) -> str:
    if returncode < 0:
        try:
            return signal.Signals(-returncode).name
        except ValueError:
            return f"signal {-returncode}"
    return f"exit status {returncode}"


class LocalRuntime:
    """A GGUF model served by llama-cpp-python in a child process."""

    def __init__(self, model_path: str, n_ctx: int = 4096, threads: int = 1, timeout: float | None = None) -> None:
        self.model_path = model_path
        self.n_ctx = n_ctx
        self.threads = threads
        # Every wait is bounded: an answer that takes longer than `timeout` (llm.timeout) means a
        # runtime that hangs; loading the model gets the same bound, at least LOAD_TIMEOUT.
        self.timeout = timeout
        self.info: RuntimeInfo | None = None
        self.speed: Speed | None = None  # measured by the child after loading the model
        self.slowdown = 1.0  # how much slower than measured the last answer came
        self._proc: subprocess.Popen[bytes] | None = None
        self._stderr_tail: collections.deque[str] = collections.deque(maxlen=40)
        self._lock = threading.Lock()

    # -- public ------------------------------------------------------------------------
    def chat(self, **request: Any) -> dict[str, Any]:
        """llama_cpp.Llama.create_chat_completion(**request), answered by the child."""
        with self._lock:
            self._ensure_started()
            bound = self.bound(request)
            began = time.monotonic()
            reply = self._exchange({"op": "chat", "request": request}, timeout=bound)
            elapsed = time.monotonic() - began
            self._observe(reply["result"], elapsed)
            tokens = (reply["result"].get("usage") or {}).get("completion_tokens", 0)
            log.info("local model answered %d tokens in %.1f s (its bound %.0f s)", tokens, elapsed, bound or 0)
            return reply["result"]

    def bound(self, request: dict[str, Any]) -> float | None:
        """How long this request may take: at least llm.timeout, and SPEED_MARGIN times what its
        prompt and its longest answer take at the speed measured (times the slowdown last seen)."""
        if self.speed is None or self.timeout is None:  # no timeout: no bound
            return self.timeout
        expected = self.speed.seconds(estimate_prompt_tokens(request.get("messages", [])),
                                      request.get("max_tokens") or 512)  # fmt: skip
        return max(self.timeout, SPEED_MARGIN * self.slowdown * expected)

    def _observe(self, result: dict[str, Any], elapsed: float) -> None:
        usage = result.get("usage") or {}
        if self.speed is None or not usage:
            return
        predicted = self.speed.seconds(usage.get("prompt_tokens", 0), usage.get("completion_tokens", 0))
        if predicted > 0.05:  # too short an answer says nothing about the machine's load
            self.slowdown = max(1.0, elapsed / predicted)

    def close(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        try:
            _send(proc.stdin, {"op": "quit"})
            proc.stdin.close()
            proc.wait(timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            proc.kill()
            proc.wait()

    # -- the child ---------------------------------------------------------------------
    def _ensure_started(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            return
        cmd = [sys.executable, "-m", "claimflow.llm.local", self.model_path, str(self.n_ctx), str(self.threads)]
        # Unbuffered answers: the wait for the next one can then be bounded with select().
        self._proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                      bufsize=0)  # fmt: skip
        threading.Thread(target=self._drain_stderr, args=(self._proc.stderr,), daemon=True).start()
        load = max(LOAD_TIMEOUT, self.timeout or 0)
        hello = self._exchange(None, stage="starting", timeout=load)
        self.info = RuntimeInfo(hello["version"], hello["system_info"])
        log.info(
            "local model runtime: llama-cpp-python %s, built for %s, threads %d (pid %d)",
            self.info.version,
            " ".join(self.info.built_for) or "no SIMD features",
            self.threads,
            self._proc.pid,
        )
        ready = self._exchange(None, stage="loading the model", timeout=load)
        if measured := ready.get("speed"):
            self.speed = Speed(measured["prompt_tps"], measured["generate_tps"])
            log.info("local model speed here: %.0f prompt tokens/s, %.1f generated tokens/s (%d threads)",
                     self.speed.prompt_tps, self.speed.generate_tps, self.threads)  # fmt: skip

    def _exchange(
        self, message: dict[str, Any] | None, stage: str = "answering", timeout: float | None = None
    ) -> dict[str, Any]:
        proc = self._proc
        assert proc is not None and proc.stdin is not None and proc.stdout is not None
        try:
            if message is not None:
                _send(proc.stdin, message)
            ready, _, _ = select.select([proc.stdout], [], [], timeout)
            if not ready:
                raise self._hung(stage, timeout)
            reply = _receive(proc.stdout)
        except (BrokenPipeError, EOFError, ConnectionResetError):
            reply = None
        if reply is None:
            raise self._crashed(stage)
        if reply.get("error"):
            raise RuntimeError(f"local model runtime: {reply['error']}")
        return reply

    def _hung(self, stage: str, timeout: float | None) -> RuntimeTooSlow:
        proc, self._proc = self._proc, None
        assert proc is not None
        proc.kill()
        proc.wait()
        measured = ""
        if self.speed is not None and stage == "answering":
            seen = f" (times the {self.slowdown:.1f}x slowdown last seen)" if self.slowdown > 1 else ""
            measured = (f"; measured when the job started: {self.speed.generate_tps:.1f} generated and "
                        f"{self.speed.prompt_tps:.0f} prompt tokens/s, so it was given {SPEED_MARGIN:g} times the "
                        f"time its answer takes at that speed{seen}")  # fmt: skip
        return RuntimeTooSlow(
            f"the local model's runtime did not answer within {timeout:g} s while {stage} (model "
            f"{Path(self.model_path).name}, {self.threads} threads{measured}): it was stopped as too slow, or hung. "
            "Fix: the machine is busier than when the job began: run fewer LLM jobs at once (llm.max_concurrency) "
            "or give each more threads; llm.timeout raises the least wait. The same command again resumes, and "
            "windows already answered come from the cache"
        )

    def _crashed(self, stage: str) -> RuntimeCrashed:
        proc = self._proc
        assert proc is not None
        try:
            returncode = proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            returncode = proc.wait()
        self._proc = None
        version = self.info.version if self.info else _installed_version()
        built = " ".join(self.info.built_for) if self.info else "unknown (it died before reporting)"
        tail = "".join(self._stderr_tail).strip().splitlines()[-5:]
        message = (
            f"the local model's runtime (llama-cpp-python {version}) died with {describe_exit(returncode)} "
            f"while {stage} (model {Path(self.model_path).name}). It was built for CPU features: {built}; "
            f"this CPU has: {' '.join(cpu_flags()) or 'unknown'}. A native crash like this usually means the "
            f"runtime was compiled for another CPU, or uses kernels that are faulty on this one. Fix: {REBUILD_HINT}."
        )
        if tail:
            message += " Its last output: " + " / ".join(line.strip() for line in tail)
        return RuntimeCrashed(message)

    def _drain_stderr(self, stream: IO[bytes]) -> None:
        for raw in iter(stream.readline, b""):
            self._stderr_tail.append(raw.decode("utf-8", "replace"))


@functools.cache
def runtime(model_path: str, n_ctx: int, threads: int, timeout: float | None = None) -> LocalRuntime:
    """One child per model and settings per job process; closed when the job ends."""
    rt = LocalRuntime(model_path, n_ctx, threads, timeout)
    atexit.register(rt.close)
    return rt


def _installed_version() -> str:

    try:
        return version("llama_cpp_python")
    except PackageNotFoundError:
        return "not installed"


# -- wire format: 4-byte big-endian length, then UTF-8 JSON ------------------------------
def _send(stream: IO[bytes] | None, message: dict[str, Any]) -> None:
    assert stream is not None
    data = json.dumps(message).encode()
    stream.write(struct.pack(">I", len(data)) + data)
    stream.flush()


def _read_exactly(stream: IO[bytes], size: int) -> bytes:
    # An unbuffered pipe returns what has arrived so far: read until `size` bytes or the end.
    data = b""
    while len(data) < size:
        chunk = stream.read(size - len(data))
        if not chunk:
            break
        data += chunk
    return data


def _receive(stream: IO[bytes]) -> dict[str, Any] | None:
    header = _read_exactly(stream, 4)
    if len(header) < 4:
        return None
    (size,) = struct.unpack(">I", header)
    data = _read_exactly(stream, size)
    if len(data) < size:
        return None
    return json.loads(data)


def _measure_speed(llama: Any) -> dict[str, float]:
    """Prompt and generation tokens per second, on this machine now (about a second for the
    bundled model): a short prompt evaluated, then a short answer generated greedily."""
    prompt = "The rain in the valley fed the river, and the river fed the fields below it. " * 4
    began = time.perf_counter()
    evaluated = llama.create_completion(prompt, max_tokens=1, temperature=0.0)
    prompt_seconds = time.perf_counter() - began
    prompt_tps = max(1, evaluated["usage"]["prompt_tokens"]) / max(prompt_seconds, 1e-3)
    began = time.perf_counter()
    counted = llama.create_completion("Count from one to one hundred in words: one, two, three,", max_tokens=24,
                                      temperature=0.0)  # fmt: skip
    seconds = time.perf_counter() - began - counted["usage"]["prompt_tokens"] / prompt_tps
    generate_tps = max(1, counted["usage"]["completion_tokens"]) / max(seconds, 1e-3)
    return {"prompt_tps": round(prompt_tps, 1), "generate_tps": round(generate_tps, 2)}


def _serve(model_path: str, n_ctx: int, threads: int) -> None:
    """The child: report the runtime, load the model, answer requests until told to quit."""
    # Keep the protocol on a private copy of stdout; anything native code prints goes to stderr.
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    inp = sys.stdin.buffer
    import llama_cpp  # the runtime is native code: only in the child process

    _send(out, {"version": llama_cpp.__version__, "system_info": llama_cpp.llama_print_system_info().decode()})
    try:
        llama = llama_cpp.Llama(model_path=model_path, n_ctx=n_ctx, n_threads=threads, seed=0, verbose=False)
    except Exception as exc:  # a Python-level failure (bad path, bad file) is reported, not a crash
        _send(out, {"error": f"could not load {model_path}: {exc}"})
        return
    _send(out, {"ready": True, "speed": _measure_speed(llama)})
    # Fault injection for tests (a real signal, raised by the child itself): the crash a runtime
    # built for another CPU meets, at the first request, so its report can be checked end to end.
    crash_with = os.environ.get("CLAIMFLOW_TEST_RUNTIME_SIGNAL")
    stall = float(os.environ.get("CLAIMFLOW_TEST_RUNTIME_STALL", 0))  # and a runtime that hangs
    while (message := _receive(inp)) is not None and message.get("op") == "chat":
        if crash_with:
            os.kill(os.getpid(), getattr(signal, crash_with))
        time.sleep(stall)
        try:
            _send(out, {"result": llama.create_chat_completion(**message["request"])})
        except Exception as exc:
            _send(out, {"error": f"{type(exc).__name__}: {exc}"})


if __name__ == "__main__":
    _serve(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))
