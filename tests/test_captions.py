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


def test_a_json3_automatic_track_reads_each_word_once_with_its_time(tmp_path):
    from tests.harness import captionsite

    text = "Sleep is essential for memory. During deep sleep, the brain replays what it learned during the day!"
    path = tmp_path / "found.en.json3"
    path.write_text(captionsite.automatic_json3(text))
    webvtt, served = fetched.as_webvtt(path, "json3")
    assert served == "json3" and "[Music]" not in webvtt and "<c>" not in webvtt
    (tmp_path / "captions.vtt").write_text(webvtt)
    track = subtitles.read_track(tmp_path / "captions.vtt")
    words = [w for s in track.segments for w in s.words]
    # Each word once (the overlapping events and appended line breaks add none), in order, timed.
    assert [w.word for w in words] == captionsite.asr_words(text)
    assert all(a.start <= b.start for a, b in zip(words, words[1:], strict=False))
    assert words[1].start == pytest.approx(0.3 + 1 / captionsite.WORDS_PER_SECOND, abs=0.002)
    # A cue ends where the next begins: no two segments overlap.
    assert all(a.end <= b.start for a, b in zip(track.segments, track.segments[1:], strict=False))


def test_json3_times_written_as_strings_and_events_without_words_are_read(tmp_path):
    path = tmp_path / "found.json3"
    path.write_text('{"events": [{"tStartMs": 0, "dDurationMs": 5000, "id": 1}, {"tStartMs": "1200", '
                    '"dDurationMs": "800", "segs": [{"utf8": "hello"}, {"utf8": " world", "tOffsetMs": "400"}]},'
                    ' {"tStartMs": 2000, "aAppend": 1, "segs": [{"utf8": "\\n"}]}]}')  # fmt: skip
    webvtt, _ = fetched.as_webvtt(path, "json3")
    assert webvtt.splitlines()[2:4] == ["00:00:01.200 --> 00:00:02.000", "hello <00:00:01.600>world"]
    path.write_text("<transcript><text start='0'>srv1, not json3</text></transcript>")
    with pytest.raises(fetched.CaptionsUnreadable, match="not a json3 file"):
        fetched.as_webvtt(path, "json3")
