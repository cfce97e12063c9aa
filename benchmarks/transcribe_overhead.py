"""Transcription overhead: the transcribe rule against bare faster-whisper, alternating.

One long file (the demo clips concatenated to about an hour of speech, Opus) is transcribed
by (a) the real transcribe rule through Snakemake, measured by the rule's own `benchmark:`
file, and (b) bare faster-whisper with the same model and settings in a fresh Python
process, timed around that process. The
runs alternate so drift on a shared machine hits both. Reported: the ratio of wall times
(goal at most 1.05) and of peak RSS. Peak RSS is the kernel's own high-water mark
(getrusage of the finished process tree, read in a fresh intermediate process per run),
since the benchmark instrument samples too rarely to catch short peaks.

Run: .venv/bin/python benchmarks/transcribe_overhead.py [minutes=60] [rounds=2]
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import av

REPO = Path(__file__).resolve().parent.parent
THREADS = 2
BARE = """
from faster_whisper import WhisperModel
from claimflow.core.models import bundled_whisper_path
model = WhisperModel(bundled_whisper_path(), device="cpu", compute_type="int8", cpu_threads={threads})
segments, info = model.transcribe({audio!r}, beam_size=5, vad_filter=True, word_timestamps=False, language=None)
print(sum(1 for _ in segments))
"""


def long_speech(path: Path, minutes: float) -> float:
    """Concatenate the demo clips (decoded) into one Opus file of about `minutes`."""
    clips = sorted((REPO / "demo").glob("*.ogg"))
    with av.open(str(path), "w", format="ogg") as out:
        stream = out.add_stream("libopus", rate=48_000)
        stream.bit_rate = 24_000
        resampler = av.AudioResampler(format="s16", layout="mono", rate=48_000)
        written, pts = 0.0, 0
        while written < minutes * 60:
            for clip in clips:
                with av.open(str(clip)) as src:
                    for frame in src.decode(audio=0):
                        for chunk in resampler.resample(frame):
                            chunk.pts = pts
                            pts += chunk.samples
                            for packet in stream.encode(chunk):
                                out.mux(packet)
                written = pts / 48_000
        for packet in stream.encode(None):
            out.mux(packet)
    return written


PEAK = "import resource, subprocess, sys; subprocess.run(sys.argv[1:], check=True, capture_output=True); " \
       "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"  # fmt: skip


def peak_rss_mb(command: list[str]) -> float:
    """Run `command`; the largest RSS any process of its tree reached, in MB (kernel-measured)."""
    out = subprocess.run([sys.executable, "-c", PEAK, *command], check=True, capture_output=True, text=True)
    return int(out.stdout.strip()) / 1024


def run_rule(workdir: Path, audio: Path) -> dict:
    vid = f"file-{audio.stem}"
    results = workdir / "results" / vid
    for name in ("transcript.json", "transcript.srt", "transcript.vtt", "transcript.txt"):
        (results / name).unlink(missing_ok=True)
    bench = workdir / "results/benchmarks/transcribe" / f"{vid}.tsv"
    bench.unlink(missing_ok=True)
    command = [sys.executable, "-m", "snakemake", f"results/{vid}/transcript.json", "--snakefile",
               str(REPO / "Snakefile"), "--directory", str(workdir), "--profile", str(REPO / "profiles/local"),
               "-j", str(THREADS), "--configfile", str(workdir / "config.yaml")]  # fmt: skip
    peak = peak_rss_mb(command)
    header, row = bench.read_text().splitlines()[:2]
    record = dict(zip(header.split("\t"), row.split("\t"), strict=True))
    return {"s": float(record["s"]), "max_rss": peak}


def run_bare(audio: Path) -> dict:
    # Wall time around the intermediate process: the bare run's own time plus one interpreter
    # start (~0.05 s), a bias in the rule's favour of well under 0.1% on an hour of audio.
    began = time.perf_counter()
    peak = peak_rss_mb([sys.executable, "-c", BARE.format(threads=THREADS, audio=str(audio))])
    return {"s": time.perf_counter() - began, "max_rss": peak}


def main(minutes: float = 60, rounds: int = 2) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        audio = workdir / "hour.ogg"
        seconds = long_speech(audio, minutes)
        results = workdir / "results" / f"file-{audio.stem}"
        results.mkdir(parents=True)
        (results / "audio").write_bytes(audio.read_bytes())
        (results / "download.json").write_text(json.dumps({"vid": results.name, "status": "ok"}))
        (results / "captions.vtt").write_text("")
        config = {"sources": [str(audio)], "accounts": [{"name": "a"}]}
        (workdir / "config.yaml").write_text(json.dumps(config))
        time.sleep(1)  # inputs strictly older than outputs
        rule, bare = [], []
        for _ in range(int(rounds)):
            rule.append(run_rule(workdir, audio))
            bare.append(run_bare(audio))
        segments = len(json.loads((results / "transcript.json").read_text())["segments"])
    report = {
        "audio_minutes": round(seconds / 60, 1),
        "segments": segments,
        "rounds": int(rounds),
        "rule_s": [round(r["s"], 1) for r in rule],
        "bare_s": [round(b["s"], 1) for b in bare],
        "wall_ratio": round(statistics.mean(r["s"] for r in rule) / statistics.mean(b["s"] for b in bare), 4),
        "rule_max_rss_mb": [round(r["max_rss"]) for r in rule],
        "bare_max_rss_mb": [round(b["max_rss"]) for b in bare],
        "peak_rss_ratio": round(max(r["max_rss"] for r in rule) / max(b["max_rss"] for b in bare), 4),
        "realtime_factor": round(seconds / statistics.mean(b["s"] for b in bare), 1),
    }
    print(json.dumps(report, indent=2))
    return report


if __name__ == "__main__":
    main(*(float(a) for a in sys.argv[1:]))
