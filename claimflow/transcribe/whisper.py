"""Whisper through faster-whisper: the model loaded once per job on the device and compute type
the runtime settings pick (`device: auto` is CUDA when CTranslate2 sees a GPU, else the CPU;
`compute_type: auto` is float16 on a GPU, int8 on a CPU; `batch_size > 1` is faster-whisper's
BatchedInferencePipeline), segments written to the caption files as they are decoded, and the
words judged (silence, music, another language: claimflow/transcribe/speechcheck.py)."""

from __future__ import annotations

import logging
import time
from importlib.metadata import version
from pathlib import Path
from typing import Any

from claimflow.batch.vocabulary import HOTWORD_TOKENS, hotwords
from claimflow.core.models import BUNDLED_WHISPER, bundled_whisper_path
from claimflow.core.settings import TranscribeResult, TranscribeRuntime
from claimflow.transcribe import speechcheck
from claimflow.transcribe.captions import CaptionWriter

log = logging.getLogger(__name__)


def resolve_device(device: str, compute_type: str) -> tuple[str, str]:
    if device == "auto":
        import ctranslate2  # CTranslate2 loads its CUDA libraries: only where a model runs

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
    from faster_whisper import BatchedInferencePipeline, WhisperModel  # heavy: only where a model runs

    device, compute_type = resolve_device(runtime.device, runtime.compute_type)
    model = WhisperModel(resolve_model(model_name), device=device, compute_type=compute_type, cpu_threads=threads)
    log.info("whisper %s on %s (%s, %d threads)", model_name, device, compute_type, threads)
    if runtime.batch_size > 1:
        return BatchedInferencePipeline(model=model)
    return model


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
    device, compute_type = resolve_device(runtime.device, runtime.compute_type)
    return {"model": settings.model, "beam_size": settings.beam_size, "vad": settings.vad,
            "language": settings.language, "word_timestamps": settings.word_timestamps,
            "device": device, "compute_type": compute_type, "batch_size": runtime.batch_size,
            "threads": threads, "faster_whisper": version("faster-whisper")}  # fmt: skip


class WhisperTranscriber:
    """The transcribe stage's real part: `transcriber(vid, audio, writer, vocabulary)` is the
    transcript's document (without its vocabulary, which the stage adds)."""

    def __init__(self, settings: TranscribeResult, runtime: TranscribeRuntime, threads: int):
        self.settings, self.runtime, self.threads = settings, runtime, threads

    def __call__(self, vid: str, audio: str | Path, writer: CaptionWriter,
                 vocabulary: tuple[str, ...] = ()) -> dict[str, Any]:  # fmt: skip
        return _transcribe(vid, audio, self.settings, self.runtime, self.threads, writer, vocabulary)


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
        "source": f"whisper {model_name}",
        # An English-only model always says "en"; when the speech was not English, say unknown.
        "language": None if verdict.status == "not_english" else info.language,
        "language_probability": round(info.language_probability, 4),
        "duration": round(info.duration, 3),
        "model": model_name,
        "provenance": provenance(settings, runtime, threads),
        "transcribe_seconds": round(elapsed, 3),
        "segments": segments,
    }
