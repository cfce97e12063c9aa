"""Alerts from a real `claimflow run`: downloads stopped by a broken environment reach a receiver
on loopback with the fix, then the run's end with its last line and exit status; a second
receiver that is down costs a line per message; no cookie value or URL password anywhere."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.conftest import RUN_TIMEOUT, workflow_command
from tests.harness.faultserver import Fault
from tests.harness.receiver import Receiver, closed_port
from tests.test_download_workflow import make_batch

pytestmark = pytest.mark.slow


def test_downloads_stopped_and_the_run_end_are_sent_and_a_down_receiver_costs_one_line(tmp_path: Path):
    workdir, server = make_batch(tmp_path, 6, ["acct1", "acct2"], suffix="")
    server.add(Fault("html"))  # a changed site or a stale extractor: the environment stop
    with Receiver() as receiver:
        down = f"json://carol:zebra-pass-77@127.0.0.1:{closed_port()}/hook"
        config = yaml.safe_load((workdir / "config.yaml").read_text())
        config["notify"] = [receiver.url("alerts", user="dave:tiger-pass-88"), down]
        (workdir / "config.yaml").write_text(yaml.safe_dump(config))
        command = workflow_command(workdir, targets=("downloads",), configs=(workdir / "config.yaml",), runner="run")
        with server:
            run = subprocess.run(command, capture_output=True, text=True, timeout=RUN_TIMEOUT, env=dict(os.environ))
    assert run.returncode == 1, run.stderr[-3000:]
    titles = [p["title"] for p in receiver.posts]
    assert titles == ["claimflow: downloads stopped", "claimflow run ended: videos failed (exit 1)"], titles
    stopped, ended = receiver.posts
    assert "because of the environment, not the videos (unsupported_url" in stopped["message"]
    assert "Fix: yt-dlp did not recognise the URL" in stopped["message"]
    last = [line for line in run.stderr.splitlines() if line.strip()][-1]
    assert last.startswith("claimflow: ") and ended["message"].endswith(last + "\nExit status: 1.")
    # The receiver that is down: one line per message, masked, and the run went on to its end.
    failures = [line for line in run.stderr.splitlines() if "was not delivered" in line]
    assert len(failures) == 2, failures
    # Every file the run wrote (the user's own config and cookie files aside).
    written = [p.read_bytes() for p in workdir.rglob("*")
               if p.is_file() and not p.name.endswith(".cookies") and p.name != "config.yaml"]  # fmt: skip
    for secret in ("acct1-token", "acct2-token", "tiger-pass-88", "zebra-pass-77"):
        assert secret not in run.stderr + run.stdout and all(secret.encode() not in data for data in written)
        assert all(secret not in p["message"] + p["title"] for p in receiver.posts)
