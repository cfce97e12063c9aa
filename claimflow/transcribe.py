"""The transcribe stage: faster-whisper over the downloaded audio, streamed to outputs.

The model is loaded once per job. `device: auto` picks CUDA when CTranslate2 sees a GPU,
else the CPU; `compute_type: auto` picks float16 on GPU and int8 on CPU. `batch_size > 1`
uses faster-whisper's BatchedInferencePipeline. Segments are written to the caption files
as they are decoded, so memory does not grow with the length of the audio beyond the
segment list kept for transcript.json.
"""

from __future__ import annotations

import contextlib
import logging
import math
import time
from pathlib import Path
from typing import Any

from claimflow import atomic, speechcheck
from claimflow.models import BUNDLED_WHISPER, bundled_whisper_path
from claimflow.settings import TranscribeResult, TranscribeRuntime
from claimflow.subtitles import CaptionWriter, read_track
from claimflow.vocabulary import HOTWORD_TOKENS, hotwords

log = logging.getLogger(__name__)


def resolve_device(device: str, compute_type: str) -> tuple[str, str]:
    if device == "auto":
        import ctranslate2

        device = "cuda" if ctranslate2.get_cuda_device_count() > 0 else "cpu"
    if compute_type == "auto":
        compute_type = "float16" if device == "cuda" else "int8"
    return device, compute_type


def resolve_model(name: str) -> str:
    """`tiny.en` is the bundled offline copy; a directory is a local CTranslate2 model;
    any other name is a faster-whisper model name (fetched by faster-whisper itself)."""
    if name in (BUNDLED_WHISPER, "bundled"):
        return bundled_whisper_path()
    return str(Path(name).expanduser()) if Path(name).expanduser().is_dir() else name


def load_model(model_name: str, runtime: TranscribeRuntime, threads: int):  # noqa: ANN201 - model or pipeline
    from faster_whisper import BatchedInferencePipeline, WhisperModel

    device, compute_type = resolve_device(runtime.device, runtime.compute_type)
    model = WhisperModel(resolve_model(model_name), device=device, compute_type=compute_type, cpu_threads=threads)
    log.info("whisper %s on %s (%s, %d threads)", model_name, device, compute_type, threads)
    if runtime.batch_size > 1:
        return BatchedInferencePipeline(model=model)
    return model


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


def audio_seconds(manifest_path: str | Path, audio_path: str | Path) -> float | None:
    """The audio's duration: from download.json, else from the container; None if unknown."""
    try:
        duration = atomic.read_json(manifest_path).get("duration")
        if duration:
            return float(duration)
        import av

        with av.open(str(audio_path)) as container:
            return container.duration / 1_000_000 if container.duration else None
    except Exception:  # a missing or unreadable file: the caller assumes a long one
        return None


def from_captions(vid: str, path: str | Path, manifest: dict[str, Any], writer: CaptionWriter) -> dict[str, Any]:
    """A transcript from the video's human-made subtitles (WebVTT or SRT), skipping Whisper:
    each spoken word once, however the track rolls (claimflow/subtitles.py)."""
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
        "source": "captions",
        "captions": {"lang": captions.get("lang"), "format": served, "cues": track.cues, "rolled": track.rolled},
        "language": captions.get("lang"),
        "duration": manifest.get("duration") or (segments[-1]["end"] if segments else 0.0),
        "model": None,
        "segments": segments,
    }


def _warn_if_cut(model: Any, hotwords: str | None) -> None:
    """faster-whisper silently cuts hotwords to half its prompt window: say so."""
    tokenizer = getattr(model, "hf_tokenizer", None) or getattr(getattr(model, "model", None), "hf_tokenizer", None)
    if not hotwords or tokenizer is None:
        return
    tokens = len(tokenizer.encode(" " + hotwords).ids)
    if tokens >= HOTWORD_TOKENS:
        log.warning("vocabulary: %d tokens, and Whisper reads only the first %d; the terms after that are "
                    "ignored. Shorten the vocabulary (the most used terms first).", tokens, HOTWORD_TOKENS)  # fmt: skip


def provenance(settings: TranscribeResult, runtime: TranscribeRuntime, threads: int) -> dict[str, Any]:
    """What made a transcript: its result settings, and the device it ran on (runtime settings
    rerun nothing, so a batch moved to a GPU mixes both; this says which is which)."""
    from importlib.metadata import version

    device, compute_type = resolve_device(runtime.device, runtime.compute_type)
    return {"model": settings.model, "beam_size": settings.beam_size, "vad": settings.vad,
            "language": settings.language, "word_timestamps": settings.word_timestamps,
            "device": device, "compute_type": compute_type, "batch_size": runtime.batch_size,
            "threads": threads, "faster_whisper": version("faster-whisper")}  # fmt: skip


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
) -> dict[str, Any]:
    """Transcribe one video's audio into transcript.json, .srt, .vtt and .txt (atomically);
    with `prefer_captions` and human-made subtitles downloaded, use those instead. `vocabulary`:
    terms Whisper is told to expect (hotwords); recorded in the transcript for the miner."""
    with contextlib.ExitStack() as stack:
        handles = {
            kind: stack.enter_context(atomic.atomic_open(outputs[kind], "w", encoding="utf-8"))
            for kind in ("srt", "vtt", "txt")
        }
        writer = CaptionWriter(handles["srt"], handles["vtt"], handles["txt"])
        if manifest.get("status") != "ok":
            doc = empty_transcript(vid, manifest.get("status", "unavailable"), manifest.get("reason"), "none")
        elif settings.prefer_captions and captions and Path(captions).is_file() and Path(captions).stat().st_size:
            doc = from_captions(vid, captions, manifest, writer)
        else:
            doc = _transcribe(vid, audio, settings, runtime, threads, writer, vocabulary)
        doc["vocabulary"] = list(vocabulary)
        atomic.write_json(outputs["json"], doc)
    return doc


def _transcribe(vid: str, audio: str | Path, settings: TranscribeResult, runtime: TranscribeRuntime, threads: int,
                writer: CaptionWriter, vocabulary: tuple[str, ...] = ()) -> dict[str, Any]:  # fmt: skip
    model_name = settings.model
    model = load_model(model_name, runtime, threads)
    options: dict[str, Any] = {
        "beam_size": settings.beam_size,
        "vad_filter": settings.vad,
        "word_timestamps": settings.word_timestamps,
        "language": None if settings.language == "auto" else settings.language,
        # In every window's prompt (an initial_prompt scrolls out after a minute or two).
        "hotwords": hotwords(vocabulary),
    }
    if runtime.batch_size > 1:
        options["batch_size"] = runtime.batch_size
    _warn_if_cut(model, options["hotwords"])
    began = time.time()
    stream, info = model.transcribe(str(audio), **options)
    segments = []
    for number, seg in enumerate(stream, start=1):
        entry = {
            "id": number,
            "start": round(seg.start, 3),
            "end": round(seg.end, 3),
            "text": seg.text.strip(),
            "avg_logprob": round(seg.avg_logprob, 4),
            "no_speech_prob": round(seg.no_speech_prob, 4),
        }
        if seg.words:
            entry["words"] = [{"start": round(w.start, 3), "end": round(w.end, 3), "word": w.word} for w in seg.words]
        writer.add(entry)
        segments.append(entry)
    elapsed = time.time() - began
    log.info("%s: %d segments, %.1fs of audio in %.1fs", vid, len(segments), info.duration, elapsed)
    voiced = info.duration_after_vad if settings.vad else None
    verdict = speechcheck.judge(segments, model_name=model_name, language=settings.language, voiced_seconds=voiced,
                                audio=audio)  # fmt: skip
    if verdict.reason:
        log.warning("%s: %s", vid, verdict.reason)
    return {
        "vid": vid,
        "status": verdict.status,
        "reason": verdict.reason,
        "source": f"whisper:{model_name}",
        # An English-only model always says "en"; when the speech was not English, say unknown.
        "language": None if verdict.status == "not_english" else info.language,
        "language_probability": round(info.language_probability, 4),
        "duration": round(info.duration, 3),
        "model": model_name,
        "provenance": provenance(settings, runtime, threads),
        "transcribe_seconds": round(elapsed, 3),
        "segments": segments,
    }
