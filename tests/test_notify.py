"""Alerts through the real Apprise to a real receiver on loopback: events that jobs emit reach it
with the run's end, a receiver that is down costs one line per message and nothing else, and no
credential of a URL appears in what is sent or said."""

from __future__ import annotations

import threading

import pytest

from claimflow.core import notify
from tests.harness.receiver import Receiver, closed_port

pytestmark = pytest.mark.integration


def test_events_from_jobs_and_the_run_end_reach_the_receiver_with_no_credential(tmp_path):
    said: list[str] = []
    with Receiver() as receiver:
        url = receiver.url("hooks/s3cr3t-hook-token", user="alice:pa55word-9")
        notifier = notify.Notifier([url], tmp_path, say=said.append, poll=0.1)
        # Four jobs at once, as download jobs would: every line arrives whole.
        jobs = [threading.Thread(target=notify.emit, args=(tmp_path, notify.ACCOUNT, f"account a{i} disabled",
                                                           f"Fix: export a{i}'s cookies again"))
                for i in range(4)]  # fmt: skip
        for job in jobs:
            job.start()
        for job in jobs:
            job.join()
        notify.emit(tmp_path, notify.DOWNLOADS_STOPPED, "claimflow: downloads stopped", "Fix: update yt-dlp")
        notifier.close(*notify.run_ended(["claimflow: 3 videos: 3 ok, 0 partial, 0 failed"], 0))
    titles = [p["title"] for p in receiver.posts]
    assert sorted(titles[:4]) == [f"account a{i} disabled" for i in range(4)]
    assert titles[4:] == ["claimflow: downloads stopped", "claimflow run ended: done (exit 0)"]
    assert receiver.posts[-1]["message"] == "claimflow: 3 videos: 3 ok, 0 partial, 0 failed\nExit status: 0."
    assert said == []
    # The URL's password and token go to the receiver only as what they are (auth, path), never
    # inside a message; and what the notifier says of a URL masks them.
    assert all("pa55word-9" not in p["message"] + p["title"] and "s3cr3t" not in p["message"] for p in receiver.posts)
    assert notifier.mask(f"sent to {url}") == f"sent to json://***:***@127.0.0.1:{receiver.port}/***/***"


def test_a_receiver_that_is_down_costs_one_line_and_an_earlier_runs_events_are_not_sent_again(tmp_path):
    notify.emit(tmp_path, notify.ACCOUNT, "from the last run", "already sent by it")
    said: list[str] = []
    with Receiver() as receiver:
        down = f"json://bob:hunter2-xyz@127.0.0.1:{closed_port()}/hook"
        notifier = notify.Notifier([down, receiver.url()], tmp_path, say=said.append, poll=0.1)
        notify.emit(tmp_path, notify.LLM_PREFLIGHT, "claimflow: the LLM endpoint failed", "no answer")
        notifier.close(*notify.run_ended([], 1))
    assert [p["title"] for p in receiver.posts] == ["claimflow: the LLM endpoint failed",
                                                    "claimflow run ended: videos failed (exit 1)"]  # fmt: skip
    assert len(said) == 2 and notifier.failed == 2  # one line per message, for the receiver that is down
    assert all("hunter2" not in line and "bob" not in line for line in said), said
    assert "was not delivered" in said[0] and "json://127.0.0.1/..." in said[0]


def test_a_digest_is_sent_while_the_run_lasts(tmp_path):
    with Receiver() as receiver:
        notifier = notify.Notifier([receiver.url()], tmp_path, digest_hours=0.3 / 3600,
                                   digest=lambda: "download: 2 of 3 done", poll=0.1)  # fmt: skip
        threading.Event().wait(1.0)
        notifier.close("claimflow run ended: done (exit 0)", "")
    digests = [p for p in receiver.posts if p["title"] == "claimflow digest"]
    assert digests and digests[0]["message"] == "download: 2 of 3 done"
    assert receiver.posts[-1]["title"] == "claimflow run ended: done (exit 0)"
