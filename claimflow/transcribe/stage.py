"""The transcribe stage: one video's transcript, from its human-made captions when preferred
and fetched (claimflow/transcribe/captions.py), else from its audio by the transcriber it is
given (Whisper: claimflow/transcribe/whisper.py); an unavailable video's status passes on.
transcript.json and the .srt, .vtt and .txt files are written atomically, segments streamed to
the caption files as they come, so memory does not grow with the audio beyond the segment list.
"""

from __future__ import annotations

import contextlib
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from claimflow.core import atomic
from claimflow.core.settings import CaptionsGate, TranscribeResult, TranscribeRuntime
from claimflow.download import roads
from claimflow.transcribe import gate
from claimflow.transcribe.captions import CaptionWriter, read_track
from claimflow.transcribe.whisper import WhisperTranscriber

log = logging.getLogger(__name__)

# What turns a video's audio into its transcript: (vid, audio, writer, vocabulary) -> the
# transcript's document. WhisperTranscriber; benchmark mode gives a stand-in (claimflow/parts).
Transcriber = Callable[..., dict[str, Any]]


def mem_mb_for(model_name: str, runtime: TranscribeRuntime, audio_seconds: float | None = None) -> int:
    """Memory to reserve for one transcribe job: the model's size (from the table, by the
    size named in the model) plus what faster-whisper holds per hour of audio (it decodes
    and featurizes the whole file at once: measured ~3.4 GB for an hour, whatever the model)."""
    table = runtime.mem_mb
    name = Path(model_name).name.lower()
    sizes = (int(mb) for size, mb in table.items() if size != "default" and size in name)
    base = next(sizes, int(table["default"]))
    hours = (audio_seconds if audio_seconds is not None else 3600.0) / 3600
    return base + int(math.ceil(hours * runtime.mem_mb_per_audio_hour))


# A captions road transcript: a track parsed in Python (measured under 100 MB), no model.
CAPTIONS_MEM_MB = 300


@dataclass(frozen=True)
class JobNeeds:
    """What a transcribe job asks the scheduler for: by its download's road, since a
    transcript made from captions runs no model (no GPU, one thread, little memory)."""

    threads: int
    mem_mb: int
    gpus: int


def job_needs(manifest_path: str | Path, audio_path: str | Path, model_name: str, runtime: TranscribeRuntime,
              threads: int) -> JobNeeds:  # fmt: skip
    """A transcribe job's needs from its download.json (Snakemake asks once the job is ready;
    before, the file is missing and the answer is the audio road's, the larger)."""
    manifest = atomic.read_json_or_empty(manifest_path)
    if roads.of_manifest(manifest) == roads.CAPTIONS:
        return JobNeeds(threads=1, mem_mb=CAPTIONS_MEM_MB, gpus=0)
    # No record yet: no audio either (nothing to probe); the length is unknown, an hour assumed.
    mem_mb = mem_mb_for(model_name, runtime, audio_seconds(manifest, audio_path) if manifest else None)
    # `device: auto` cannot know what a cluster node has: a GPU is asked for with `device: cuda`.
    return JobNeeds(threads=threads, mem_mb=mem_mb, gpus=int(runtime.device == "cuda"))


def audio_seconds(manifest: dict[str, Any], audio_path: str | Path) -> float | None:
    """The audio's duration: from download.json's record, else from the container; None if unknown."""
    try:
        duration = manifest.get("duration")
        if duration:
            return float(duration)
        import av  # PyAV loads FFmpeg's libraries: only when the manifest has no duration

        with av.open(str(audio_path)) as container:
            return container.duration / 1_000_000 if container.duration else None
    except Exception:  # a missing or unreadable file: the caller assumes a long one
        return None


def from_captions(vid: str, path: str | Path, manifest: dict[str, Any], writer: CaptionWriter) -> dict[str, Any]:
    """A transcript from the video's captions (as WebVTT: claimflow/download/captions.py),
    skipping Whisper: each spoken word once, however the track rolls, per-word times where the
    track has them (claimflow/transcribe/captions.py). Its `source` says which kind: human
    captions, or automatic ones (a site's speech recognition: no punctuation)."""
    track = read_track(path)
    segments = []
    for seg in track.segments:
        entry = {"id": len(segments) + 1, "start": seg.start, "end": seg.end, "text": seg.text,
                 "avg_logprob": None, "no_speech_prob": None}  # fmt: skip
        if seg.words:
            entry["words"] = [{"start": w.start, "end": w.end, "word": w.word} for w in seg.words]
        writer.add(entry)
        segments.append(entry)
    captions = manifest.get("captions") or {}
    served = captions.get("ext") or track.format
    rolled = f", {track.rolled} rolling cues collapsed" if track.rolled else ""
    log.info("%s: %d caption segments from %d cues (%s, %s%s); Whisper skipped", vid, len(segments), track.cues,
             captions.get("lang"), served, rolled)  # fmt: skip
    return {
        "vid": vid,
        "status": "ok" if segments else "no_speech",
        "reason": None if segments else "captions are empty",
        "source": f"{captions.get('kind') or 'human'} captions",
        "captions": {"lang": captions.get("lang"), "format": served, "cues": track.cues, "rolled": track.rolled},
        "language": captions.get("lang"),
        "duration": manifest.get("duration") or (segments[-1]["end"] if segments else 0.0),
        "model": None,
        "segments": segments,
    }


def empty_transcript(vid: str, status: str, reason: str | None, source: str) -> dict[str, Any]:
    return {"vid": vid, "status": status, "reason": reason, "source": source, "language": None,
            "duration": 0.0, "model": None, "segments": []}  # fmt: skip


def run(
    *,
    vid: str,
    audio: str | Path,
    manifest: dict[str, Any],
    settings: TranscribeResult,
    runtime: TranscribeRuntime,
    threads: int,
    outputs: dict[str, str],
    captions: str | Path | None = None,
    vocabulary: tuple[str, ...] = (),
    transcriber: Transcriber | None = None,
    gate_state: str | Path | None = None,
    gate_settings: CaptionsGate | None = None,
) -> dict[str, Any]:
    """Transcribe one video's audio into transcript.json, .srt, .vtt and .txt (atomically);
    with `prefer_captions` and human-made subtitles downloaded, use those instead. `vocabulary`:
    terms Whisper is told to expect (hotwords); recorded in the transcript for the miner.
    `transcriber`: what turns audio into a transcript (Whisper, unless given a stand-in)."""
    with contextlib.ExitStack() as stack:
        handles = {
            kind: stack.enter_context(atomic.atomic_open(outputs[kind], "w", encoding="utf-8"))
            for kind in ("srt", "vtt", "txt")
        }
        writer = CaptionWriter(handles["srt"], handles["vtt"], handles["txt"])
        has_captions = bool(captions and Path(captions).is_file() and Path(captions).stat().st_size)
        if manifest.get("status") != "ok":
            doc = empty_transcript(vid, manifest.get("status", "unavailable"), manifest.get("reason"), "none")
        elif manifest.get("road") == "captions" and not (settings.prefer_captions and has_captions):
            # No audio was downloaded for it (the captions road): say how to get some.
            raise RuntimeError(f"{vid} took the captions road (no audio was downloaded) and transcribe.prefer_captions "
                               f"is now off: to transcribe its audio, delete {Path(audio).parent}/download.json "
                               "and run the same command again")  # fmt: skip
        elif settings.prefer_captions and has_captions:
            doc = from_captions(vid, captions, manifest, writer)
        else:
            transcriber = transcriber or WhisperTranscriber(settings, runtime, threads)
            doc = transcriber(vid, audio, writer, vocabulary)
            if gate_state is not None and gate_settings is not None and manifest.get("gate_sample"):
                # A sample of its channel's automatic captions: measured against this transcript.
                doc["gate"] = gate.measure(vid, Path(audio).parent, manifest, doc, gate_state, gate_settings)
        doc["vocabulary"] = list(vocabulary)
        atomic.write_json(outputs["json"], doc)
    return doc
