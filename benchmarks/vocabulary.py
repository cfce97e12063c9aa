"""Vocabulary: term recall of faster-whisper with `hotwords` against `initial_prompt`.

Two clips: tests/fixtures/products.ogg (22 s of espeak-ng speech, four made-up product names,
each said twice) and a long one, the demo clips twice (about three minutes of speech) followed by
the products clip, so the names come after Whisper's prompt window has moved on. Each is
transcribed without a vocabulary, with the names as `hotwords`, and with them as
`initial_prompt`; reported: how many of the names' occurrences the transcript spells right.

Run: .venv/bin/python benchmarks/vocabulary.py [model=tiny.en]   (another model: its name or a
CTranslate2 folder; `small` needs the Hugging Face hub, which this project's machines cannot reach)
"""

from __future__ import annotations

import sys
import tempfile
import wave
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
TERMS = ("Kubrelix", "Quorvium", "Datavoxa", "Zentrovax")


def recall(text: str) -> int:
    return sum(text.lower().count(term.lower()) for term in TERMS)


def long_clip(folder: Path) -> Path:
    from faster_whisper import decode_audio

    demo = sorted((REPO / "demo").glob("*.ogg"))
    parts = [decode_audio(str(p)) for p in demo * 2] + [decode_audio(str(REPO / "tests/fixtures/products.ogg"))]
    audio = np.concatenate(parts)
    path = folder / "long.wav"
    with wave.open(str(path), "wb") as handle:
        handle.setnchannels(1)
        handle.setsampwidth(2)
        handle.setframerate(16_000)
        handle.writeframes((np.clip(audio, -1, 1) * 32767).astype("<i2").tobytes())
    return path


def main(model_name: str = "tiny.en") -> None:
    from faster_whisper import WhisperModel

    from claimflow.batch.vocabulary import hotwords
    from claimflow.transcribe.whisper import resolve_model

    model = WhisperModel(resolve_model(model_name), device="cpu", compute_type="int8", cpu_threads=2)
    variants = {
        "none": {},
        "hotwords": {"hotwords": hotwords(TERMS)},
        "initial_prompt": {"initial_prompt": ", ".join(TERMS) + "."},
    }
    with tempfile.TemporaryDirectory() as tmp:
        clips = {
            "short (22 s)": REPO / "tests/fixtures/products.ogg",
            "long (names after ~3 min)": long_clip(Path(tmp)),
        }
        print(f"model {model_name}: occurrences of {', '.join(TERMS)} spelled right")
        print(f"{'clip':28} " + " ".join(f"{v:>15}" for v in variants))
        for label, clip in clips.items():
            found = []
            for options in variants.values():
                segments, _ = model.transcribe(str(clip), beam_size=5, vad_filter=True, **options)
                found.append(recall(" ".join(s.text for s in segments)))
            print(f"{label:28} " + " ".join(f"{n:>13}/8" for n in found))


if __name__ == "__main__":
    main(*sys.argv[1:2])
