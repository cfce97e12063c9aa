"""Downloads through real Snakemake runs: several cookie accounts against the fault server.

Every guarantee is checked from the server's own request log (time and Cookie header of
each request) and from the job timings in download.json, not from what the code says
it did.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from claimflow.batch.sources import read_sources
from tests.conftest import DEMO_CLIPS, DEMO_CONFIG, run_workflow, workflow_command
from tests.harness.faultserver import Fault, FaultServer

pytestmark = pytest.mark.slow
FLOOR = 0.5
PAIR_WINDOW = 3.0


def make_batch(tmp_path: Path, videos: int, accounts: list[str], suffix: str = ".ogg",
               **pacing) -> tuple[Path, FaultServer]:  # fmt: skip
    """`suffix` "": page addresses (`/v00`), which the server answers with the audio itself."""
    www = tmp_path / "www"
    www.mkdir()
    for i in range(videos):
        shutil.copy(DEMO_CLIPS[i % len(DEMO_CLIPS)], www / f"v{i:02d}{suffix}")
    server = FaultServer(www)  # bound to its port now, serving inside `with server:`
    (tmp_path / "videos.txt").write_text("".join(server.url(f"v{i:02d}{suffix}") + "\n" for i in range(videos)))
    entries = []
    for name in accounts:
        jar = tmp_path / f"{name}.cookies"
        jar.write_text(f"# Netscape HTTP Cookie File\n127.0.0.1\tFALSE\t/\tFALSE\t0\tacct\t{name}-token\n")
        os.chmod(jar, 0o600)
        entries.append({"name": name, "cookies": str(jar)})
    config = {
        "sources": str(tmp_path / "videos.txt"),
        "accounts": entries,
        "pacing": {
            "delay": [0.6, 0.8],
            "floor": FLOOR,
            "warmup": {"videos": 0},
            "buffer": {"min": 0, "target": 1000, "max": 1000},
            "adaptive": {"pause": [30, 40]},
            "socket_timeout": 5,
        }
        | pacing,
    }
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    return tmp_path, server


def downloads_command(workdir: Path, *extra: str) -> list[str]:
    # profiles/local declares no account_* resources: the workflow must declare the slots.
    return workflow_command(workdir, *extra, targets=("downloads",), configs=(workdir / "config.yaml",))


def run_downloads(workdir: Path, check: bool = True, *extra: str) -> subprocess.CompletedProcess:
    return run_workflow(
        workdir, *extra, check=check, targets=("downloads",), configs=(workdir / "config.yaml",), env=dict(os.environ)
    )


def downloads_by_account(server: FaultServer) -> dict[str, list[tuple[float, str, str, float]]]:
    """Per account (from the Cookie header): one (start, path, answer, last request) per
    download. yt-dlp asks twice for one download of a direct link, the extraction then the
    media, both answered 200: that pair is one download however far apart a loaded machine
    puts them (CI saw 0.33 s), within PAIR_WINDOW; any other request for the same path within
    0.3 s of the last one (yt-dlp's own retry) is the same download too."""
    per: dict[str, list[tuple[float, str, str, float]]] = {}
    asked: dict[str, int] = {}  # how many requests the account's current download made
    for req in sorted(server.requests, key=lambda r: r.t):
        account = (req.cookie or "acct=anonymous").split("acct=")[1].split("-token")[0]
        seen = per.setdefault(account, [])
        if seen and seen[-1][1] == req.path:
            start, _, answer, last = seen[-1]
            media = asked[account] == 1 and answer == req.answer == "200" and req.t - start < PAIR_WINDOW
            if media or req.t - last < 0.3:
                seen[-1] = (start, req.path, answer, req.t)
                asked[account] += 1
                continue
        seen.append((req.t, req.path, req.answer, req.t))
        asked[account] = 1
    return per


def manifests(workdir: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted((workdir / "results").glob("*/download.json"))]


def assert_paced(per_account: dict[str, list[tuple[float, str, str, float]]], floor: float = FLOOR) -> None:
    """On the wire: per account, download starts at least the floor apart, and a download
    never begins before the account's previous one has made its last request."""
    for account, downloads in per_account.items():
        gaps = [b[0] - a[0] for a, b in zip(downloads, downloads[1:], strict=False)]
        assert not gaps or min(gaps) >= floor - 0.02, (account, gaps, downloads)
        assert all(b[0] >= a[3] for a, b in zip(downloads, downloads[1:], strict=False)), account


def assert_one_job_per_account_at_a_time(docs: list[dict]) -> None:
    """The scheduler's plan: first-attempt jobs that booked one account's slot never run at
    once. (Retried jobs may not hold: Snakemake books the old slot for a job whose resources
    changed with the attempt; the lock keeps the wire clean then, see assert_paced.)"""
    first = [d for d in docs if d["attempts"] == 1]
    for account in {d["booked"] for d in first}:
        spans = sorted((d["job"]["started"], d["job"]["finished"]) for d in first if d["booked"] == account)
        for (_, end), (start, _) in zip(spans, spans[1:], strict=False):
            assert start >= end - 0.05, (account, spans)


def downloaded(tmp_path: Path, videos: int, accounts: list[str], fault: Fault) -> tuple[Path, FaultServer, dict]:
    """A batch whose server answers with `fault` where it matches, downloaded to its end: the
    folder, the (stopped) server and what each account asked it for."""
    workdir, server = make_batch(tmp_path, videos, accounts)
    server.add(fault)
    with server:
        run_downloads(workdir)
    return workdir, server, downloads_by_account(server)


def test_accounts_download_in_parallel_each_at_its_own_pace(tmp_path):
    workdir, server, per = downloaded(
        tmp_path, 12, ["acct1", "acct2", "acct3"], Fault("status", status=404, path="/v05.ogg")
    )
    assert set(per) == {"acct1", "acct2", "acct3"}
    assert_paced(per)
    # In parallel: every account's first download starts before any account's last one.
    assert max(s[0][0] for s in per.values()) < min(s[-1][0] for s in per.values())
    docs = manifests(workdir)
    assert len(docs) == 12
    assert_one_job_per_account_at_a_time(docs)
    unavailable = [d for d in docs if d["status"] == "unavailable"]
    assert [d["source"].rsplit("/", 1)[1] for d in unavailable] == ["v05.ogg"]
    assert sum(d["status"] == "ok" for d in docs) == 11
    # Resume: a second run fetches nothing.
    before = len(server.requests)
    run_downloads(workdir)
    assert len(server.requests) == before


def test_rate_limited_account_backs_off_and_its_video_is_retried(tmp_path):
    workdir, server, per = downloaded(
        tmp_path,
        8,
        ["acct1", "acct2"],
        Fault("status", status=429, cookie="acct1-token", times=1, headers={"Retry-After": "2"}),
    )
    assert_paced(per)
    limited = [i for i, s in enumerate(per["acct1"]) if s[2] == "429"]
    assert len(limited) == 1
    if limited[0] + 1 < len(per["acct1"]):  # its next request honoured Retry-After
        assert per["acct1"][limited[0] + 1][0] - per["acct1"][limited[0]][0] >= 2 - 0.05
    state = json.loads((workdir / "state/accounts/acct1.json").read_text())
    assert state["failures"] == 1
    successes_after = sum(1 for s in per["acct1"][limited[0] + 1 :] if s[2] == "200")
    assert state["multiplier"] == pytest.approx(max(1.0, 1.5 - 0.1 * successes_after))
    docs = manifests(workdir)
    assert len(docs) == 8 and all(d["status"] == "ok" for d in docs)
    assert any(d["attempts"] == 2 for d in docs)  # the limited video came back in a retry
    assert_one_job_per_account_at_a_time(docs)


def test_refused_cookies_disable_an_account_and_the_others_take_its_videos(tmp_path):
    workdir, server, per = downloaded(
        tmp_path, 9, ["acct1", "acct2", "acct3"], Fault("status", status=401, cookie="acct2-token")
    )
    assert_paced(per)
    assert len(per["acct2"]) == 1  # refused once, then never used again
    state = json.loads((workdir / "state/accounts/acct2.json").read_text())
    assert state["status"] == "disabled" and "401" in state["disabled_reason"]
    docs = manifests(workdir)
    assert len(docs) == 9 and all(d["status"] == "ok" for d in docs)
    assert {d["account"] for d in docs} == {"acct1", "acct3"}
    assert all(d["account"] != "acct2" for d in docs if d["booked"] == "acct2")
    # The lock is the guarantee even where two jobs booked one slot: no overlap on the wire.
    for account in ("acct1", "acct3"):
        mine = sorted(d["source"].rsplit("/", 1)[1] for d in docs if d["account"] == account)
        assert len(per[account]) == len(mine), (account, per[account], mine)


def test_all_accounts_refused_stops_with_one_message_and_the_next_run_resumes(tmp_path):
    workdir, server = make_batch(tmp_path, 4, ["acct1", "acct2"])
    refusal = server.add(Fault("status", status=401))
    with server:
        first = run_downloads(workdir, check=False)
        assert first.returncode != 0
        assert first.stderr.count("claimflow: every download account is disabled, so downloads stopped") == 1
        assert "acct1-token" not in first.stderr and "acct2-token" not in first.stderr
        # Run again without fixing anything: one message, no futile requests, nothing lost.
        requests = len(server.requests)
        again = run_downloads(workdir)
        assert again.stderr.count("every download account is disabled") == 1
        assert len(server.requests) == requests
        refusal.times = 0
        for name in ("acct1", "acct2"):  # fresh cookie exports re-enable the accounts
            jar = workdir / f"{name}.cookies"
            jar.write_text(jar.read_text() + "\n")
        run_downloads(workdir)
    docs = manifests(workdir)
    assert len(docs) == 4 and all(d["status"] == "ok" for d in docs)


def test_with_every_account_disabled_the_default_target_finishes_what_was_downloaded(tmp_path):
    workdir, server = make_batch(tmp_path, 3, ["acct1"])
    first_vid = next(iter(read_sources(str(workdir / "videos.txt")))).vid
    batch = {"jobs": 4, "configs": (DEMO_CONFIG, workdir / "config.yaml"), "env": dict(os.environ)}
    with server:
        run_workflow(workdir, targets=(f"results/{first_vid}/download.json",), **batch)
        server.add(Fault("status", status=401))
        assert run_downloads(workdir, check=False).returncode != 0  # the other two: acct1 is now disabled
        requests = len(server.requests)
        plan = run_workflow(workdir, "-n", check=False, **batch)
        assert plan.returncode == 0 and "rule download:" not in plan.stdout, plan.stdout[-3000:]
        run = run_workflow(workdir, check=False, **batch)
        assert len(server.requests) == requests  # no futile download attempt
    assert run.returncode == 0, run.stderr[-4000:]
    assert run.stderr.count("every download account is disabled, so downloads stopped") == 1
    assert (workdir / f"results/{first_vid}/stored.json").is_file()
    summary = (workdir / "results/summary.tsv").read_text().splitlines()
    assert len(summary) == 2 and summary[1].startswith(first_vid)


def test_environment_failures_stop_downloads_with_one_message_and_a_fixed_rerun_gets_them_all(tmp_path):
    # Page addresses: a media address answered with a page would be the address's fault (not media).
    workdir, server = make_batch(tmp_path, 6, ["acct1", "acct2"], suffix="")
    broken = server.add(Fault("html"))  # what a changed site or a stale extractor looks like
    with server:
        first = run_downloads(workdir, check=False)
        assert first.returncode != 0
        assert first.stderr.count("claimflow: downloads stopped: ") == 1, first.stderr[-3000:]
        assert "because of the environment, not the videos (unsupported_url" in first.stderr
        assert "Fix: yt-dlp did not recognise the URL" in first.stderr
        tried = {r.path for r in server.requests}
        assert 3 <= len(tried) < 6, tried  # three in a row (two accounts at once), then no request
        assert not list((workdir / "results").glob("*/download.json"))  # no video was judged
        broken.times = 0  # the cause is fixed
        again = run_downloads(workdir)
    assert "downloads stopped" not in again.stderr
    docs = manifests(workdir)
    assert len(docs) == 6 and all(d["status"] == "ok" for d in docs)


def test_a_killed_download_leaves_no_audio_and_the_rerun_completes(tmp_path):
    import signal
    import time

    workdir, server = make_batch(tmp_path, 1, ["acct1"])
    slow = server.add(Fault("slow", path="/v00.ogg", delay=0.5))
    command = downloads_command(workdir)
    with server:
        proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        deadline = time.time() + 60
        while sum(r.answer == "slow" for r in server.requests) < 2 and time.time() < deadline:
            time.sleep(0.1)
        time.sleep(1.0)  # mid-body
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        (source,) = read_sources(str(workdir / "videos.txt"))
        vid_dir = workdir / "results" / source.vid
        assert not (vid_dir / "audio").exists() and not (vid_dir / "download.json").exists()
        slow.times = 0
        run_downloads(workdir, True, "--unlock")  # a hard kill leaves Snakemake's lock behind
        run_downloads(workdir)
    assert (vid_dir / "audio").read_bytes() == DEMO_CLIPS[0].read_bytes()
    assert json.loads((vid_dir / "download.json").read_text())["attempts"] == 2


def test_sigterm_during_a_pacing_wait_stops_within_seconds_and_the_same_command_resumes(tmp_path):
    import signal
    import time

    workdir, server = make_batch(tmp_path, 2, ["acct1"], delay=[8, 8])
    command = downloads_command(workdir)
    with server:
        proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        deadline = time.time() + 120
        while len(manifests(workdir)) < 1 and time.time() < deadline:  # the first video is in ...
            time.sleep(0.2)
        time.sleep(2.0)  # ... and the second is waiting out its 8 s gap
        assert len(manifests(workdir)) == 1
        sent = time.time()
        os.killpg(proc.pid, signal.SIGTERM)  # what a scheduler's time limit sends
        proc.wait(timeout=30)
        stopped_after = time.time() - sent
        assert stopped_after < 10, stopped_after
        assert not list(workdir.glob("results/*/.download/*"))  # nothing partial left
        run_downloads(workdir)  # the same command, no --unlock
    docs = manifests(workdir)
    assert len(docs) == 2 and all(d["status"] == "ok" for d in docs)
    starts = sorted(d["timings"]["started"] for d in docs)
    assert starts[1] - starts[0] >= 8 - 0.05  # the 8 s gap held across the kill and the restart
