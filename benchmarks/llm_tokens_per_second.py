"""The local model's speed: the portable build (x86-64-v3, what the Makefile installs) against a
native build (-march=native) of the same llama-cpp-python, in one run.

Each round runs each build in its own child process (alternating, so drift hits both alike):
load the bundled SmolLM2-135M with 2 threads, then time prompt processing (a ~400-token
prompt) and generation (up to 128 tokens). Reported: medians per build and the ratio
portable / native (1.0 = no cost for portability). A build that dies by a signal (a native
build on a CPU with AMX: llama.cpp issue 20824) is reported as crashed.

  .venv/bin/python benchmarks/llm_tokens_per_second.py [--rounds 5] [--native-wheel WHEEL_OR_SITE_DIR]

Without --native-wheel the native wheel is built through the Makefile's own wheelhouse
(`make llama-wheel LLAMA_CPU_FLAGS=-DGGML_NATIVE=ON`, about 5 minutes the first time).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from claimflow.core.models import bundled_gguf_path  # noqa: E402
from claimflow.llm.local import built_features, describe_exit  # noqa: E402

CHILD = r"""
import json, sys, time
import llama_cpp
model, threads = sys.argv[1], int(sys.argv[2])
prompt = sys.stdin.read()
llm = llama_cpp.Llama(model_path=model, n_ctx=2048, n_threads=threads, n_batch=512, seed=0, verbose=False)
llm.create_completion("warm up", max_tokens=4)
llm.reset()
t = time.perf_counter(); out = llm.create_completion(prompt, max_tokens=1); pp = time.perf_counter() - t
n_prompt = out["usage"]["prompt_tokens"]
llm.reset()
t = time.perf_counter(); out = llm.create_completion("Write a long story about a forest:", max_tokens=128,
                                                    temperature=0.0); tg = time.perf_counter() - t
n_gen = out["usage"]["completion_tokens"]
print(json.dumps({"prompt_tps": n_prompt / pp, "gen_tps": n_gen / tg, "prompt_tokens": n_prompt,
                  "gen_tokens": n_gen, "system_info": llama_cpp.llama_print_system_info().decode()}))
"""


def native_wheel() -> Path:
    out = subprocess.run(["make", "-s", "llama-wheel", "LLAMA_CPU_FLAGS=-DGGML_NATIVE=ON"], cwd=REPO,
                         capture_output=True, text=True, check=True).stdout  # fmt: skip
    folder = Path(out.strip().splitlines()[-1])
    return next(folder.glob("llama_cpp_python-*.whl"))


def measure(site: Path | None, prompt: str, threads: int) -> dict:
    env_path = [str(site)] if site else []
    run = subprocess.run([sys.executable, "-c", CHILD, bundled_gguf_path(), str(threads)], input=prompt,
                         capture_output=True, text=True, timeout=600,
                         env={"PYTHONPATH": ":".join(env_path), "PATH": "/usr/bin:/bin"})  # fmt: skip
    if run.returncode != 0:
        return {"crashed": describe_exit(run.returncode), "stderr": run.stderr[-300:]}
    return json.loads(run.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--native-wheel", type=Path)
    args = parser.parse_args()
    wheel = args.native_wheel or native_wheel()
    text = (REPO / "demo/texts/forests.txt").read_text().strip()
    prompt = "Summarise the following notes.\n" + "\n".join([text] * 7)
    with tempfile.TemporaryDirectory() as tmp:
        native_site = wheel if wheel.is_dir() else Path(tmp)  # a folder: a site-packages holding llama_cpp
        if not wheel.is_dir():
            with zipfile.ZipFile(wheel) as archive:
                archive.extractall(native_site)
        builds = {"portable": None, "native": native_site}  # None: the .venv's own (portable) build
        runs: dict[str, list[dict]] = {name: [] for name in builds}
        for round_no in range(args.rounds):
            for name, site in builds.items():
                runs[name].append(measure(site, prompt, args.threads))
                print(f"round {round_no + 1} {name}: {runs[name][-1].get('crashed') or 'ok'}", file=sys.stderr)
    summary = {}
    for name, results in runs.items():
        good = [r for r in results if "crashed" not in r]
        if not good:
            summary[name] = {"crashed": results[0]["crashed"]}
            continue
        summary[name] = {
            "built_for": " ".join(built_features(good[0]["system_info"])),
            "prompt_tokens_per_s": round(statistics.median(r["prompt_tps"] for r in good), 1),
            "generated_tokens_per_s": round(statistics.median(r["gen_tps"] for r in good), 1),
            "prompt_tokens": good[0]["prompt_tokens"],
            "generated_tokens": good[0]["gen_tokens"],
            "runs": len(good),
        }
    if all("crashed" not in s for s in summary.values()):
        p, n = summary["portable"], summary["native"]
        summary["ratio_portable_over_native"] = {
            "prompt": round(p["prompt_tokens_per_s"] / n["prompt_tokens_per_s"], 3),
            "generation": round(p["generated_tokens_per_s"] / n["generated_tokens_per_s"], 3),
        }
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
