"""Real faster-whisper (bundled tiny.en) on real speech from the demo clips."""

import wave
from pathlib import Path

import jiwer
import pysrt
import pytest
import webvtt

from claimflow import transcribe
from tests.conftest import DEMO

CFG = {"model": "tiny.en", "device": "auto", "compute_type": "auto", "vad": True, "batch_size": 1}


def _outputs(tmp_path: Path) -> dict[str, str]:
    return {k: str(tmp_path / f"transcript.{k}") for k in ("json", "srt", "vtt", "txt")}


def _normalize(text: str) -> str:
    import re

    return " ".join(re.sub(r"[^a-z0-9% ]+", " ", text.lower()).split())


@pytest.fixture(scope="module")
def interest(tmp_path_factory) -> tuple[dict, dict[str, str]]:
    out = tmp_path_factory.mktemp("interest")
    outputs = _outputs(out)
    doc = transcribe.run(vid="v", audio=DEMO / "interest.ogg", manifest={"status": "ok"}, cfg=CFG, threads=2,
                         outputs=outputs)  # fmt: skip
    return doc, outputs


def test_transcript_has_timed_segments_and_records_its_source(interest):
    doc, _ = interest
    assert doc["status"] == "ok" and doc["source"] == "whisper:tiny.en"
    assert doc["language"] == "en"
    assert 25 < doc["duration"] < 40
    starts = [s["start"] for s in doc["segments"]]
    assert starts == sorted(starts)
    assert all(s["end"] > s["start"] for s in doc["segments"])
    assert {"id", "start", "end", "text", "avg_logprob", "no_speech_prob"} <= set(doc["segments"][0])


def test_captions_parse_with_real_subtitle_parsers(interest):
    doc, outputs = interest
    srt = pysrt.open(outputs["srt"])
    vtt = webvtt.read(outputs["vtt"])
    assert len(srt) == len(vtt) == len(doc["segments"])
    assert srt[0].text == doc["segments"][0]["text"]
    hours, minutes, seconds = vtt[-1].end.split(":")
    assert abs(int(hours) * 3600 + int(minutes) * 60 + float(seconds) - doc["segments"][-1]["end"]) < 0.002
    assert abs(srt[-1].start.ordinal / 1000 - doc["segments"][-1]["start"]) < 0.002
    assert Path(outputs["txt"]).read_text().splitlines()[0] == doc["segments"][0]["text"]


def test_word_error_rate_on_the_demo_clip_is_low(interest):
    doc, _ = interest
    reference = _normalize((DEMO / "texts/interest.txt").read_text())
    hypothesis = _normalize(" ".join(s["text"] for s in doc["segments"]))
    # tiny.en writes numbers as digits ("7%", "72") where the speaker said words, which
    # alone costs about 0.1 here; see issue 5 for the measured bound per clip.
    assert jiwer.wer(reference, hypothesis) < 0.3


def test_silence_gives_no_speech(tmp_path):
    silent = tmp_path / "silence.wav"
    with wave.open(str(silent), "wb") as handle:
        handle.setnchannels(1)
        handle.setsampwidth(2)
        handle.setframerate(16000)
        handle.writeframes(b"\x00\x00" * 16000 * 5)
    doc = transcribe.run(vid="s", audio=silent, manifest={"status": "ok"}, cfg=CFG, threads=2,
                         outputs=_outputs(tmp_path))  # fmt: skip
    assert doc["status"] == "no_speech"
    assert doc["segments"] == []
    assert pysrt.open(str(tmp_path / "transcript.srt")) == []


def test_unavailable_video_passes_through_without_loading_a_model(tmp_path):
    doc = transcribe.run(vid="u", audio=tmp_path / "missing", manifest={"status": "unavailable", "reason": "HTTP 404"},
                         cfg={**CFG, "model": "/nonexistent/model"}, threads=1, outputs=_outputs(tmp_path))  # fmt: skip
    assert doc["status"] == "unavailable" and doc["reason"] == "HTTP 404"
    assert (tmp_path / "transcript.vtt").read_text().startswith("WEBVTT")


def test_device_and_compute_type_auto_pick_cpu_int8_here():
    assert transcribe.resolve_device("auto", "auto") == ("cpu", "int8")
    assert transcribe.resolve_device("cuda", "auto") == ("cuda", "float16")
