"""The download stage through real yt-dlp against a fault-injecting HTTP server on loopback."""

import json
import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from claimflow.core import logs, settings
from claimflow.download import envstop, ytdlp
from claimflow.download import stage as download
from claimflow.download.accounts import Account, from_config
from tests.conftest import CLAIMFLOW, DEMO
from tests.harness.faultserver import Fault

pytestmark = pytest.mark.integration  # yt-dlp against the fault server on loopback

PACING = {"delay": [0.05, 0.1], "floor": 0.0, "warmup": {"videos": 0},
          "adaptive": {"failure_multiplier": 1.5, "max_failures": 3}}  # fmt: skip


def _pacing(section: dict) -> settings.Pacing:
    return settings.load({"pacing": section}).pacing


def _run(tmp_path: Path, url: str, accounts: list[Account], vid: str = "v1", booked: str | None = None,
         pacing_override: dict | None = None, **kw) -> dict:  # fmt: skip
    out = tmp_path / "results" / vid
    return download.run(
        vid=vid,
        url=url,
        booked=booked or accounts[0].name,
        accounts=accounts,
        audio_out=out / "audio",
        manifest_out=out / "download.json",
        state_dir=tmp_path / "state",
        pacing=_pacing(pacing_override or PACING),
        **kw,
    )


def _state(tmp_path: Path, name: str) -> dict:
    return json.loads((tmp_path / "state" / f"{name}.json").read_text())


def _jar(tmp_path: Path, name: str) -> str:
    jar = tmp_path / f"{name}.cookies"
    jar.write_text(f"# Netscape HTTP Cookie File\n127.0.0.1\tFALSE\t/\tFALSE\t0\tacct\t{name}-token\n")
    os.chmod(jar, 0o600)
    return str(jar)


def test_http_download_keeps_the_served_audio_and_info(tmp_path, media_server):
    manifest = _run(tmp_path, media_server.url("sleep.ogg"), [Account("acct1")])
    audio = tmp_path / "results/v1/audio"
    assert manifest["status"] == "ok"
    assert manifest["account"] == "acct1"
    assert manifest["ext"] == "ogg"
    assert audio.read_bytes() == (DEMO / "sleep.ogg").read_bytes()  # as served: no transcoding
    assert json.loads((tmp_path / "results/v1/download.json").read_text())["status"] == "ok"
    assert not (tmp_path / "results/v1/.download").exists()
    assert _state(tmp_path, "acct1")["successes"] == 1


def test_file_url_download(tmp_path):
    manifest = _run(tmp_path, (DEMO / "forests.ogg").as_uri(), [Account("acct1")])
    assert manifest["status"] == "ok"
    assert (tmp_path / "results/v1/audio").stat().st_size == (DEMO / "forests.ogg").stat().st_size


def test_missing_video_ends_unavailable_and_the_job_succeeds(tmp_path, media_server):
    manifest = _run(tmp_path, media_server.url("gone.ogg"), [Account("acct1")])
    assert manifest["status"] == "unavailable"
    assert "404" in manifest["reason"]
    assert (tmp_path / "results/v1/audio").read_bytes() == b""
    assert _state(tmp_path, "acct1").get("failures", 0) == 0  # the video's fault, not the account's


def test_rate_limit_fails_the_job_and_slows_the_account(tmp_path, media_server):
    media_server.add(Fault("status", status=429, headers={"Retry-After": "7"}))
    with pytest.raises(download.DownloadFailed) as failure:
        _run(tmp_path, media_server.url("sleep.ogg"), [Account("acct1")])
    assert failure.value.outcome.kind == "rate_limited"
    assert not (tmp_path / "results/v1/download.json").exists()
    assert not (tmp_path / "results/v1/audio").exists()
    state = _state(tmp_path, "acct1")
    assert state["failures"] == 1 and state["last_outcome"] == "rate_limited"
    assert state["multiplier"] == 1.5
    assert state["not_before"] >= state["last_start"] + 7 - 0.5  # Retry-After honoured


def test_three_rate_limits_in_a_row_pause_the_account(tmp_path, media_server):
    media_server.add(Fault("status", status=429))
    pacing = PACING | {"adaptive": {"failure_multiplier": 1.5, "max_failures": 3, "pause": [3600, 7200]}}
    for _ in range(3):
        with pytest.raises(download.DownloadFailed):
            _run(tmp_path, media_server.url("sleep.ogg"), [Account("acct1")], pacing_override=pacing)
    state = _state(tmp_path, "acct1")
    assert state["multiplier"] == pytest.approx(1.5**3)
    assert 3600 <= state["paused_until"] - state["last_start"] <= 7200 + 5


@pytest.mark.parametrize(
    ("fault", "timeout"),
    [(Fault("reset"), 30.0), (Fault("truncate", keep_bytes=2000), 30.0), (Fault("slow", delay=3.0), 1.0),
     (Fault("status", status=503), 30.0)],
    ids=["reset", "truncated", "slow", "503"],
)  # fmt: skip
def test_network_faults_are_transient_and_back_off(tmp_path, media_server, fault, timeout):
    fault.path = "/sleep.ogg"
    media_server.add(fault)
    with pytest.raises(download.DownloadFailed) as failure:
        _run(tmp_path, media_server.url("sleep.ogg"), [Account("acct1")],
             pacing_override=PACING | {"socket_timeout": timeout})  # fmt: skip
    assert failure.value.outcome.kind == "transient", failure.value
    state = _state(tmp_path, "acct1")
    assert state["transient_streak"] == 1 and state["not_before"] > state["last_start"]
    assert not (tmp_path / "results/v1/audio").exists()  # no partial file a later stage could read


def test_refused_cookies_disable_the_account_and_fail_over(tmp_path, media_server):
    acct1, acct2 = Account("acct1", cookies=_jar(tmp_path, "acct1")), Account("acct2", cookies=_jar(tmp_path, "acct2"))
    media_server.add(Fault("status", status=401, cookie="acct1-token"))
    manifest = _run(tmp_path, media_server.url("sleep.ogg"), [acct1, acct2], booked="acct1")
    assert manifest["status"] == "ok" and manifest["account"] == "acct2"
    assert manifest["failover_from"] == ["acct1"]
    state = _state(tmp_path, "acct1")
    assert state["status"] == "disabled" and "401" in state["disabled_reason"]
    # The next video booked on acct1 goes straight to acct2, without a request as acct1.
    before = len([r for r in media_server.requests if r.cookie and "acct1" in r.cookie])
    manifest = _run(tmp_path, media_server.url("forests.ogg"), [acct1, acct2], vid="v2", booked="acct1")
    assert manifest["account"] == "acct2"
    assert len([r for r in media_server.requests if r.cookie and "acct1" in r.cookie]) == before


def test_private_video_never_disables_an_account(tmp_path, media_server):
    acct1 = Account("acct1", cookies=_jar(tmp_path, "acct1"))
    media_server.add(Fault("status", status=404, path="/sleep.ogg"))
    manifest = _run(tmp_path, media_server.url("sleep.ogg"), [acct1])
    assert manifest["status"] == "unavailable"
    assert _state(tmp_path, "acct1")["status"] == "active"


def test_every_account_disabled_stops_with_one_clear_message_then_resumes(tmp_path, media_server):
    accounts = [Account(n, cookies=_jar(tmp_path, n)) for n in ("acct1", "acct2")]
    refusal = media_server.add(Fault("status", status=401))
    with pytest.raises(download.AllAccountsDisabled, match="every download account is disabled") as stop:
        _run(tmp_path, media_server.url("sleep.ogg"), accounts)
    assert "acct1" in str(stop.value) and "acct2" in str(stop.value)
    assert "token" not in str(stop.value)
    refusal.times = 0  # the site accepts sessions again once cookies are fresh
    Path(accounts[1].cookies).write_text(Path(accounts[1].cookies).read_text() + "\n")  # a new export
    os.utime(accounts[1].cookies, (1e9, 1e9))
    manifest = _run(tmp_path, media_server.url("sleep.ogg"), accounts)
    assert manifest["status"] == "ok" and manifest["account"] == "acct2"
    assert _state(tmp_path, "acct1")["status"] == "disabled"


def test_cookies_are_sent_but_never_logged_or_copied(tmp_path, media_server, caplog):
    jar = Path(_jar(tmp_path, "acct1"))
    os.chmod(jar, 0o644)
    with caplog.at_level(logging.DEBUG):
        manifest = _run(tmp_path, media_server.url("sleep.ogg"), [Account("acct1", cookies=str(jar))])
    assert manifest["status"] == "ok"
    media_requests = [r for r in media_server.requests if r.path == "/sleep.ogg"]
    assert media_requests and all(r.cookie and "acct1-token" in r.cookie for r in media_requests)
    assert "readable by other users" in caplog.text
    assert "acct1-token" not in caplog.text
    written = [p for p in (tmp_path / "results").rglob("*") if p.is_file() and p.name != "audio"]
    written += list((tmp_path / "state").glob("*.json"))
    assert all("acct1-token" not in p.read_text(errors="ignore") for p in written)


def test_proxy_password_is_masked_in_logs_and_outputs(tmp_path, media_server):
    log_file = tmp_path / "download.log"
    logs.setup(log_file, logging.DEBUG)
    proxy = f"http://user:pr0xy-pass-99@127.0.0.1:{media_server.port}"
    (account,) = from_config({"accounts": [{"name": "acct1", "proxy": proxy}]})
    try:
        _run(tmp_path, media_server.url("sleep.ogg"), [account])
    except download.DownloadFailed:
        pass  # whatever the proxy answered, only the masking is under test
    finally:
        logging.getLogger().handlers.clear()
    text = log_file.read_text()
    assert "user:***@127.0.0.1" in text
    assert "pr0xy-pass-99" not in text
    manifest = tmp_path / "results/v1/download.json"
    assert not manifest.exists() or "pr0xy-pass-99" not in manifest.read_text()


def test_missing_cookie_file_is_a_clear_error(tmp_path, media_server):
    with pytest.raises(FileNotFoundError, match="acct1: cookie file not found"):
        _run(tmp_path, media_server.url("sleep.ogg"), [Account("acct1", cookies=str(tmp_path / "none.txt"))])


def _captioned_page(root: Path) -> None:
    (root / "talk.ogg").write_bytes((DEMO / "sleep.ogg").read_bytes())
    (root / "talk.en.vtt").write_text(
        "WEBVTT\n\n00:00:00.000 --> 00:00:02.500\nSleep is essential for memory.\n\n"
        "00:00:02.500 --> 00:00:09.000\nDuring deep sleep, the brain replays what it learned during the day.\n"
    )
    (root / "talk.html").write_text(
        "<!DOCTYPE html><html><head><title>Sleep talk</title></head><body><video controls>"
        '<source src="talk.ogg" type="audio/ogg">'
        '<track kind="subtitles" src="talk.en.vtt" srclang="en" label="English"></video></body></html>'
    )


def test_human_subtitles_are_fetched_with_the_audio(tmp_path, media_server):
    _captioned_page(media_server.root)
    captions = tmp_path / "results/v1/captions.vtt"
    manifest = _run(tmp_path, media_server.url("talk.html"), [Account("acct1")], captions_out=captions,
                    captions_langs=["en", "en-.*"])  # fmt: skip
    assert manifest["status"] == "ok" and manifest["captions"] == {"lang": "en", "ext": "vtt", "kind": "human"}
    assert "Sleep is essential for memory." in captions.read_text()
    assert (tmp_path / "results/v1/audio").read_bytes() == (DEMO / "sleep.ogg").read_bytes()


def test_no_subtitles_leaves_an_empty_captions_file(tmp_path, media_server):
    captions = tmp_path / "results/v1/captions.vtt"
    manifest = _run(tmp_path, media_server.url("sleep.ogg"), [Account("acct1")], captions_out=captions,
                    captions_langs=["en"])  # fmt: skip
    assert manifest["captions"] is None and captions.read_bytes() == b""


def test_automatic_captions_are_never_requested():
    opts = ytdlp.options(Account("a"), Path("/tmp"), 30, captions=["en"])
    assert opts["writesubtitles"] is True and opts["writeautomaticsub"] is False


def test_the_bundled_js_runtime_and_yt_dlp_version_are_recorded(tmp_path, media_server):
    manifest = _run(tmp_path, media_server.url("sleep.ogg"), [Account("acct1")])
    assert manifest["ytdlp"]["version"] == "2026.10.26"
    assert manifest["ytdlp"]["js_runtime"].startswith("deno ") and manifest["ytdlp"]["ejs"] == "0.8.0"


def test_a_region_refusal_fails_over_to_the_account_that_may_see_the_video(tmp_path, media_server):
    media_server.add(Fault("status", status=451, cookie="acct1-token"))  # acct1's proxy is in the wrong country
    accounts = [Account(n, cookies=_jar(tmp_path, n)) for n in ("acct1", "acct2")]
    manifest = _run(tmp_path, media_server.url("sleep.ogg"), accounts)
    assert manifest["status"] == "ok" and manifest["account"] == "acct2"
    assert manifest["refused_by"] == {"acct1": "geo_blocked"}
    assert _state(tmp_path, "acct1")["status"] == "active"  # refused, not broken: no health penalty


def test_refused_by_every_account_is_unavailable_and_says_which_were_tried(tmp_path, media_server):
    media_server.add(Fault("status", status=451))
    accounts = [Account(n, cookies=_jar(tmp_path, n)) for n in ("acct1", "acct2")]
    manifest = _run(tmp_path, media_server.url("sleep.ogg"), accounts)
    assert manifest["status"] == "unavailable" and manifest["reason_class"] == "geo_blocked"
    assert "refused for accounts: acct1, acct2" in manifest["reason"]


def test_environment_failures_are_never_unavailable_and_a_run_of_them_stops_downloads(tmp_path, media_server):
    media_server.add(Fault("html"))  # a site whose pages no longer hold what the extractor expects
    for i in range(3):
        with pytest.raises((download.DownloadFailed, envstop.EnvironmentStop)) as failure:
            _run(tmp_path, media_server.url(f"show/episode-{i}"), [Account("acct1")], vid=f"v{i}")
        assert not (tmp_path / f"results/v{i}/download.json").exists()  # no verdict on the video
    assert isinstance(failure.value, envstop.EnvironmentStop)  # the third video in a row switched it on
    assert "3 videos in a row failed because of the environment" in str(failure.value)
    assert "Fix: yt-dlp did not recognise the URL" in str(failure.value)
    requests = len(media_server.requests)
    with pytest.raises(envstop.EnvironmentStop):
        _run(tmp_path, media_server.url("sleep.ogg"), [Account("acct1")], vid="v3")
    assert len(media_server.requests) == requests  # stopped before any request
    assert _state(tmp_path, "acct1")["status"] == "active" and "multiplier" not in _state(tmp_path, "acct1") or \
        _state(tmp_path, "acct1")["multiplier"] == 1.0  # the account is not blamed  # fmt: skip


def test_a_media_address_that_serves_a_web_page_is_not_media_not_the_environment(tmp_path, media_server):
    media_server.add(Fault("html", path="/sleep.ogg"))  # a moved file: the host answers with a page
    manifest = _run(tmp_path, media_server.url("sleep.ogg"), [Account("acct1")])
    assert manifest["status"] == "unavailable" and manifest["reason_class"] == "not_media"
    assert manifest["reason"].startswith("sleep.ogg is not a media file: the address served a web page")
    assert envstop.current(tmp_path).get("vids", []) == []  # the environment is not blamed


def test_a_success_ends_a_run_of_environment_failures(tmp_path, media_server):
    fault = media_server.add(Fault("html", times=2))
    for i in range(2):
        with pytest.raises(download.DownloadFailed):
            _run(tmp_path, media_server.url(f"show/episode-{i}"), [Account("acct1")], vid=f"v{i}")
    assert _run(tmp_path, media_server.url("sleep.ogg"), [Account("acct1")], vid="v2")["status"] == "ok"
    assert envstop.current(tmp_path)["vids"] == [] and fault.times == 0


def test_extractor_args_reach_yt_dlp(tmp_path, media_server):
    log_file = tmp_path / "download.log"
    logs.setup(log_file, logging.DEBUG)
    options = settings.DownloadOptions(environment_failures=3, on_compute_nodes=False,
                                       ytdlp={"extractor_args": {"generic": {"impersonate": ["chrome"]}}})  # fmt: skip
    manifest = _run(tmp_path, media_server.url("sleep.ogg"), [Account("acct1")], options=options)
    assert manifest["status"] == "ok"
    # yt-dlp's generic extractor read the argument and says so (no impersonation library here).
    assert "attempting impersonation" in log_file.read_text()


def test_options_outside_the_passthrough_set_are_refused_by_name():
    with pytest.raises(ValueError, match="outtmpl cannot be passed to yt-dlp here"):
        ytdlp.passthrough_options({"outtmpl": "/tmp/x"})


def test_yt_dlp_finds_the_bundled_deno_and_ejs_scripts_without_a_system_deno(tmp_path):
    bare_path = "/usr/bin:/bin"
    assert shutil.which("deno", path=bare_path) is None, "a system deno would hide what this test checks"
    command = [sys.executable, "-m", "yt_dlp", "-v", "--simulate", (DEMO / "sleep.ogg").as_uri()]
    run = subprocess.run(command, capture_output=True, text=True, timeout=120,
                         env={"PATH": bare_path, "HOME": str(tmp_path)})  # fmt: skip
    header = run.stderr
    assert "[debug] JS runtimes: deno-2.9.8" in header, header[-2000:]
    assert "yt_dlp_ejs-0.8.0" in header
    # And the workflow's own options name that binary explicitly (a cluster job's PATH may differ).
    opts = ytdlp.options(Account("a"), tmp_path, 30.0)
    assert Path(opts["js_runtimes"]["deno"]["path"]) == Path(sys.executable).parent / "deno"


def test_unavailable_videos_are_listed_by_reason_and_a_retry_downloads_them_again(tmp_path, media_server):
    refusal = media_server.add(Fault("status", status=451))
    assert _run(tmp_path, media_server.url("sleep.ogg"), [Account("acct1")])["reason_class"] == "geo_blocked"
    (tmp_path / "c.yaml").write_text(f"sources: {DEMO / 'sources.txt'}\nresults: {tmp_path / 'results'}\n")
    command = [*CLAIMFLOW, "unavailable", "--configfile", str(tmp_path / "c.yaml")]
    listing = subprocess.run(command, capture_output=True, text=True, timeout=120, check=True).stdout
    assert "geo_blocked: 1 (may change: --retry it)" in listing and "  v1\t" in listing
    retried = subprocess.run([*command, "--retry", "geo_blocked"], capture_output=True, text=True, timeout=120)
    assert "1 video(s) set aside for download" in retried.stdout
    assert not (tmp_path / "results/v1/download.json").exists()
    assert list((tmp_path / "results/v1").glob(".unavailable-*/download.json"))  # kept, not deleted
    refusal.times = 0  # the account's proxy moved to the right country
    assert _run(tmp_path, media_server.url("sleep.ogg"), [Account("acct1")])["status"] == "ok"


def test_a_local_file_that_cannot_be_audio_is_unavailable_with_the_reason_and_no_account_is_used(tmp_path):
    (tmp_path / "empty.ogg").write_bytes(b"")
    (tmp_path / "notes.mp3").write_text("meeting notes, not audio\n" * 40)
    empty = download.local_file_problem((tmp_path / "empty.ogg").as_uri())
    notes = download.local_file_problem((tmp_path / "notes.mp3").as_uri())
    assert (empty.kind, empty.reason_class) == ("unavailable", "empty_file") and "0 bytes" in empty.reason
    assert (notes.kind, notes.reason_class) == ("unavailable", "not_media")
    assert "claimflow unavailable --retry not_media" in notes.reason
    assert download.local_file_problem((DEMO / "sleep.ogg").as_uri()) is None
    assert download.local_file_problem((tmp_path / "gone.ogg").as_uri()) is None  # not the file's property
    assert download.local_file_problem("http://127.0.0.1/notes.mp3") is None
    manifest = _run(tmp_path, (tmp_path / "notes.mp3").as_uri(), [Account("acct1")])
    assert manifest["status"] == "unavailable" and manifest["reason_class"] == "not_media"
    assert not (tmp_path / "state" / "accounts" / "acct1.json").exists()  # no pacing turn was taken


def test_a_page_whose_media_is_a_local_file_never_makes_yt_dlp_read_it(tmp_path, media_server):
    # A site's page naming file:///... as its media: with file:// URLs enabled for every
    # download, yt-dlp would read the local file as the video's audio.
    secret = tmp_path / "private.ogg"
    secret.write_bytes((DEMO / "forests.ogg").read_bytes())
    (media_server.root / "trap.html").write_text(
        f'<!DOCTYPE html><html><head><title>trap</title></head><body><video controls><source src="{secret.as_uri()}" '
        'type="audio/ogg"></video></body></html>'
    )
    try:
        manifest = _run(tmp_path, media_server.url("trap.html"), [Account("acct1")])
    except download.DownloadFailed as failed:
        manifest = {"status": "failed", "reason": str(failed)}
    assert manifest["status"] != "ok", manifest
    audio = tmp_path / "results/v1/audio"
    assert not audio.exists() or audio.read_bytes() != secret.read_bytes()


def test_the_users_own_local_file_is_still_read(tmp_path):
    manifest = _run(tmp_path, (DEMO / "sleep.ogg").as_uri(), [Account("acct1")])
    assert manifest["status"] == "ok"
    assert (tmp_path / "results/v1/audio").read_bytes() == (DEMO / "sleep.ogg").read_bytes()
