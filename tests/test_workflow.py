"""The real workflow on the bundled demo: run, resume with nothing to do, redo one stage."""

from __future__ import annotations

import html
import json
import shutil
import sqlite3
import subprocess
from pathlib import Path

import pytest
import yaml

from claimflow.commands import configdoc
from tests.conftest import CLAIMFLOW, DEMO_CONFIG, REPO, planned_jobs, run_workflow
from tests.harness import browser

pytestmark = pytest.mark.slow
# After evaluate, each video's linking across the batch (rules/link.smk): what a change to a
# video's claims also reruns, and the files those jobs write.
LINKING = ("embed", "link", "judge")
LINKED = ("embeddings.json", "linked.json", "judged.json")


def test_every_demo_video_is_stored_and_every_quote_is_grounded(demo_run: Path):
    results = demo_run / "results"
    vids = sorted(p.parent.name for p in results.glob("*/stored.json"))
    assert vids == ["file-forests", "file-interest", "file-sleep"]
    conn = sqlite3.connect(results / "claimflow.sqlite")
    assert {v for (v,) in conn.execute("SELECT vid FROM videos")} == set(vids)
    # What a 135M model finds in a 30-second clip varies with the kernels' rounding; what must
    # hold is that it answered for every clip, that what it could not ground was counted and
    # dropped, and that every quote stored is the transcript's own words.
    for vid in vids:
        claims = json.loads((results / vid / "claims.json").read_text())
        assert claims["windows"] == 1 and not claims["failed_windows"]
        assert len(claims["claims"]) + claims["unsupported"]["claims"] >= 1, vid
        transcript = json.loads((results / vid / "transcript.json").read_text())
        joined = " ".join(s["text"] for s in transcript["segments"])
        for (quote,) in conn.execute("SELECT quote FROM evidence WHERE vid = ?", (vid,)):
            assert quote in joined, (vid, quote)
        download = json.loads((results / vid / "download.json").read_text())
        assert download["status"] == "ok" and download["extractor_key"] == "Generic"  # through yt-dlp
    assert conn.execute("SELECT COUNT(*) FROM claims").fetchone()[0] >= 2
    assert conn.execute("SELECT COUNT(*) FROM evidence").fetchone()[0] >= 2
    summary = (results / "summary.tsv").read_text().splitlines()
    assert summary[0].startswith("vid\tstatus") and len(summary) == 4
    for rule in ("download", "transcribe", "mine", "evaluate", "store"):
        assert len(list((results / "benchmarks" / rule).glob("*.tsv"))) == 3
        assert len(list((results / "logs" / rule).glob("*.log"))) == 3


def test_the_two_accounts_shared_the_downloads(demo_run: Path):
    accounts = [json.loads(p.read_text())["account"] for p in (demo_run / "results").glob("*/download.json")]
    assert sorted(accounts) == ["demo_a", "demo_a", "demo_b"]
    state = json.loads((demo_run / "state/accounts/demo_a.json").read_text())
    assert state["downloads_started"] == 2 and state["successes"] == 2


def test_a_second_run_has_nothing_to_do(demo_run: Path):
    run = run_workflow(demo_run, "-n")
    assert "Nothing to be done" in run.stdout + run.stderr


def test_deleting_claims_reruns_only_that_videos_later_stages(demo_run: Path):
    results = demo_run / "results"
    before = {p: p.stat().st_mtime_ns for p in results.glob("*/*.json")}
    (results / "file-sleep/claims.json").unlink()
    plan = run_workflow(demo_run, "-n")
    per_video = {job for job in planned_jobs(plan.stdout + plan.stderr) if job[1]}
    assert per_video == {(rule, "file-sleep") for rule in ("mine", "evaluate", "store", *LINKING)}
    run_workflow(demo_run)
    redone = {p.relative_to(results).as_posix() for p, t in before.items() if p.exists() and p.stat().st_mtime_ns != t}
    assert redone == {f"file-sleep/{name}" for name in ("claims.json", "evaluation.json", "stored.json", *LINKED)}
    conn = sqlite3.connect(results / "claimflow.sqlite")
    assert conn.execute("SELECT COUNT(DISTINCT vid) FROM videos").fetchone()[0] == 3
    stats = json.loads((results / "file-sleep/claims.json").read_text())["usage"]
    assert stats["requests"] == 0 and stats["cached"] >= 1  # the rerun spent no tokens


def test_a_deleted_subtitle_file_is_made_again_and_deleted_audio_is_not_downloaded_again(demo_run, tmp_path):
    work = tmp_path / "demo"
    shutil.copytree(demo_run, work)
    (work / "results/file-forests/transcript.srt").unlink()  # a product nothing downstream reads
    (work / "results/file-interest/audio").unlink()  # freeing disk after transcription
    plan = run_workflow(work, "-n")
    per_video = {job for job in planned_jobs(plan.stdout + plan.stderr) if job[1]}
    assert per_video == {(rule, "file-forests") for rule in ("transcribe", "mine", "evaluate", "store", *LINKING)}


def test_a_prompt_change_reruns_only_the_stage_it_feeds(demo_run: Path, tmp_path: Path):
    prompt = tmp_path / "evaluate.custom.md"
    prompt.write_text((REPO / "claimflow/knowledge/prompts/evaluate.v1.md").read_text() + "\nBe strict.\n")
    plan = run_workflow(demo_run, "-n", "--config", f"evaluate={{prompt: {prompt}}}")
    per_video = {job for job in planned_jobs(plan.stdout + plan.stderr) if job[1]}
    vids = {"file-sleep", "file-interest", "file-forests"}
    assert per_video == {(rule, vid) for rule in ("evaluate", "store", *LINKING) for vid in vids}


def test_a_vocabulary_reruns_transcription_and_what_follows_and_nothing_else(demo_run: Path, tmp_path: Path):
    work = tmp_path / "demo"
    shutil.copytree(demo_run, work)
    terms = tmp_path / "terms.txt"
    terms.write_text("# the batch's products\nKubrelix\nQuorvium  # a database\n")
    config = yaml.safe_load((work / "test.yaml").read_text()) | {"vocabulary": str(terms)}
    (work / "test.yaml").write_text(yaml.safe_dump(config))
    plan = run_workflow(work, "-n")
    per_video = {job for job in planned_jobs(plan.stdout + plan.stderr) if job[1]}
    vids = {"file-sleep", "file-interest", "file-forests"}
    assert per_video == {(rule, vid) for rule in ("transcribe", "mine", "evaluate", "store", *LINKING) for vid in vids}
    assert "download" not in {rule for rule, _ in per_video}


def test_a_new_embedding_model_relinks_every_video_and_redoes_nothing_before(demo_run: Path, tmp_path: Path):
    work = tmp_path / "demo"
    shutil.copytree(demo_run, work)
    results = work / "results"
    earlier = ("download.json", "transcript.json", "claims.json", "evaluation.json", "stored.json")
    made = {p: p.stat().st_mtime_ns for name in earlier for p in results.glob(f"*/{name}")}
    config = yaml.safe_load((work / "test.yaml").read_text()) | {"link": {"embedding": "wordllama-128"}}
    (work / "test.yaml").write_text(yaml.safe_dump(config))
    run = run_workflow(work)
    ran = {job for job in planned_jobs(run.stdout + run.stderr) if job[1]}
    vids = {"file-sleep", "file-interest", "file-forests"}
    assert ran == {(rule, vid) for rule in LINKING for vid in vids}
    assert {p: p.stat().st_mtime_ns for p in made} == made  # no download, transcription, mining or store again
    for vid in vids:
        assert json.loads((results / vid / "embeddings.json").read_text())["model"] == "wordllama:l2_supercat:128"
    with sqlite3.connect(results / "claimflow.sqlite") as conn:
        models = conn.execute("SELECT DISTINCT model FROM video_vectors").fetchall()
        linked = conn.execute("SELECT COUNT(*) FROM claim_clusters").fetchone()[0]
    assert linked and models == [("wordllama:l2_supercat:128",)]
    again = run_workflow(work, "-n")
    assert "Nothing to be done" in again.stdout + again.stderr


def test_an_embeddings_endpoint_relinks_every_video_and_the_search_by_meaning_asks_it(demo_run, tmp_path):
    from tests.harness.embedserver import EmbeddingServer

    work = tmp_path / "demo"
    shutil.copytree(demo_run, work)
    results = work / "results"
    with EmbeddingServer() as server:
        config = yaml.safe_load((work / "test.yaml").read_text()) | {
            "link": {"embedding": "endpoint:smollm2", "endpoint": {"base_url": server.base_url}}
        }
        (work / "test.yaml").write_text(yaml.safe_dump(config))
        run = run_workflow(work)
        ran = {job for job in planned_jobs(run.stdout + run.stderr) if job[1]}
        vids = {"file-sleep", "file-interest", "file-forests"}
        assert ran == {(rule, vid) for rule in LINKING for vid in vids}
        asked = len(server.requests)
        with sqlite3.connect(results / "claimflow.sqlite") as conn:
            models = conn.execute("SELECT DISTINCT model FROM video_vectors").fetchall()
            text = conn.execute("SELECT claim_text FROM claims c JOIN claim_clusters k ON k.claim_key = c.vid || "
                                "'/' || c.claim_id ORDER BY c.vid LIMIT 1").fetchone()[0]  # fmt: skip
        assert models == [("openai:smollm2:576",)] and asked >= 1
        found = subprocess.run([*CLAIMFLOW, "search", text, "--meaning", "--json", "--configfile", str(DEMO_CONFIG),
                                "test.yaml"], capture_output=True, text=True, cwd=work)  # fmt: skip
        assert found.returncode == 0, found.stderr
        assert json.loads(found.stdout)[0]["claim_text"] == text
        assert len(server.requests) == asked  # a video's one claim, the same text: from the cache
        other = subprocess.run([*CLAIMFLOW, "search", "what the brain does at night", "--meaning", "--json",
                                "--configfile", str(DEMO_CONFIG), "test.yaml"], capture_output=True, text=True,
                               cwd=work)  # fmt: skip
        assert other.returncode == 0 and json.loads(other.stdout), other.stderr
        assert len(server.requests) == asked + 1  # the query's own embedding, asked of the endpoint
        # The endpoint's address is a runtime setting: another one reruns nothing.
        moved = config | {"link": config["link"] | {"endpoint": {"base_url": "http://127.0.0.1:9/v1"}}}
        (work / "test.yaml").write_text(yaml.safe_dump(moved))
        again = run_workflow(work, "-n")
        assert "Nothing to be done" in again.stdout + again.stderr


def test_summaries_turned_on_summarize_each_video_and_rerun_nothing_else(demo_run: Path, tmp_path: Path):
    work = tmp_path / "demo"
    shutil.copytree(demo_run, work)
    results = work / "results"
    made = {p: p.stat().st_mtime_ns for p in results.glob("*/*.json")}
    config = yaml.safe_load((work / "test.yaml").read_text()) | {"summarize": {"enabled": True, "key_points": 3}}
    (work / "test.yaml").write_text(yaml.safe_dump(config))
    run = run_workflow(work)
    vids = {"file-sleep", "file-interest", "file-forests"}
    assert {job for job in planned_jobs(run.stdout + run.stderr) if job[1]} == {("summarize", vid) for vid in vids}
    assert {p: p.stat().st_mtime_ns for p in made} == made  # nothing before it again
    docs = {vid: json.loads((results / vid / "summarized.json").read_text()) for vid in vids}
    assert all(d["status"] == "ok" and d["summary"] and 1 <= len(d["key_points"]) <= 3 for d in docs.values()), docs
    with sqlite3.connect(results / "claimflow.sqlite") as conn:
        stored = dict(conn.execute("SELECT vid, summary FROM video_summaries").fetchall())
    assert stored == {vid: d["summary"] for vid, d in docs.items()}
    usage = json.loads((results / "usage.json").read_text())["summarize"]
    assert usage["videos"] == 3 and usage["requests"] + usage["cached"] == 3
    # The report the run ended with shows them (the summary and report rules waited for them).
    page = (results / "report.html").read_text()
    shown = [vid for vid in vids if f"({vid}; best" in page]
    assert shown and all(html.escape(docs[vid]["summary"]) in page for vid in shown)
    if browser.find() is not None:  # as a reader sees it: the video opened, its summary and points
        with browser.Browser(width=1200, height=900) as chromium:
            chromium.open((results / "report.html").resolve().as_uri())
            seen = chromium.evaluate("""(() => { const d = document.querySelector('.gist').closest('details');
                d.open = true; const g = d.querySelector('.gist'), r = g.getBoundingClientRect();
                return {text: g.textContent, height: r.height,
                        points: [...d.querySelectorAll('.points li')].map(li => li.textContent)}; })()""")
            chromium.screenshot(tmp_path / "report.png")
            errors = chromium.errors
        assert errors == [] and seen["height"] > 10
        assert any(seen["text"] == d["summary"] and seen["points"] == d["key_points"] for d in docs.values()), seen
    status = subprocess.run([*CLAIMFLOW, "status", "--configfile", str(DEMO_CONFIG), "test.yaml"],
                            capture_output=True, text=True, cwd=work)  # fmt: skip
    assert "summarized: 3 of 3 videos" in status.stdout, status.stdout
    again = run_workflow(work, "-n")
    assert "Nothing to be done" in again.stdout + again.stderr
    # Its result settings rerun it alone; the LLM's, it beside the stages that use the LLM.
    assert _plan(work, {"summarize": {"transcript_chars": 3000}}, tmp_path) == {("summarize", vid) for vid in vids}
    assert {rule for rule, _ in _plan(work, {"llm": {"temperature": 0.2}}, tmp_path)} == {
        "mine",
        "evaluate",
        "store",
        *LINKING,
        "summarize",
    }


def test_the_batch_usage_is_summed(demo_run: Path):
    usage = json.loads((demo_run / "results/usage.json").read_text())
    assert usage["videos"] == 3 and usage["by_status"] == {"ok": 3}
    assert usage["cost_usd"] == 0.0  # the bundled model runs here
    assert usage["tokens_per_audio_hour"] > 0
    judged = usage["judge"]  # the candidate pairs' judgements: one request (or cache hit) each, or by rule
    assert judged["requests"] + judged["cached"] + judged["negations"] == judged["pairs"]
    assert judged["cost_usd"] == 0.0
    rows = (demo_run / "results/summary.tsv").read_text().splitlines()
    header = rows[0].split("\t")
    tokens = sum(int(r.split("\t")[header.index("prompt_tokens")]) for r in rows[1:])
    assert usage["prompt_tokens"] == tokens


# Every runtime setting at once, changed from what the demo ran with: none may rerun anything.
RUNTIME_CHANGES = {
    "transcribe": {"device": "cpu", "compute_type": "int8_float32", "batch_size": 4,
                   "mem_mb": {"tiny": 900, "default": 5000}, "mem_mb_per_audio_hour": 4000},
    "llm": {"base_url": "http://127.0.0.1:9/v1", "api_key_env": "OTHER_KEY", "response_format": "json_object",
            "max_concurrency": 2, "requests_per_minute": 30, "timeout": 60, "max_retries": 2, "n_ctx": 2048,
            "cache": False, "prices": {"x": {"prompt": 1.0, "completion": 2.0}}},
    "pacing": {"delay": [5, 9], "floor": 2, "warmup": {"videos": 3, "delay": [2, 4]},
               "buffer": {"min": 1, "target": 2, "max": 3, "fast": 0.7, "slow": 1.2, "poll": 5, "max_wait": 60},
               "adaptive": {"failure_multiplier": 2.0, "success_step": 0.2, "max_failures": 5, "pause": [60, 120]},
               "socket_timeout": 10},
    "accounts": [{"name": "demo_a", "delay": [3, 4], "floor": 1}, {"name": "demo_b", "proxy": "http://u:p@127.0.0.1:9"}],
    "download": {"environment_failures": 5, "ytdlp": {"sleep_interval_requests": 1.5,
                                                      "extractor_args": {"youtube": {"player_client": ["tv"]}}}},
}  # fmt: skip


def _plan(workdir: Path, changes: dict, tmp_path: Path) -> set[tuple[str, str]]:
    (tmp_path / "changes.yaml").write_text(yaml.safe_dump(changes))
    run = run_workflow(workdir, "-n", configs=(DEMO_CONFIG, workdir / "test.yaml", tmp_path / "changes.yaml"))
    return {job for job in planned_jobs(run.stdout + run.stderr) if job[1]}


def test_runtime_settings_rerun_nothing(demo_run: Path, tmp_path: Path):
    # Moving a batch to a GPU or a cluster, or another endpoint, pacing or accounts: no work redone.
    assert _plan(demo_run, RUNTIME_CHANGES, tmp_path) == set()
    run = run_workflow(demo_run, "-n", configs=(DEMO_CONFIG, demo_run / "test.yaml", tmp_path / "changes.yaml"))
    assert "Nothing to be done" in run.stdout + run.stderr  # not even the summary or the report


@pytest.mark.parametrize(
    ("changes", "stages"),
    [
        ({"transcribe": {"beam_size": 2}}, ("transcribe", "mine", "evaluate", "store")),
        ({"transcribe": {"vad": False}}, ("transcribe", "mine", "evaluate", "store")),
        ({"llm": {"temperature": 0.3}}, ("mine", "evaluate", "store")),
        ({"mine": {"chunk_tokens": 600}}, ("mine", "evaluate", "store")),
        ({"evaluate": {"merge_threshold": 80}}, ("evaluate", "store")),
        ({"link": {"embedding": "wordllama-128"}}, ()),
    ],
    ids=["whisper-beam", "vad", "llm-temperature", "chunking", "evaluation", "embedding"],
)
def test_result_settings_rerun_their_stage_and_what_follows(demo_run, tmp_path, changes, stages):
    vids = {"file-sleep", "file-interest", "file-forests"}
    assert _plan(demo_run, changes, tmp_path) == {(rule, vid) for rule in (*stages, *LINKING) for vid in vids}


# One setting of each kind the configuration table distinguishes: the table's "a change reruns"
# (derived from the rules' params) must be what Snakemake plans when the setting changes.
TABLE_CASES = {
    "transcribe.device": {"transcribe": {"device": "cpu", "compute_type": "int8"}},  # runtime
    "transcribe.beam_size": {"transcribe": {"beam_size": 3}},  # a transcription result
    "llm.max_tokens": {"llm": {"max_tokens": 1400}},  # the LLM's identity
    "mine.overlap_tokens": {"mine": {"overlap_tokens": 80}},  # mining
    "evaluate.tiers": {"evaluate": {"tiers": {"A": 8.5, "B": 6.5, "C": 5.0}}},  # evaluation
    "vocabulary": {"vocabulary": ["Kubrelix"]},  # the batch's terms
    "link.embedding": {"link": {"embedding": "wordllama-128"}},  # linking
    "evaluate.llm.temperature": {"evaluate": {"llm": {"temperature": 0.2}}},  # a stage's own model
    "mine.llm.base_url": {"mine": {"llm": {"base_url": "http://127.0.0.1:9/v1"}}},  # its endpoint: runtime
}


@pytest.mark.parametrize("key", TABLE_CASES)
def test_the_configuration_table_says_what_a_change_reruns(demo_run, tmp_path, key):
    said = configdoc.reruns(key)
    # "(summarize where summarize.enabled)": a stage the demo does not run.
    expected = set() if said == "nothing" else set(said.split(" (")[0].split(", "))
    planned = {rule for rule, _ in _plan(demo_run, TABLE_CASES[key], tmp_path)}
    assert planned == expected, f"the table says a change of {key} reruns {said!r}; Snakemake plans {planned}"


def _rows(db: Path) -> dict[str, list[tuple]]:
    conn = sqlite3.connect(db)
    # evidence without its key: a number the store gives in the order it inserts
    evidence = "vid, owner_kind, owner_id, segment_id, quote, t0, t1, match, score"
    tables = {"claims": "*", "evaluations": "*", "evidence": evidence, "segments": "*", "jargon": "*",
              "videos": "vid, status, reason, title, duration, prompt_tokens, llm_requests, provenance"}  # fmt: skip
    found = {t: sorted(conn.execute(f"SELECT {cols} FROM {t}").fetchall(), key=repr) for t, cols in tables.items()}
    conn.close()
    return found


def test_a_lost_database_is_refilled_from_the_files_without_downloads_or_llm(demo_run: Path):
    results = demo_run / "results"
    db = results / "claimflow.sqlite"
    before = _rows(db)
    made = {p: p.stat().st_mtime_ns for name in ("download.json", "claims.json", "evaluation.json")
            for p in results.glob(f"*/{name}")}  # fmt: skip
    for path in results.glob("claimflow.sqlite*"):
        path.unlink()
    plan = run_workflow(demo_run, "-n")
    # The rows are refilled from the files, and the links across videos made again from the
    # embeddings already computed (the judgements answered from the LLM cache).
    assert {job for job in planned_jobs(plan.stdout + plan.stderr) if job[1]} == {
        (rule, vid) for rule in ("store", "link", "judge") for vid in ("file-sleep", "file-interest", "file-forests")
    }
    run_workflow(demo_run)
    assert _rows(db) == before
    assert {p: p.stat().st_mtime_ns for p in made} == made  # nothing downloaded, mined or evaluated again
