"""Claims linked across videos by the real workflow: the demo plus a video with the same speech
as one of its clips (a podcast's rerun, a clip posted twice). Embed jobs (per video), link jobs
(one transaction each on the main host), `claimflow clusters`, a rerun that does nothing, and a
rebuild into a new database that gives the same clusters from the files."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
from pathlib import Path

import pytest

from tests.conftest import CLAIMFLOW, DEMO_CLIPS, REPO, demo_with_an_extra_video, run_workflow
from tests.harness import browser

pytestmark = pytest.mark.slow

EXTRA = "file-extra"  # the copy of DEMO_CLIPS[0] demo_with_an_extra_video adds


def _clusters(work: Path) -> list[dict]:
    command = [*CLAIMFLOW, "clusters", "--json", "--limit", "100", "--configfile", str(REPO / "config/config.yaml"),
               str(work / "test.yaml")]  # fmt: skip
    done = subprocess.run(
        command, capture_output=True, text=True, cwd=work, env=os.environ | {"CI": "true"}, timeout=120
    )
    assert done.returncode == 0, done.stderr  # 0: clusters found
    return json.loads(done.stdout)


def _shape(found: list[dict]) -> list[tuple]:
    """What a cluster says, without the database's own row order: its wording and its members."""
    return sorted(
        (c["canonical"], c["videos"], sorted((m["vid"], m["claim_text"]) for m in c["members"])) for c in found
    )


def test_the_same_speech_in_two_videos_is_one_cluster_and_a_rebuild_gives_the_same(demo_run: Path, tmp_path: Path):
    work = demo_with_an_extra_video(demo_run, tmp_path / "batch")
    results = work / "results"
    same_speech = f"file-{DEMO_CLIPS[0].stem}"  # a local file's id: file- and its name
    assert (results / same_speech / "stored.json").is_file()
    run = run_workflow(work)
    output = run.stdout + run.stderr
    assert "4 ok" in output
    vids = sorted(p.parent.name for p in results.glob("*/stored.json"))
    assert len(vids) == 4 and all((results / v / "linked.json").is_file() for v in vids)
    # Each video's candidate pairs judged (as many as its link made, or met from later videos).
    judged = {v: json.loads((results / v / "judged.json").read_text()) for v in vids}
    assert all(j["pairs"] == len(j["verdicts"]) for j in judged.values())
    marker = json.loads((results / EXTRA / "linked.json").read_text())
    accepted = len(json.loads((results / EXTRA / "embeddings.json").read_text())["claim_ids"])
    assert accepted > 0 and marker["claims"] == accepted and marker["joined"] > 0

    found = _clusters(work)
    assert found, "no claim was linked across the two videos with the same speech"
    # Only the two videos that say the same things share claims (the demo's other clips are
    # about other subjects); each cluster has a member in each of the two.
    assert all({m["vid"] for m in c["members"]} == {same_speech, EXTRA} and c["videos"] == 2 for c in found)
    assert all(m["link"] for c in found for m in c["members"])  # the moment each was said
    assert sum(1 for c in found for m in c["members"] if m["vid"] == EXTRA) == accepted

    again = run_workflow(work, "-n")
    assert "Nothing to be done" in again.stdout + again.stderr

    # A new database (deleted, or moved away): every store and link job runs again, from the
    # files, in the scheduler's order of this run, and the clusters are the same.
    for p in results.glob("claimflow.sqlite*"):
        p.unlink()
    rebuild = run_workflow(work)
    said = rebuild.stdout + rebuild.stderr
    assert said.count("rule link:") == 4 and "rule mine:" not in said and "rule embed:" not in said
    assert said.count("rule judge:") == 4  # a new database: judged again (answered from the LLM cache)
    assert _shape(_clusters(work)) == _shape(found)

    # The report (made again by the rebuild) reads at the batch's scale: the claims made in
    # several videos, each with its videos' moments as links the browser's player seeks to.
    if browser.find() is None:
        pytest.skip("no Chromium here (Debian: apt-get install chromium; .ci/run installs it): report not rendered")
    with browser.Browser(width=1200, height=900) as chromium:
        chromium.open((results / "report.html").resolve().as_uri())
        rows = chromium.evaluate("[...document.querySelectorAll('#clusters tr')].slice(1).map(r => "
                                 "[...r.cells].map(c => c.textContent))")  # fmt: skip
        links = chromium.evaluate("[...document.querySelectorAll('#clusters a')].map(a => a.href)")
        errors = chromium.errors
    assert errors == [] and len(rows) == len(found)
    assert {r[4] for r in rows} == {c["canonical"] for c in found} and all(r[0] == "2" for r in rows)
    assert len(links) == 2 * len(found) and all(a.startswith("file:///") and "#t=" in a for a in links), links
    assert all(f"{DEMO_CLIPS[0].name} at 0:00:" in r[5] and "extra.ogg at 0:00:" in r[5] for r in rows)


LINKING_CLIPS = REPO / "tests/fixtures/linking"  # espeak-ng speech: demo/make_clips.py tests/fixtures/linking


def _cli_json(work: Path, *command: str) -> list[dict]:
    done = subprocess.run([*CLAIMFLOW, *command, "--json", "--configfile", str(REPO / "config/config.yaml"),
                           str(work / "test.yaml")], capture_output=True, text=True, cwd=work,
                          env=os.environ | {"CI": "true"}, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_a_paraphrase_joins_a_claim_its_negation_is_contested_and_another_topic_links_to_neither(tmp_path: Path):
    """Four videos of spoken claims, through the whole workflow (Whisper, the bundled LLM,
    embed, link, judge): one says "Walking for thirty minutes a day lowers blood pressure", one
    the same in other words, one the opposite, one something else."""
    work = tmp_path / "batch"
    work.mkdir()
    clips = {name: LINKING_CLIPS / f"{name}.ogg" for name in ("walking", "walk-daily", "walking-myth", "ocean")}
    (work / "sources.txt").write_text("".join(f"{clip}\n" for clip in clips.values()))
    (work / "test.yaml").write_text(f"sources: {work / 'sources.txt'}\nresults: results\nstate: state\n")
    run = run_workflow(work)
    assert "4 ok" in run.stdout + run.stderr
    said = {c["vid"]: c["claim_text"] for c in _cli_json(work, "search", "blood pressure", "--limit", "20")
            if "claim_text" in c}  # fmt: skip
    assert {"file-walking", "file-walk-daily", "file-walking-myth"} <= set(said), said  # what the model mined
    # What was said, by meaning: the run's summary job coded every video's segments, so the
    # search finds the ocean's sentence without a word of it ("The Pacific Ocean is the largest
    # ocean on Earth.") and codes nothing first.
    coded = sqlite3.connect(work / "results/claimflow.sqlite").execute("SELECT COUNT(*) FROM said_codes").fetchone()
    assert coded == (4,)
    nearest = _cli_json(work, "search", "the biggest sea of the planet", "--said", "--meaning", "--limit", "1")
    assert nearest[0]["vid"] == "file-ocean" and "ocean" in nearest[0]["text"].lower() and nearest[0]["start"] >= 0

    found = _cli_json(work, "clusters")
    # The claim and its paraphrase: one cluster of two videos (0.97 alike by the bundled model).
    assert [sorted(m["vid"] for m in c["members"]) for c in found] == [["file-walk-daily", "file-walking"]], found
    assert all(m["link"] for m in found[0]["members"])
    # The negation (0.92 alike, one says no): not in the cluster but a contested pair, both
    # claims with the quote each video said them in.
    contested = _cli_json(work, "contested")
    pairs = {tuple(sorted((p["first"]["vid"], p["second"]["vid"]))): p for p in contested}
    assert ("file-walking", "file-walking-myth") in pairs, contested
    pair = pairs[("file-walking", "file-walking-myth")]
    sides = {pair["first"]["vid"]: pair["first"], pair["second"]["vid"]: pair["second"]}
    assert "does not lower blood pressure" in sides["file-walking-myth"]["quote"]
    assert "lowers blood pressure" in sides["file-walking"]["quote"] and sides["file-walking"]["link"]
    # The other topic: in no cluster of two and in no pair, contested or not.
    supports = _cli_json(work, "contested", "--supports")
    assert all("file-ocean" not in (p["first"]["vid"], p["second"]["vid"]) for p in [*contested, *supports])
    judged = json.loads((work / "results/file-walking-myth/judged.json").read_text())
    assert judged["negations"] + json.loads((work / "results/file-walking/judged.json").read_text())["negations"] >= 1
    assert json.loads((work / "results/file-ocean/judged.json").read_text())["pairs"] == 0
    report = (work / "results/report.html").read_text()
    contested_table = report[report.index("<table id=contested>") :]
    assert "does not lower blood pressure" in contested_table.split("</table>")[0]
    again = run_workflow(work, "-n")
    assert "Nothing to be done" in again.stdout + again.stderr
