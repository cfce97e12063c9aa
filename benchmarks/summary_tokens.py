"""What a summary costs an hour of speech: the summarize request of an hour-long transcript (800
segments of real sentences, STS-B's, about 15,000 words) with the bundled model, its tokens, and
their ratio to what mining and evaluation spend on an hour (39,767 tokens per audio hour,
measured through the whole workflow: benchmarks/README.md, llm_rate.py).

Run: .venv/bin/python benchmarks/summary_tokens.py [mining_tokens_per_hour=39767] [folder=../shared/wild/similarity]
"""

from __future__ import annotations

import csv
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from claimflow.core import settings  # noqa: E402
from claimflow.knowledge import summarize  # noqa: E402
from claimflow.llm import client as llm  # noqa: E402


def hour(folder: Path, segments: int = 800) -> dict:
    with (folder / "stsb_test.tsv").open(newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))
    sentences = [r["sentence1"].strip() for r in rows if r["sentence1"].strip()]
    step, n = 3600 / segments, len(sentences)
    return {"status": "ok", "segments": [{"id": i + 1, "start": i * step, "end": (i + 1) * step,
                                          "text": " ".join(sentences[2 * i % n : 2 * i % n + 2])}
                                         for i in range(segments)]}  # fmt: skip


def main(mining: str = "39767", folder: str = str(REPO.parent / "shared/wild/similarity")) -> None:
    transcript = hour(Path(folder))
    words = sum(len(s["text"].split()) for s in transcript["segments"])
    chosen = settings.load({"summarize": {"enabled": True}}).summarize
    with tempfile.TemporaryDirectory() as state:
        client = llm.from_config({"provider": "local", "max_tokens": 1500}, threads=2, state_dir=state)
        began = time.perf_counter()
        found = summarize.summarize("hour", transcript, "An hour of speech", client,
                                    transcript_chars=chosen.transcript_chars, key_points=chosen.key_points)  # fmt: skip
        took = time.perf_counter() - began
    usage = client.usage
    tokens = usage.prompt_tokens + usage.completion_tokens
    print(
        f"an hour: {len(transcript['segments'])} segments, {words:,} words; {found.segments_sent} segments sent "
        f"({chosen.transcript_chars:,} characters at most); status {found.status}"
    )
    print(
        f"summary request: {usage.requests} request(s), {usage.prompt_tokens:,} prompt + "
        f"{usage.completion_tokens:,} completion = {tokens:,} tokens in {took:.1f} s"
    )
    print(
        f"tokens per audio hour: mining and evaluation {int(mining):,}, with the summary {int(mining) + tokens:,} "
        f"({(int(mining) + tokens) / int(mining):.3f} x)"
    )


if __name__ == "__main__":
    main(*sys.argv[1:])
