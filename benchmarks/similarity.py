"""Which claims are "the same claim": the bundled embedding's threshold, chosen and checked on
human-judged sentence pairs (the wild set's STS-B test and SICK test: ../shared/wild/similarity).

STS-B pairs scored 0-5 by people: "same" at 4.0 and above, "different" at 3.0 and below
("some important information differs"; between: neither). The threshold is chosen on the
even-numbered pairs (the highest recall at a
precision of at least 0.95: a wrong merge hides a claim, a missed one leaves a duplicate row) and
reported on the odd-numbered ones; SICK's two-way entailments as "same" and its neutral and
contradicting pairs as "different" show what a static embedding cannot tell (a contradiction
reads like its claim), which is why contradictions go to the LLM. Also: Spearman's rho against
the human scores, float32 against the int8 vectors the index stores, and the embedding's speed.

Run: .venv/bin/python benchmarks/similarity.py [model=wordllama] [folder=../shared/wild/similarity]
(model: a link.embedding name, claimflow/knowledge/embed.py MODELS)
"""

from __future__ import annotations

import csv
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from claimflow.knowledge import embed  # noqa: E402

# STS-B's 3 is "roughly equivalent, some important information differs": a claim that differs in
# what matters is another claim, so everything up to 3 counts as different (3-4: neither).
DIFFERENT = 3.0


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))


def _spearman(a: np.ndarray, b: np.ndarray) -> float:
    ra, rb = np.argsort(np.argsort(a)), np.argsort(np.argsort(b))
    return float(np.corrcoef(ra, rb)[0, 1])


def _pr(cos: np.ndarray, same: np.ndarray, threshold: float) -> tuple[float, float]:
    said = cos >= threshold
    hits = int((said & same).sum())
    return hits / max(1, int(said.sum())), hits / max(1, int(same.sum()))


def main(name: str = "wordllama", folder: str = str(REPO.parent / "shared/wild/similarity")) -> None:
    started = time.perf_counter()
    model = embed.embedder(name)
    loaded = time.perf_counter() - started
    sts = _rows(Path(folder) / "stsb_test.tsv")
    left = [r["sentence1"] for r in sts]
    right = [r["sentence2"] for r in sts]
    started = time.perf_counter()
    a, b = model.embed(left), model.embed(right)
    took = time.perf_counter() - started
    scores = np.array([float(r["score"]) for r in sts])
    cos = (a * b).sum(axis=1)
    qa, qb = embed.quantize(a), embed.quantize(b)
    icos = embed.cosine((qa.astype(np.int64) * qb.astype(np.int64)).sum(axis=1))
    print(f"{name} {model.model.identity}: loaded in {loaded:.2f} s; {2 * len(sts)} sentences in {took:.2f} s")
    print(f"STS-B test ({len(sts)} pairs): Spearman {_spearman(cos, scores):.3f} (float32), "
          f"{_spearman(icos, scores):.3f} (int8); int8 moves a cosine by {np.abs(icos - cos).mean():.4f} "
          f"on average, {np.abs(icos - cos).max():.4f} at most")  # fmt: skip
    judged = (scores >= 4.0) | (scores <= DIFFERENT)
    same = scores >= 4.0
    even = judged & (np.arange(len(sts)) % 2 == 0)
    odd = judged & (np.arange(len(sts)) % 2 == 1)
    best = None
    for threshold in np.arange(0.50, 0.96, 0.01):
        precision, recall = _pr(icos[even], same[even], threshold)
        if precision >= 0.95 and (best is None or recall > best[2]):
            best = (round(float(threshold), 2), precision, recall)
    assert best is not None
    threshold = best[0]
    precision, recall = _pr(icos[odd], same[odd], threshold)
    print(f"threshold chosen on the even pairs: {threshold:.2f} (precision {best[1]:.3f}, recall {best[2]:.3f}); "
          f"on the odd pairs: precision {precision:.3f}, recall {recall:.3f}")  # fmt: skip
    for t in (0.70, 0.75, 0.80, 0.85):
        p, r = _pr(icos[odd], same[odd], t)
        print(f"  at {t:.2f} on the odd pairs: precision {p:.3f}, recall {r:.3f}")
    sick = _rows(Path(folder) / "sick_test.tsv")
    sa = embed.quantize(model.embed([r["sentence1"] for r in sick]))
    sb = embed.quantize(model.embed([r["sentence2"] for r in sick]))
    scos = embed.cosine((sa.astype(np.int64) * sb.astype(np.int64)).sum(axis=1))
    both = np.array([r["entailment_AB"] == "A_entails_B" and r["entailment_BA"] == "B_entails_A" for r in sick])
    contra = np.array([r["entailment_label"] == "CONTRADICTION" for r in sick])
    p, r = _pr(scos, both, threshold)
    near_negations = int((scos[contra] >= threshold).sum())
    print(f"SICK test ({len(sick)} pairs, {int(both.sum())} two-way entailments): at {threshold:.2f} "
          f"precision {p:.3f}, recall {r:.3f}; contradictions at or above it: {near_negations} of "
          f"{int(contra.sum())} (an embedding cannot tell a claim from its negation)")  # fmt: skip
    # The link's negation rule (embed.negated): a pair at the threshold whose negation differs is
    # no edge but a candidate pair judged "contradicts" by rule.
    labels = np.array([r["entailment_label"] for r in sick])
    flipped = np.array([embed.negated(r["sentence1"]) != embed.negated(r["sentence2"]) for r in sick])
    ruled = (scos >= threshold) & flipped
    told = {label: int((ruled & (labels == label)).sum()) for label in ("CONTRADICTION", "NEUTRAL", "ENTAILMENT")}
    kept = (scos >= threshold) & ~flipped
    print(f"  the negation rule: {int(ruled.sum())} pairs at or above {threshold:.2f} differ in saying no: {told} "
          f"(precision of 'contradicts' {told['CONTRADICTION'] / max(1, int(ruled.sum())):.3f}); two-way entailments "
          f"that lose their link {int((ruled & both).sum())}; "
          f"'same' precision {int((kept & both).sum()) / max(1, int(kept.sum())):.3f} "
          f"(without the rule {p:.3f}), recall {int((kept & both).sum()) / max(1, int(both.sum())):.3f}")  # fmt: skip
    sts_flipped = np.array([embed.negated(x) != embed.negated(y) for x, y in zip(left, right, strict=True)])
    p2, r2 = _pr(np.where(sts_flipped, -1.0, icos)[odd], same[odd], threshold)
    print(f"  STS-B odd pairs with the rule: precision {p2:.3f}, recall {r2:.3f}; pairs at or above {threshold:.2f} "
          f"that differ in saying no: {int(((icos >= threshold) & sts_flipped).sum())}")  # fmt: skip


if __name__ == "__main__":
    main(*sys.argv[1:])
