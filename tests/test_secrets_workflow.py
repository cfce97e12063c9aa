"""Secrets never leave where the user put them: a whole batch with a cookie file, an API key and
a proxy password, each holding a marker string, and each really used (the servers on loopback
saw them); then no marker in any file under results/, state/ or .snakemake/ (the database and the
report included), nor on the console of the run, `claimflow status`, `report` and `doctor`."""

from __future__ import annotations

import base64
import os
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.conftest import CLAIMFLOW, DEMO_CLIPS, DEMO_CONFIG, run_workflow
from tests.harness.faultserver import FaultServer
from tests.harness.httpproxy import AuthProxy
from tests.harness.llmserver import FaultProxy

pytestmark = pytest.mark.slow
COOKIE = "cookie-M4RK3R-c00k"
API_KEY = "sk-M4RK3R-k3y-0123456789"
PROXY_USER, PROXY_PASSWORD = "batchuser", "pr0xy-M4RK3R-pw"
# Each secret also in the forms it travels in: a proxy password inside Basic auth.
MARKERS = [COOKIE, API_KEY, PROXY_PASSWORD, base64.b64encode(f"{PROXY_USER}:{PROXY_PASSWORD}".encode()).decode()]


# Two clips, round-robin one to each account (the cookie one and the proxy one): every secret is
# used, at two thirds of the bundled model's time for three.
CLIPS = [clip for clip in DEMO_CLIPS if clip.name != "interest.ogg"]


def _leaks(data: bytes) -> list[str]:
    return [m for m in MARKERS if m.encode() in data]


def test_no_secret_reaches_results_state_snakemake_or_the_console(tmp_path: Path, llama_base_url: str):
    www = tmp_path / "www"
    www.mkdir()
    for clip in CLIPS:
        (www / clip.name).write_bytes(clip.read_bytes())
    workdir = tmp_path / "batch"
    workdir.mkdir()
    jar = tmp_path / "acct1.cookies"  # outside the batch folder, as a user keeps them
    jar.write_text(f"# Netscape HTTP Cookie File\n127.0.0.1\tFALSE\t/\tFALSE\t0\tsession\t{COOKIE}\n")
    os.chmod(jar, 0o600)
    env = os.environ | {"CLAIMFLOW_TEST_KEY": API_KEY, "CI": "true"}
    with FaultServer(www) as media, AuthProxy(PROXY_USER, PROXY_PASSWORD) as proxy, FaultProxy(llama_base_url) as llm:
        (workdir / "videos.txt").write_text("".join(media.url(clip.name) + "\n" for clip in CLIPS))
        config = {
            "sources": str(workdir / "videos.txt"), "results": "results", "state": "state",
            "accounts": [{"name": "acct1", "cookies": str(jar)},
                         {"name": "acct2", "proxy": proxy.url(PROXY_USER, PROXY_PASSWORD)}],
            "pacing": {"delay": [0.5, 0.6], "floor": 0.3, "warmup": {"videos": 0}},
            "llm": {"provider": "openai", "base_url": llm.base_url, "model": "smollm2", "timeout": 300,
                    "api_key_env": "CLAIMFLOW_TEST_KEY"},
        }  # fmt: skip
        (workdir / "my.yaml").write_text(yaml.safe_dump(config))
        configs = [str(DEMO_CONFIG), str(workdir / "my.yaml")]
        run = run_workflow(workdir, runner="run", jobs=4, configs=tuple(map(Path, configs)), env=env)
        consoles = [run.stdout, run.stderr]
        for command in (["status"], ["report"], ["doctor"]):
            done = subprocess.run([*CLAIMFLOW, *command, "--configfile", *configs],
                                  cwd=workdir, capture_output=True, text=True, timeout=600, env=env)  # fmt: skip
            consoles += [done.stdout, done.stderr]
    # Each secret was really used: the servers saw it.
    assert any(COOKIE in (r.cookie or "") for r in media.requests)
    assert proxy.forwarded and proxy.refused == 0
    assert llm.requests and {r.authorization for r in llm.requests} == {f"Bearer {API_KEY}"}
    # ... and is nowhere else.
    scanned = 0
    for top in ("results", "state", ".snakemake"):
        for path in (workdir / top).rglob("*"):
            if path.is_file():
                scanned += 1
                assert not _leaks(path.read_bytes()), path
    assert scanned > 50 and (workdir / "results/report.html").is_file()
    assert (workdir / "results/claimflow.sqlite").is_file()
    for text in consoles:
        assert not _leaks(text.encode()), text[-2000:]
