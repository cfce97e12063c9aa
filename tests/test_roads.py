"""Which road a video takes, from what its captions pass found (claimflow/download/roads.py), and
the records a batch begun before the captions pass keeps (claimflow/download/captionspass.py)."""

from __future__ import annotations

from pathlib import Path

from claimflow.core import layout
from claimflow.core.settings import CaptionsPacing, CaptionsPass
from claimflow.download import captionspass, roads

HUMAN = {"kind": "human", "lang": "en", "ext": "vtt", "webvtt": "WEBVTT\n"}
AUTO = {"kind": "automatic", "lang": "en", "ext": "json3", "webvtt": "WEBVTT\n"}


def _settings(automatic: str = "never") -> CaptionsPass:
    return CaptionsPass(enabled=True, automatic=automatic, pacing=CaptionsPacing((3, 8), 2))


def _found(*tracks: dict, status: str = "ok") -> dict:
    return {"status": status, "reason": None, "tracks": list(tracks)}


def test_human_captions_take_the_captions_road_and_automatic_ones_only_when_allowed():
    assert roads.choose(_found(HUMAN, AUTO), _settings(), True).track == HUMAN
    assert roads.choose(_found(AUTO), _settings(), True).name == roads.AUDIO
    assert roads.choose(_found(AUTO), _settings("always"), True).track == AUTO
    assert roads.choose(_found(), _settings("always"), True).name == roads.AUDIO


def test_everything_else_takes_the_audio_road_and_says_why():
    assert roads.choose(_found(HUMAN), _settings(), False).reason == "transcribe.prefer_captions is off"
    for status in (captionspass.NEEDS_ACCOUNT, captionspass.LOCAL, captionspass.OFF):
        road = roads.choose(_found(HUMAN, status=status), _settings(), True)
        assert road.name == roads.AUDIO and status in road.reason
    assert roads.choose(None, _settings(), True).reason == "no captions pass for this video"


def test_sources_in_words_old_and_new():
    assert roads.source_of({"source": "captions"}) == "human captions"
    assert roads.source_of({"source": "whisper:tiny.en"}) == "whisper tiny.en"
    assert roads.source_of({"source": "automatic captions"}) == "automatic captions"


def test_downloads_before_the_captions_pass_are_recorded_once_and_then_only_read(tmp_path: Path):
    results = tmp_path / "results"
    for vid in ("old1", "old2"):
        (results / vid).mkdir(parents=True)
        (results / vid / layout.DOWNLOAD).write_text("{}")
    (results / "pending").mkdir()  # asked for, not downloaded: not one of them
    record = str(results / "downloaded-before-captions.txt")
    # A cluster job (no write) before the record exists knows none; the main process writes it.
    assert captionspass.downloaded_before(str(results), record, write=False) == frozenset()
    assert captionspass.downloaded_before(str(results), record, write=True) == {"old1", "old2"}
    # Later downloads (made with the pass) never join it: the record is read, not remade.
    (results / "new1").mkdir()
    (results / "new1" / layout.DOWNLOAD).write_text("{}")
    assert captionspass.downloaded_before(str(results), record, write=True) == {"old1", "old2"}
    assert captionspass.downloaded_before(str(results), record, write=False) == {"old1", "old2"}
