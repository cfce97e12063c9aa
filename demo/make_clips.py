"""Regenerate the bundled demo clips: espeak-ng speech, encoded to Opus in Ogg with PyAV.

Run from the repository root: `.venv/bin/python demo/make_clips.py [folder]` (default `demo`:
the clips of `<folder>/texts/*.txt` into `<folder>`; tests/fixtures/linking holds the linking
test's). The texts are kept so tests can measure transcription accuracy against what was spoken.
"""

import subprocess
import sys
import tempfile
from pathlib import Path

import av

DEMO = Path(__file__).resolve().parent


def encode_opus(wav: Path, out: Path, bitrate: int = 24_000) -> None:
    tmp = out.with_suffix(".tmp")
    with av.open(str(wav)) as src, av.open(str(tmp), "w", format="ogg") as dst:
        stream = dst.add_stream("libopus", rate=48_000)
        stream.bit_rate = bitrate
        resampler = av.AudioResampler(format="s16", layout="mono", rate=48_000)
        for frame in src.decode(audio=0):
            for resampled in resampler.resample(frame):
                for packet in stream.encode(resampled):
                    dst.mux(packet)
        for resampled in resampler.resample(None):
            for packet in stream.encode(resampled):
                dst.mux(packet)
        for packet in stream.encode(None):
            dst.mux(packet)
    tmp.replace(out)


def main(folder: Path = DEMO) -> int:
    for text_file in sorted((folder / "texts").glob("*.txt")):
        out = folder / f"{text_file.stem}.ogg"
        with tempfile.TemporaryDirectory() as tmp:
            wav = Path(tmp) / "speech.wav"
            subprocess.run(
                ["espeak-ng", "-v", "en-us", "-s", "150", "-w", str(wav), "-f", str(text_file)],
                check=True,
            )
            encode_opus(wav, out)
        print(f"{out.name}: {out.stat().st_size} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main(*(Path(a) for a in sys.argv[1:])))
