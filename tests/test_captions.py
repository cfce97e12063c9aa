"""Caption tracks read right: rolling cues collapse to each word once, tags go, word times stay,
WebVTT, SRT and TTML all read (claimflow/transcribe/captions.py and
claimflow/download/captions.py, with webvtt-py)."""

from __future__ import annotations

import pytest

from claimflow.download import captions as fetched
from claimflow.transcribe import captions as subtitles
from tests.harness import wildshapes


def _words(track: subtitles.CaptionTrack) -> str:
    return " ".join(s.text for s in track.segments)


def test_a_rolling_youtube_track_reads_each_word_once(tmp_path):
    path = tmp_path / "captions.vtt"
    path.write_text(wildshapes.ROLLING_VTT)
    track = subtitles.read_track(path)
    assert track.format == "vtt" and track.cues == 6 and track.rolled == 4
    assert _words(track) == wildshapes.ROLLING_WORDS  # no line twice, no tag, no [Music]
    assert [(s.start, s.end) for s in track.segments] == [(0.0, 2.6), (2.61, 5.5), (5.51, 9.0)]


def test_inline_word_times_become_per_word_times(tmp_path):
    path = tmp_path / "captions.vtt"
    path.write_text(wildshapes.ROLLING_VTT)
    first, second, _ = subtitles.read_track(path).segments
    assert [(w.start, w.word) for w in first.words] == [(0.0, "sleep"), (0.5, "is"), (0.9, "essential"),
                                                        (1.6, "for"), (2.0, "memory")]  # fmt: skip
    assert first.words[-1].end == 2.6  # the last word ends with its cue
    assert [w.word for w in second.words] == ["during", "deep", "sleep", "the", "brain"]  # styled words too


def test_the_same_track_as_srt_reads_the_same_words(tmp_path):
    path = tmp_path / "captions.srt"
    path.write_text(wildshapes.ROLLING_SRT)
    track = subtitles.read_track(path)
    assert track.format == "srt" and _words(track) == wildshapes.ROLLING_WORDS


def test_a_plain_track_is_left_as_it_is(tmp_path):
    path = tmp_path / "captions.vtt"
    path.write_text("WEBVTT\n\n00:00:00.000 --> 00:00:02.000\n&gt;&gt; Yes.\n\n00:00:02.000 --> 00:00:03.000\n"
                    "Yes, I agree &amp; so does she.\n\n00:00:03.000 --> 00:00:04.000\n<v Jane>No.</v>\n")  # fmt: skip
    track = subtitles.read_track(path)
    assert [s.text for s in track.segments] == ["Yes.", "Yes, I agree & so does she.", "No."]
    assert track.rolled == 0


def test_a_line_growing_word_by_word_keeps_only_the_new_words(tmp_path):
    path = tmp_path / "captions.vtt"
    path.write_text("WEBVTT\n\n00:00:00.000 --> 00:00:01.000\nI think\n\n00:00:01.000 --> 00:00:02.000\n"
                    "I think sleep matters\n\n00:00:02.000 --> 00:00:03.000\na lot\n")  # fmt: skip
    assert _words(subtitles.read_track(path)) == "I think sleep matters a lot"


def test_srt_and_ttml_are_kept_as_webvtt_and_say_what_they_were(tmp_path):
    srt = tmp_path / "talk.en.srt"
    srt.write_text(wildshapes.ROLLING_SRT)
    text, served = fetched.as_webvtt(srt, "srt")
    assert served == "srt" and text.startswith("WEBVTT")
    (tmp_path / "as.vtt").write_text(text)
    assert _words(subtitles.read_track(tmp_path / "as.vtt")) == wildshapes.ROLLING_WORDS
    ttml = tmp_path / "talk.en.ttml"
    ttml.write_text('<?xml version="1.0" encoding="utf-8"?><tt xml:lang="en" xmlns="http://www.w3.org/ns/ttml"><body>'
                    '<div><p begin="00:00:00.000" end="00:00:02.500">Sleep is essential<br/>for memory.</p>'
                    '<p begin="2.5s" end="9s">During deep sleep &amp; more.</p></div></body></tt>')  # fmt: skip
    text, served = fetched.as_webvtt(ttml, "ttml")
    assert served == "ttml" and "During deep sleep & more." in text
    with pytest.raises(fetched.CaptionsUnreadable, match="json3"):
        fetched.as_webvtt(ttml, "json3")
