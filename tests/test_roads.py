"""Which road a video takes, from what its captions pass found (claimflow/download/roads.py), and
the records a batch begun before the captions pass keeps (claimflow/download/captionspass.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from claimflow.core import layout
from claimflow.core.settings import CaptionsGate, CaptionsPacing, CaptionsPass
from claimflow.download import captionspass, roads

HUMAN = {"kind": "human", "lang": "en", "ext": "vtt", "webvtt": "WEBVTT\n"}
AUTO = {"kind": "automatic", "lang": "en", "ext": "json3", "webvtt": "WEBVTT\n"}


def _settings(automatic: str = "never") -> CaptionsPass:
    return CaptionsPass(enabled=True, automatic=automatic, gate=CaptionsGate(3, 0.25), pacing=CaptionsPacing((3, 8), 2))


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


def test_a_download_books_an_account_slot_unless_its_road_is_certainly_captions_or_it_is_unavailable():
    # What the scheduler is told when the job is ready (rules/common.smk get_account_slot).
    assert not roads.takes_a_turn(_found(HUMAN), _settings(), True)
    assert not roads.takes_a_turn(_found(AUTO), _settings("always"), True)
    assert not roads.takes_a_turn(_found(status=captionspass.UNAVAILABLE), _settings(), True)
    # Only the gate's state can tell a gated channel's road: the slot, which a captions road wastes a second of.
    assert roads.takes_a_turn(_found(AUTO), _settings("gated"), True)
    assert roads.takes_a_turn(_found(AUTO), _settings("never"), True)
    assert roads.takes_a_turn(_found(HUMAN), _settings(), False)  # prefer_captions off
    assert roads.takes_a_turn(_found(HUMAN, status=captionspass.NEEDS_ACCOUNT), _settings(), True)
    assert roads.takes_a_turn({}, _settings(), True)  # the record not made yet (the DAG being built)
    assert roads.takes_a_turn(None, _settings(), True)


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


def _gate(sample: int = 2, max_wer: float = 0.25):
    from claimflow.core.settings import CaptionsGate

    return CaptionsGate(sample=sample, max_wer=max_wer)


def test_the_gate_samples_a_channels_first_videos_then_judges_by_the_median(tmp_path: Path):
    from claimflow.download import gate

    settings = _gate(sample=3, max_wer=0.25)
    assert [gate.verdict(tmp_path, "chan", v, settings) for v in ("v1", "v2", "v3", "v4")] == [
        "sample", "sample", "sample", "undecided"]  # fmt: skip
    assert gate.verdict(tmp_path, "chan", "v2", settings) == "sample"  # a retried job is still the sample
    gate.drop(tmp_path, "chan", "v3")  # unavailable: another video takes its place
    assert gate.verdict(tmp_path, "chan", "v4", settings) == "sample"
    for vid, wer in (("v1", 0.10), ("v2", 0.40), ("v4", 0.20)):
        state = gate.record(tmp_path, "chan", vid, wer, 100, settings)
    assert state["decision"] == "accepted" and state["median_wer"] == 0.2  # not the mean (0.233)
    assert gate.verdict(tmp_path, "chan", "v9", settings) == "accepted"
    assert gate.verdict(tmp_path, "other", "w1", _gate(sample=1)) == "sample"
    gate.record(tmp_path, "other", "w1", 0.9, 80, _gate(sample=1))
    assert gate.verdict(tmp_path, "other", "w2", _gate(sample=1)) == "rejected"
    assert "other: automatic captions rejected (median WER 0.90 over 1 videos" in gate.line(gate.decisions(tmp_path)[1])
    # The channel's name is never a path: a name from the network cannot place a file.
    assert all(p.parent == tmp_path / "captions-gate" for p in (tmp_path / "captions-gate").glob("*.json"))
    assert gate.verdict(tmp_path, "../../etc/x", "z", settings) == "sample"
    assert len(list((tmp_path / "captions-gate").glob("*.json"))) == 3
    assert gate.reset(tmp_path, "other") == ["other"]
    assert gate.verdict(tmp_path, "other", "w2", _gate(sample=1)) == "sample"  # judged again


def test_the_gates_word_error_rate_is_jiwers_on_the_words():
    import jiwer

    from claimflow.transcribe.gate import word_error_rate, words

    whisper = "Compound interest is the most powerful force in personal finance. When you reinvest, you earn more!"
    automatic = "compound interest is the most powerful forks in finance when you reinvest you earn more [Music]"
    assert words(automatic)[-1] == "more"  # the annotation is no word
    expected = jiwer.wer(" ".join(words(whisper)), " ".join(words(automatic)))
    assert word_error_rate(whisper, automatic) == pytest.approx(expected) == pytest.approx(2 / 16)
    assert word_error_rate(whisper, whisper.upper()) == 0.0


def test_gated_automatic_captions_follow_the_channels_verdict():
    found = _found(AUTO) | {"info": {"channel": "Loop", "channel_id": "UC123"}}
    asked = []

    def verdict(said):
        def ask(channel):
            asked.append(channel)
            return said

        return ask

    assert roads.choose(found, _settings("gated"), True, verdict("accepted")).track == AUTO
    sample = roads.choose(found, _settings("gated"), True, verdict("sample"))
    assert sample.name == roads.AUDIO and sample.gate_sample == "UC123"
    rejected = roads.choose(found, _settings("gated"), True, verdict("rejected"))
    assert rejected.reason == "automatic captions rejected for UC123"
    assert roads.choose(_found(HUMAN), _settings("gated"), True, verdict("rejected")).track == HUMAN
    assert asked == ["UC123"] * 3  # human captions never ask the gate


def test_downloads_made_with_the_passs_record_as_input_keep_it_once_recorded(tmp_path: Path):
    # a945f25 asked the captions pass about local files and media addresses; later releases do
    # not: a download made with captions.json as its input must keep it, or the batch is redone.
    results = tmp_path / "results"
    for vid, files in {"asked": (layout.FOUND, layout.DOWNLOAD), "before": (layout.DOWNLOAD,),
                       "pending": (layout.FOUND,)}.items():  # fmt: skip
        (results / vid).mkdir(parents=True)
        for name in files:
            (results / vid / name).write_text("{}")
    record = str(results / "asked-before-captions.txt")
    assert captionspass.asked_before(str(results), record, write=False) == frozenset()  # a cluster job writes nothing
    assert captionspass.asked_before(str(results), record, write=True) == {"asked"}
    (results / "later").mkdir()
    for name in (layout.FOUND, layout.DOWNLOAD):
        (results / "later" / name).write_text("{}")
    assert captionspass.asked_before(str(results), record, write=True) == {"asked"}  # read, not remade
