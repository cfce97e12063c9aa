"""What a transcript without usable English speech is: silence, music or noise, another
language. Whisper itself writes nothing for some such audio and confident-looking English for
the rest, so the transcribe stage judges its own output here before mining spends tokens on it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# An English-only model (`*.en`) reads any speech as English. On speech it understands, its
# segments' mean log-probability is high; on another language it is low. Measured with the
# bundled tiny.en on espeak-ng speech: English -0.20 to -0.43 (the demo clips), English full of
# made-up product names -0.59 (-0.34 with them as vocabulary), German -0.88 and -1.06 (-1.6 to
# -2.0 with a vocabulary), French -1.76 (every temperature fallback used). Whisper's own
# "decoding failed" line is -1.0; this one sits between the two groups.
ENGLISH_ONLY_MIN_LOGPROB = -0.7
# Below this level (dBFS, root mean square) the audio is silence, not quiet speech.
SILENCE_DBFS = -60.0


@dataclass(frozen=True)
class Verdict:
    status: str  # ok | no_speech | not_english
    reason: str | None


def english_only(model_name: str) -> bool:
    return Path(model_name).name.endswith(".en")


def mean_logprob(segments: list[dict[str, Any]]) -> float | None:
    """The segments' average log-probability, weighted by their duration."""
    weights = [(max(s["end"] - s["start"], 0.01), s["avg_logprob"]) for s in segments if s.get("text")]
    total = sum(w for w, _ in weights)
    return sum(w * lp for w, lp in weights) / total if total else None


def level_dbfs(audio: str | Path) -> float:
    """Root-mean-square level of the audio, decoded as Whisper decodes it (16 kHz mono)."""
    import numpy as np  # heavy: only where audio is measured
    from faster_whisper import decode_audio  # faster-whisper loads CTranslate2: only where a model runs

    samples = decode_audio(str(audio))
    rms = float(np.sqrt(np.mean(np.square(samples)))) if samples.size else 0.0
    return 20 * math.log10(rms) if rms > 0 else -math.inf


def judge(
    segments: list[dict[str, Any]],
    *,
    model_name: str,
    language: str,
    voiced_seconds: float | None,
    audio: str | Path,
) -> Verdict:
    """Whether the transcript holds speech worth mining, and if not, what the audio is and what
    to do. `voiced_seconds` is how much of the audio the VAD filter kept (None without VAD)."""
    if any(s.get("text") for s in segments):
        logprob = mean_logprob(segments)
        misread = english_only(model_name) and language in ("auto", "en")
        if misread and logprob is not None and logprob < ENGLISH_ONLY_MIN_LOGPROB:
            return Verdict("not_english", (
                f"probably not English: the English-only model {model_name} read this speech with a mean "
                f"log-probability of {logprob:.2f} (English reads above {ENGLISH_ONLY_MIN_LOGPROB}); set "
                f"transcribe.model to a multilingual model (e.g. small) to transcribe other languages"
            ))  # fmt: skip
        return Verdict("ok", None)
    level = level_dbfs(audio)
    if level < SILENCE_DBFS:
        return Verdict("no_speech", f"no speech: the audio is silent (level {level:.0f} dBFS)")
    if voiced_seconds is not None and voiced_seconds < 0.5:
        return Verdict("no_speech", f"no speech: the audio has sound (level {level:.0f} dBFS) but no voice "
                                    f"was detected in it: music or noise")  # fmt: skip
    hint = (
        f"another language than the English-only model {model_name} reads (set transcribe.model to a "
        f"multilingual model, e.g. small), singing, or noise"
        if english_only(model_name)
        else "singing, noise, or speech the model could not read"
    )
    voiced = f"{voiced_seconds:.0f} s of it sounded like a voice" if voiced_seconds is not None else "it has sound"
    return Verdict("no_speech", f"no speech transcribed: {voiced} (level {level:.0f} dBFS) but the model "
                                f"wrote no words: {hint}")  # fmt: skip
